"""A course's own assignment through the CLI, as a TA uses it: the self-test, the Gradescope zip run
end to end, and ``conventions.array = "numpy"`` (a copy of two-layer-softmax in a tmp folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.definition import BUILT_IN

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions" / "two-layer-softmax"
CHECKS = ["forward", "loss", "dW2", "db2", "dW1", "db1"]


def _invoke(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output.splitlines()


# ---------------------------------------------------------------- (a) selftest --assignment


def test_selftest_of_a_correct_submission_passes_every_check_and_exits_0() -> None:
    code, lines = _invoke("selftest", str(SUBMISSIONS / "correct_vectorized.py"), "--assignment", "two-layer-softmax")
    assert code == 0, lines
    assert lines[0] == "gradproof self-test: correct_vectorized.py (assignment two-layer-softmax)"
    assert [line.split()[:2] for line in lines if line.startswith("  PASS")] == [["PASS", c] for c in CHECKS]
    assert lines[-1] == "6 of 6 visible checks pass (8 of 8 points)."


def test_selftest_of_a_transposed_gradient_fails_that_check_with_its_diagnosis_and_exits_1() -> None:
    code, lines = _invoke("selftest", str(SUBMISSIONS / "bug_dW2_transposed.py"), "--assignment", "two-layer-softmax")
    assert code == 1, lines
    assert "  FAIL    dW2      0/2" in lines
    assert "        dW2 has shape (3, 6); expected (6, 3) on inputs the grader chose." in lines
    assert (
        "        Likely mistake: dW2 has shape (3, 6), the transpose of (6, 3), the shape of W2: check the order of"
        " the matrix product." in lines
    )
    assert sum(line.startswith("  PASS") for line in lines) == 5
    assert lines[-1] == "5 of 6 visible checks pass (6 of 8 points)."


def test_selftest_with_an_unknown_assignment_is_a_usage_error() -> None:
    code, lines = _invoke("selftest", str(SUBMISSIONS / "correct_vectorized.py"), "--assignment", "no-such-hw")
    assert code == 2
    assert any("assignment='no-such-hw': no such folder, file or built-in assignment" in line for line in lines)


# ---------------------------------------------------------------- (b) gradescope build --assignment


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gs") / "autograder.zip"
    code, lines = _invoke("gradescope", "build", "--assignment", "two-layer-softmax", "-o", str(out))
    assert code == 0, lines
    return out


def test_the_zip_carries_the_assignment_folder_without_its_solution(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as zf:
        names = zf.namelist()
        assert names[:2] == ["setup.sh", "run_autograder"]
        folder = sorted(n for n in names if n.startswith("assignment/"))
        assert folder == ["assignment/assignment.toml", "assignment/reference.py"]
        assert "spec.toml" not in names and not any(Path(n).stem == "solution" for n in names)
        assert (
            zf.read("assignment/assignment.toml") == (BUILT_IN / "two-layer-softmax" / "assignment.toml").read_bytes()
        )
        assert '--assignment "$ROOT/source/assignment"' in zf.read("run_autograder").decode()


def _run_zip(zip_path: Path, root: Path, submission: Path) -> dict[str, Any]:
    """What Gradescope does: the zip in ROOT/source, run_autograder at ROOT, the file in ROOT/submission;
    the bundled wheel installed (offline, no dependencies) ahead of this checkout."""
    source, site = root / "source", root / "site"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(source)
        for info in zf.infolist():  # zipfile does not restore permissions
            os.chmod(source / info.filename, (info.external_attr >> 16) & 0o777)
    wheel = next(source.glob("gradproof-*.whl"))
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check"]
    subprocess.run([*pip, "--target", str(site), str(wheel)], check=True)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    shutil.copy(submission, root / "submission" / submission.name)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "PYTHONPATH": str(site),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    done = subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stdout + done.stderr
    data: dict[str, Any] = json.loads((root / "results" / "results.json").read_text())
    return data


@pytest.fixture(scope="module")
def zip_results(autograder_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("gs-run") / "autograder"
    return _run_zip(autograder_zip, root, SUBMISSIONS / "bug_db1_no_sum.py")


def test_the_zips_grading_entry_grades_with_the_assignments_checks(zip_results: dict[str, Any]) -> None:
    data = zip_results
    tests = {t["name"].split(":")[0]: t for t in data["tests"]}  # "dW2: <title>"
    assert list(tests) == CHECKS
    assert {n: t["max_score"] for n, t in tests.items()} == {
        "forward": 1,
        "loss": 1,
        "dW2": 2,
        "db2": 1,
        "dW1": 2,
        "db1": 1,
    }
    assert [n for n, t in tests.items() if t["status"] == "failed"] == ["db1"]
    assert tests["db1"]["score"] == 0 and "db1" in tests["db1"]["output"]
    assert data["score"] == 7
    assert "two-layer-softmax" in data["output"]


def test_a_course_assignments_gradescope_tests_are_not_titled_as_mlp_4_3_1s(zip_results: dict[str, Any]) -> None:
    data = zip_results
    names = [t["name"] for t in data["tests"]]
    assert not any("Y_cap" in n or "(E)" in n for n in names), names  # "forward: forward pass (Y_cap)"


def test_the_bundled_wheel_carries_no_solution_either(autograder_zip: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as zf:
        wheel = next(n for n in zf.namelist() if n.endswith(".whl"))
        zf.extract(wheel, tmp_path)
    with zipfile.ZipFile(tmp_path / wheel) as whl:
        assert not [n for n in whl.namelist() if Path(n).stem == "solution"]


def test_a_solution_named_in_the_spec_stays_out_of_the_zip(tmp_path: Path) -> None:
    home = tmp_path / "hw"
    shutil.copytree(BUILT_IN / "two-layer-softmax", home)
    (home / "solution.py").rename(home / "key.py")
    spec = home / "assignment.toml"
    spec.write_text(spec.read_text().replace('style = "functions"', 'style = "functions"\nsolution = "key.py"', 1))
    code, lines = _invoke("gradescope", "build", "--assignment", str(home), "-o", str(tmp_path / "a.zip"))
    assert code == 0, lines
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert "assignment/key.py" not in zf.namelist()


# ---------------------------------------------------------------- (c) conventions.array = "numpy"

NUMPY_SUBMISSION = """import numpy as np


def two_layer_forward(X, W1, b1, W2, b2):
    return np.maximum(X @ W1 + b1, 0) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    assert isinstance(X, np.ndarray) and X.dtype == np.float64 and y.dtype == np.int64
    N = X.shape[0]
    h = X @ W1 + b1
    a = np.maximum(h, 0)
    scores = a @ W2 + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean()
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dh = (dscores @ W2.T) * (h > 0)
    return float(loss), {"W1": X.T @ dh, "b1": dh.sum(0), "W2": a.T @ dscores, "b2": dscores.sum(0)}
"""


@pytest.fixture(scope="module")
def numpy_variant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """two-layer-softmax with ``conventions.array = "numpy"``; the course's solution replaced by a numpy one."""
    home = tmp_path_factory.mktemp("np") / "two-layer-numpy"
    shutil.copytree(BUILT_IN / "two-layer-softmax", home)
    spec = home / "assignment.toml"
    text = spec.read_text()
    assert 'array = "torch"' in text
    text = text.replace('name = "two-layer-softmax"', 'name = "two-layer-numpy"', 1)
    spec.write_text(text.replace('array = "torch"', 'array = "numpy"', 1))
    (home / "solution.py").write_text(NUMPY_SUBMISSION)
    return home


def test_a_numpy_assignment_gives_a_numpy_submission_full_marks(numpy_variant: Path) -> None:
    code, lines = _invoke("assignment", "check", str(numpy_variant))
    assert code == 0, lines
    assert [line.split()[:2] for line in lines if line.startswith("  pass")] == [["pass", c] for c in CHECKS]
    assert lines[-1] == "ok: solution.py scores 8 of 8"


def test_a_numpy_assignment_hands_a_torch_only_submission_numpy_arrays(numpy_variant: Path) -> None:
    """The torch code gets numpy arrays and raises; the first step's error is every check's."""
    code, lines = _invoke("selftest", str(SUBMISSIONS / "correct_vectorized.py"), "--assignment", str(numpy_variant))
    assert code == 1, lines
    assert lines[0] == "gradproof self-test: correct_vectorized.py (assignment two-layer-numpy)"
    errors = [line for line in lines if line.startswith("  ERROR")]
    assert [line.split()[1] for line in errors] == CHECKS
    said = "        two_layer_forward() raised TypeError: zeros(): argument 'dtype' must be torch.dtype"
    assert sum(line.startswith(said) for line in lines) == len(CHECKS)
    assert lines[-1] == "0 of 6 visible checks pass (0 of 8 points)."


def test_the_torch_assignment_hands_the_numpy_submission_tensors(numpy_variant: Path) -> None:
    code, lines = _invoke("selftest", str(numpy_variant / "solution.py"), "--assignment", "two-layer-softmax")
    assert code == 1, lines
    assert "  PASS    forward  1/1" in lines  # numpy's maximum and @ take tensors
    assert any(line.startswith("  ERROR   loss") for line in lines)
    assert lines[-1] == "1 of 6 visible checks pass (1 of 8 points)."
