"""The pipeline on the bundled submissions: every verdict pinned, report.json in its schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from submission_expectations import EXPECTED, EXPECTED_DIAGNOSIS, EXPECTED_DIAGNOSIS_CHECKS, EXPECTED_STYLE

CHECK_KEYS = {"name", "status", "score", "max_score", "message", "max_abs_error", "max_rel_error", "diagnosis"}
SUBMISSION_KEYS = {"submission", "status", "error", "score", "max_score", "isolation", "duration_s", "checks"}


def test_every_bundled_submission_gets_a_verdict(bundled: dict[str, Any]) -> None:
    assert set(bundled["by_name"]) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bundled_submission_gets_its_pinned_verdict(bundled: dict[str, Any], name: str) -> None:
    verdict = bundled["by_name"][name]
    expected = dict(EXPECTED[name])
    assert verdict["status"] == expected.pop("status"), verdict["error"]
    statuses = {c["name"]: c["status"] for c in verdict["checks"]}
    for check, status in expected.items():
        assert statuses.get(check) == status, (check, [c for c in verdict["checks"] if c["name"] == check])
    if EXPECTED_STYLE[name] is not None:
        assert verdict["style"] == EXPECTED_STYLE[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_DIAGNOSIS))
def test_each_bundled_bug_is_named_by_its_diagnosis(bundled: dict[str, Any], name: str) -> None:
    verdict = bundled["by_name"][name]
    for check in verdict["checks"]:
        if check["name"] in EXPECTED_DIAGNOSIS_CHECKS[name]:
            assert check["diagnosis"] is not None, check
            assert check["diagnosis"]["id"] == EXPECTED_DIAGNOSIS[name], check


def test_correct_submissions_get_full_marks_and_no_diagnosis(bundled: dict[str, Any]) -> None:
    for name, verdict in bundled["by_name"].items():
        if name.startswith("correct_"):
            assert verdict["score"] == verdict["max_score"] == 10.0, name
            assert all(c["diagnosis"] is None for c in verdict["checks"]), name


def test_report_json_follows_the_documented_schema(bundled: dict[str, Any]) -> None:
    report = bundled["report"]
    assert report["tool"] == "gradproof" and report["assignment"] == "mlp-4-3-1" and report["version"]
    for verdict in report["submissions"]:
        assert set(verdict) >= SUBMISSION_KEYS
        assert verdict["status"] in ("graded", "error")
        assert (verdict["error"] is None) == (verdict["status"] == "graded")
        assert verdict["isolation"]
        assert 0 <= verdict["score"] <= verdict["max_score"]
        for check in verdict["checks"]:
            assert set(check) >= CHECK_KEYS
            assert check["status"] in ("pass", "fail", "missing", "error")
            assert check["score"] == (check["max_score"] if check["status"] == "pass" else 0.0)
            assert check["diagnosis"] is None or set(check["diagnosis"]) == {"id", "message"}
        assert verdict["score"] == pytest.approx(sum(c["score"] for c in verdict["checks"]))


def test_a_markdown_report_is_written_per_submission(bundled: dict[str, Any]) -> None:
    pages = sorted((bundled["out"] / "submissions").glob("*.md"))
    assert len(pages) == len(EXPECTED)
    page = next(p for p in pages if "bug_sign_flip_dW2" in p.name).read_text()
    assert "## dE_dW2: fail" in page and "scale--1" in page and "Score: **7 / 10**" in page


def test_a_student_error_halfway_is_graded_on_what_came_before(bundled: dict[str, Any]) -> None:
    verdict = bundled["by_name"]["broken_exception_halfway.ipynb"]
    assert verdict["score"] == 3.0
    assert any("NameError" in note for note in verdict["notes"])
    gradient = next(c for c in verdict["checks"] if c["name"] == "dE_dW2")
    assert "stopped" in gradient["message"] and "NameError" in gradient["message"]


def test_the_classic_notebook_rerun_forward_is_judged_against_its_own_weights(bundled: dict[str, Any]) -> None:
    verdict = bundled["by_name"]["correct_notebook_classic.ipynb"]
    forward = next(c for c in verdict["checks"] if c["name"] == "forward")
    assert forward["status"] == "pass"  # its first values, before the update (then re-bound with the new weights)
    assert any("get_ipython().system" in n for n in verdict["notes"])


def test_a_transposed_gradient_is_accepted_with_a_note(bundled: dict[str, Any]) -> None:
    verdict = bundled["by_name"]["correct_transposed_grad.py"]
    check = next(c for c in verdict["checks"] if c["name"] == "dE_dW1")
    assert check["status"] == "pass" and any("transpose" in n for n in check["notes"])


def test_grading_the_same_submission_twice_gives_the_same_verdict(tmp_path: Path) -> None:
    from harness.batch import grade_batch

    path = Path(__file__).resolve().parent.parent / "submissions" / "bug_missing_factor_2.ipynb"
    first, second = grade_batch([path, path], jobs=1)
    for v in (first, second):
        v.pop("duration_s")
    assert first == second


def test_a_check_worth_points_that_a_script_never_reaches_counts_as_missing() -> None:
    from harness.batch import grade_batch
    from harness.records.assignment import DEFAULT_POINTS, Assignment

    assignment = Assignment(points={**DEFAULT_POINTS, "sigmoid": 1.0})
    path = Path(__file__).resolve().parent.parent / "submissions" / "correct_script.py"
    (verdict,) = grade_batch([path], assignment, jobs=1)
    sigmoid = next(c for c in verdict["checks"] if c["name"] == "sigmoid")
    assert sigmoid["status"] == "missing" and sigmoid["max_score"] == 1.0
    assert verdict["score"] == 10.0 and verdict["max_score"] == 11.0


def test_an_unloadable_submission_keeps_its_digest_so_resume_skips_it(tmp_path: Path) -> None:
    from harness.batch import grade_batch
    from harness.load import digest_of

    bad = tmp_path / "bad.ipynb"
    bad.write_text("{nope")
    (verdict,) = grade_batch([bad], jobs=1)
    assert verdict["status"] == "error" and verdict["digest"] == digest_of(bad) != ""


def test_a_plotting_library_the_grader_lacks_does_not_stop_a_notebook(tmp_path: Path) -> None:
    import nbformat

    from harness.batch import grade_batch

    script = (Path(__file__).resolve().parent.parent / "submissions" / "correct_script.py").read_text()
    cells = [
        "import matplotlib.pyplot as plt\nfrom not_installed_anywhere import lineplot as lp",
        script,
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nplt.title('loss')\nplt.show()\nlp(x=[1])",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = tmp_path / "plots.ipynb"
    path.write_text(nbformat.writes(nb))
    (verdict,) = grade_batch([path], jobs=1)
    assert verdict["score"] == 10.0, verdict
    assert any("'not_installed_anywhere' is not installed on the grader" in n for n in verdict["notes"])


def test_a_missing_module_used_in_the_computation_still_fails_its_checks(tmp_path: Path) -> None:
    from harness.batch import grade_batch

    path = tmp_path / "scipy_sigmoid.py"
    path.write_text(
        "import torch\nfrom not_installed_anywhere import expit\n"
        "X = torch.ones(4, 1)\nW1 = torch.ones(4, 3)\nW2 = torch.ones(3, 1)\nY = 0.0\n"
        "H = expit(W1.T @ X)\nY_cap = expit(H.T @ W2)\n"
    )
    (verdict,) = grade_batch([path], jobs=1)
    forward = next(c for c in verdict["checks"] if c["name"] == "forward")
    assert forward["status"] in ("fail", "error") and verdict["score"] == 0.0, forward["message"]


TRAINING_LOOP = """import torch
torch.manual_seed(0)
X = torch.tensor([[0.9], [0.8], [0.7], [0.6]]); Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3); W2 = torch.rand(3, 1); lr = 0.1
def sig(z):
    return 1 / (1 + torch.exp(-z))
losses = []
for epoch in range(EPOCHS):
    Z = W1.T @ X; H = sig(Z); O = H.T @ W2; Y_cap = sig(O); E = (Y - Y_cap) ** 2
    dE_dO = SIGN * 2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
    dE_dW2 = H @ dE_dO
    dE_dW1 = X @ ((W2 @ (-2 * (Y - Y_cap) * Y_cap * (1 - Y_cap))) * H * (1 - H)).T
    W1 = W1 - lr * dE_dW1
    W2 = W2 - lr * dE_dW2
    losses.append(E.item())
"""


def _loop(tmp_path: Path, name: str, epochs: int, sign: int) -> Path:
    path = tmp_path / name
    path.write_text(TRAINING_LOOP.replace("EPOCHS", str(epochs)).replace("SIGN", str(sign)))
    return path


def test_a_training_loop_is_judged_on_its_first_step(tmp_path: Path) -> None:
    from harness.batch import grade_batch

    paths = [_loop(tmp_path, "loop.py", 3, -1), _loop(tmp_path, "long.py", 3000, -1), _loop(tmp_path, "flip.py", 3, 1)]
    correct, long, flipped = grade_batch(paths, jobs=2)
    assert correct["score"] == 10.0, correct
    assert long["score"] == 10.0, long
    statuses = {c["name"]: (c["status"], (c["diagnosis"] or {}).get("id")) for c in flipped["checks"]}
    assert statuses["dE_dW2"] == ("fail", "scale--1") and statuses["dE_dW1"] == ("pass", None)
    assert statuses["update"] == ("pass", None)


def test_the_dtype_is_read_from_w1_under_the_name_the_spec_gives_it(tmp_path: Path) -> None:
    import re

    from harness.batch import grade_batch
    from harness.records.assignment import DEFAULT_NAMES, Assignment

    source = (Path(__file__).resolve().parent.parent / "submissions" / "correct_float64_inplace.py").read_text()
    path = tmp_path / "renamed.py"
    helper = "\ndef sigmoid(z):\n    return 1 / (1 + torch.exp(-z))\n"
    path.write_text(re.sub(r"\bW1\b", "W_in", source) + helper)
    assignment = Assignment(names={**DEFAULT_NAMES, "W1": ("W_in",)})
    (verdict,) = grade_batch([path], assignment, jobs=1)
    sigmoid = next(c for c in verdict["checks"] if c["name"] == "sigmoid")
    assert verdict["score"] == 10.0 and sigmoid["status"] == "pass", verdict
    assert sigmoid["tolerance"] == "rtol=1e-07, atol=1e-10"  # called in float64 and judged so, not as float32


_HIDDEN_AUTOGRAD = """import torch
X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
W1 = torch.tensor([[0.6915, 0.2038, 0.1092], [0.8664, 0.2407, 0.9444], [0.9586, 0.5905, 0.4535], [0.4292, 0.7313, 0.8132]])
W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])
Y = torch.tensor([[0.0]])
lr = 0.1
W1.requires_grad_(True)
W2.requires_grad_(True)
Y_cap = torch.sigmoid(torch.sigmoid(W1.T @ X).T @ W2)
E = (Y - Y_cap) ** 2
step = getattr(E.sum(), "back" + "ward")
step()
dE_dW1 = W1.grad.detach().clone()
dE_dW2 = W2.grad.detach().clone()
"""


@pytest.mark.parametrize("policy", ["report", "forbid"])
def test_autograd_reached_by_a_computed_name_is_flagged_with_its_evidence(tmp_path: Path, policy: str) -> None:
    from harness.batch import grade_batch
    from harness.records.assignment import Assignment

    (tmp_path / "hidden.py").write_text(_HIDDEN_AUTOGRAD)
    verdict = grade_batch([tmp_path / "hidden.py"], Assignment(autograd=policy), jobs=1, sandbox="off")[0]
    (flag,) = verdict["flags"]
    assert flag["id"] == "autograd"
    assert "hidden.py: called Tensor.backward (at run time)" in flag["evidence"]
    assert "hidden.py: W1.grad was filled in (at run time)" in flag["evidence"]
    assert any("getattr with a name computed at run time" in e for e in flag["evidence"])
    gradients = [c for c in verdict["checks"] if c["name"] in ("dE_dW1", "dE_dW2")]
    if policy == "forbid":
        assert all(c["score"] == 0 and c["diagnosis"]["id"] == "uses-autograd" for c in gradients)
        assert all("called Tensor.backward" in c["diagnosis"]["message"] for c in gradients)
    else:
        assert all(c["status"] == "pass" and any("uses autograd" in n for n in c["notes"]) for c in gradients)


def test_an_honest_submission_carries_no_flag(bundled: dict[str, Any]) -> None:
    assert bundled["by_name"]["correct_script.py"]["flags"] == []
    assert bundled["by_name"]["correct_notebook_classic.ipynb"]["flags"] == []


def test_both_styles_say_which_runs_each_check_was_judged_on(bundled: dict[str, Any]) -> None:
    from harness.computation import run_seeds

    script = bundled["by_name"]["correct_script.py"]
    function = bundled["by_name"]["correct_functions.py"]
    for check in script["checks"]:
        assert [r["source"] for r in check["runs"]] == ["own", "grader", "grader"], check["name"]
    for check in function["checks"]:
        sources = [r["source"] for r in check["runs"]]
        seeds = [r["seed"] for r in check["runs"] if r["source"] == "grader"]
        assert sources[-1] == "grader" and seeds == run_seeds(function["seed"], 2), check["name"]
        assert set(check["runs"][-1]["values"]) == {"X", "Y", "W1", "W2", "lr"}


def test_importing_the_grader_fails_like_a_missing_module_and_is_flagged_not_refused(tmp_path: Path) -> None:
    from harness.batch import grade_batch

    honest = (Path(__file__).parent.parent / "submissions" / "correct_script.py").read_text()
    (tmp_path / "tries.py").write_text(
        "try:\n    import reference\nexcept ImportError:\n    reference = None\n" + honest
    )
    verdict = grade_batch([tmp_path / "tries.py"], jobs=1)[0]
    assert verdict["status"] == "graded" and verdict["score"] == verdict["max_score"]  # its own work counts
    (flag,) = verdict["flags"]
    assert flag["id"] == "grader-import" and "imports reference" in flag["evidence"]
    assert "imported reference at run time" in flag["evidence"]
