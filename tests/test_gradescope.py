"""Gradescope: the autograder zip, and the whole flow run end to end in a temporary AUTOGRADER_ROOT."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness.course.gradescope import HIDDEN_OUTPUT, build, find_submission, results, validate_results
from harness.records.assignment import Assignment
from harness.spec import default_spec_text, parse_spec

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"
HIDDEN_SPEC = """
[assignment]
name = "backprop-hw"

[checks.dE_dW2]
points = 4
visibility = "hidden"

[checks.update]
visibility = "after_due_date"
"""


def schema_problems(data: Any) -> list[str]:
    """Gradescope's results.json format, checked independently of the module under test."""
    problems = validate_results(data)
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        return problems + ["tests missing"]
    for key, kind in (("score", (int, float)), ("execution_time", (int, float)), ("output", str)):
        if not isinstance(data.get(key), kind):
            problems.append(f"{key} missing or of the wrong type")
    for test in data["tests"]:
        for key in ("name", "score", "max_score", "status", "output", "visibility"):
            if key not in test:
                problems.append(f"a test has no {key}")
        if test.get("score", 0) > test.get("max_score", 0):
            problems.append(f"{test.get('name')}: score above max_score")
    if abs(sum(t["score"] for t in data["tests"]) - data.get("score", -1)) > 1e-9:
        problems.append("score is not the sum of the tests' scores")
    return problems


@pytest.fixture(scope="module")
def zip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("gradescope")
    spec = base / "spec.toml"
    spec.write_text(HIDDEN_SPEC)
    path = base / "autograder.zip"
    build(path, spec)
    return path


@pytest.fixture(scope="module")
def site(zip_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled wheel, installed by pip (offline, no dependencies) into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(zip_path) as zf:
        wheel = next(n for n in zf.namelist() if n.endswith(".whl"))
        zf.extract(wheel, target.parent / "wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(target.parent / "wheel" / wheel),
        ],
        check=True,
    )
    return target


def _lay_out(zip_path: Path, root: Path, submission: str | None) -> None:
    """What Gradescope does: the zip in ROOT/source, run_autograder copied to ROOT, the submission in ROOT/submission."""
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile does not restore permissions
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    if submission:
        shutil.copy(SUBMISSIONS / submission, root / "submission" / submission)


def _run_autograder(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "PYTHONPATH": str(site),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    return subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300, cwd="/")


@pytest.fixture(scope="module")
def graded(zip_path: Path, site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("autograder")
    _lay_out(zip_path, root, "bug_sign_flip_dW2.py")
    done = _run_autograder(root, site)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"root": root, "stdout": done.stdout, "results": json.loads((root / "results" / "results.json").read_text())}


def test_the_zip_has_setup_and_run_autograder_at_its_root_executable(zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        assert names[:3] == ["setup.sh", "run_autograder", "spec.toml"]
        assert len(names) == 4 and names[3].startswith("gradproof-") and names[3].endswith("-py3-none-any.whl")
        for name in ("setup.sh", "run_autograder"):
            mode = zf.getinfo(name).external_attr >> 16
            assert mode & stat.S_IXUSR, name
            assert zf.read(name).startswith(b"#!/usr/bin/env bash\n")
        assert zf.read("spec.toml").decode() == HIDDEN_SPEC


def test_the_scripts_are_valid_bash(zip_path: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path)
    for name in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(tmp_path / name)], check=True)


def test_setup_installs_torch_then_the_bundled_wheel(zip_path: Path) -> None:
    with zipfile.ZipFile(zip_path) as zf:
        setup = zf.read("setup.sh").decode()
    assert setup.index("torch>=2.1,<3") < setup.index('"$SOURCE"/gradproof-*.whl')


def test_the_zip_is_the_same_for_the_same_inputs(zip_path: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    build(again, zip_path.parent / "spec.toml")
    assert again.read_bytes() == zip_path.read_bytes()


def test_the_default_zip_carries_the_default_spec(tmp_path: Path) -> None:
    build(tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.read("spec.toml").decode() == default_spec_text()


def test_the_bundled_wheel_installs_with_pip_and_carries_the_spec_and_the_entry_points(site: Path) -> None:
    assert (site / "harness" / "cli.py").is_file() and (site / "reference" / "__init__.py").is_file()
    assert (site / "harness" / "assignments" / "mlp-4-3-1" / "assignment.toml").is_file()
    info = next(site.glob("gradproof-*.dist-info"))
    entry_points = (info / "entry_points.txt").read_text()
    assert "gradproof = harness.cli:run" in entry_points and "gradproof = harness.pytest_plugin" in entry_points
    assert "Requires-Dist: torch" in (info / "METADATA").read_text()


def test_run_autograder_writes_results_json_that_gradescope_accepts(graded: dict[str, Any]) -> None:
    data = graded["results"]
    assert schema_problems(data) == []
    assert data["score"] == 7.0 and data["stdout_visibility"] == "hidden"
    assert [
        (t["name"].split(":")[0], t["status"], t["score"], t["max_score"], t["visibility"]) for t in data["tests"]
    ] == [
        ("forward", "passed", 2.0, 2.0, "visible"),
        ("loss", "passed", 1.0, 1.0, "visible"),
        ("dE_dW2", "failed", 0.0, 4.0, "hidden"),
        ("dE_dW1", "passed", 3.0, 3.0, "visible"),
        ("update", "passed", 1.0, 1.0, "after_due_date"),
    ]
    assert graded["stdout"].startswith("score 7; 4 of 5 tests passed; results in ")


def test_a_hidden_checks_details_never_reach_the_student(graded: dict[str, Any]) -> None:
    data = graded["results"]
    hidden = next(t for t in data["tests"] if t["name"].startswith("dE_dW2"))
    assert hidden["output"] == HIDDEN_OUTPUT
    text = json.dumps(data)
    assert "opposite sign" not in text and "sign-flip" not in text and "0.244" not in text


def test_a_visible_failing_check_carries_its_diagnosis(site: Path, zip_path: Path, tmp_path: Path) -> None:
    data = results(
        {
            "status": "graded",
            "notes": [],
            "checks": [
                {
                    "name": "dE_dW2",
                    "status": "fail",
                    "score": 0.0,
                    "max_score": 3.0,
                    "message": "The gradient dE_dW2 is wrong.",
                    "diagnosis": {"id": "sign-flip", "message": "dE_dW2 has the opposite sign."},
                    "notes": [],
                    "worst": [],
                }
            ],
        },
        Assignment(),
        1.5,
    )
    assert schema_problems(data) == []
    assert data["tests"][0]["output"] == "The gradient dE_dW2 is wrong.\nLikely mistake: dE_dW2 has the opposite sign."


def test_an_empty_submission_scores_zero_with_the_reason(zip_path: Path, site: Path, tmp_path: Path) -> None:
    _lay_out(zip_path, tmp_path, None)
    done = _run_autograder(tmp_path, site)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert schema_problems(data) == []
    assert data["score"] == 0.0
    assert data["output"] == "Your submission could not be graded: your submission holds no .py or .ipynb file"
    dw2 = next(t for t in data["tests"] if t["name"].startswith("dE_dW2"))
    assert dw2["output"] == HIDDEN_OUTPUT and dw2["max_score"] == 4.0


def test_the_submission_is_the_only_file_or_the_one_the_spec_names(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    assert find_submission(tmp_path, Assignment()).path == tmp_path / "a.py"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "hw.ipynb").write_text("{}")
    found = find_submission(tmp_path, Assignment())
    assert found.path is None and found.problem == (
        "your submission holds several .py/.ipynb files (a.py, sub/hw.ipynb); submit only the one to grade"
    )
    named = parse_spec('[gradescope]\nsubmission = "hw.ipynb"')
    assert find_submission(tmp_path, named).path == tmp_path / "sub" / "hw.ipynb"
    assert (
        find_submission(tmp_path, parse_spec('[gradescope]\nsubmission = "x.py"')).problem
        == "no file named x.py in your submission"
    )


def test_the_schema_check_catches_what_gradescope_would_refuse() -> None:
    assert validate_results({"tests": [{"score": "1", "status": "ok", "visibility": "secret", "colour": 1}]}) == [
        "tests[0]: unknown key 'colour'",
        "tests[0].score must be a number",
        "tests[0].status='ok' is not passed or failed",
        "tests[0].visibility='secret' is not one of ('visible', 'hidden', 'after_due_date', 'after_published')",
    ]
    assert validate_results({"tests": [{"name": "x"}]}) == ["score is required unless every test has one"]
