"""The student's self-test: visible checks with diagnoses, hidden ones only counted, the early worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.course.selftest import SelfTest, describe, run_selftest
from harness.errors import UsageError
from harness.records.assignment import Assignment
from harness.spec import parse_spec

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"


@pytest.fixture(scope="module")
def passing() -> SelfTest:
    return run_selftest(SUBMISSIONS / "correct_script.py", sandbox="auto")


@pytest.fixture(scope="module")
def failing() -> SelfTest:
    return run_selftest(SUBMISSIONS / "bug_sign_flip_dW2.py", sandbox="auto")


def test_a_correct_submission_passes_every_visible_check(passing: SelfTest) -> None:
    assert passing.ok
    assert passing.text == (
        "gradproof self-test: correct_script.py (assignment mlp-4-3-1)\n"
        "\n"
        "  PASS    forward  2/2\n"
        "  PASS    loss     1/1\n"
        "  PASS    dE_dW2   3/3\n"
        "  PASS    dE_dW1   3/3\n"
        "  PASS    update   1/1\n"
        "\n"
        "5 of 5 visible checks pass (10 of 10 points).\n"
    )


def test_a_wrong_gradient_fails_with_its_diagnosis(failing: SelfTest) -> None:
    assert not failing.ok
    lines = failing.text.splitlines()
    assert "  FAIL    dE_dW2   0/3" in lines
    assert any(line.startswith("        dE_dW2 is wrong: the largest error is 0.244 at [0, 0]") for line in lines)
    assert any(line.startswith("        Likely mistake: dE_dW2 has the opposite sign") for line in lines)
    assert lines[-1] == "4 of 5 visible checks pass (7 of 10 points)."


def test_the_self_test_verdict_is_the_graders_verdict(failing: SelfTest) -> None:
    assert failing.verdict["status"] == "graded" and failing.verdict["score"] == 7.0
    assert [c["name"] for c in failing.verdict["checks"] if c["status"] != "pass"] == ["dE_dW2"]


def test_hidden_checks_are_counted_never_described(failing: SelfTest) -> None:
    spec = parse_spec('[checks.dE_dW2]\nvisibility = "hidden"\n[checks.update]\nvisibility = "after_due_date"\n')
    result = describe(failing.verdict, spec)
    assert result.ok  # every visible check passes
    assert "dE_dW2" not in result.text and "opposite sign" not in result.text and "update" not in result.text
    assert result.text.splitlines()[-2:] == [
        "3 of 3 visible checks pass (6 of 6 points).",
        "2 more checks are hidden: graded when you submit; not shown here.",
    ]


def test_a_submission_that_cannot_be_graded_fails_the_self_test_with_the_reason() -> None:
    verdict: dict[str, Any] = {
        "submission": "hw.ipynb",
        "status": "error",
        "checks": [],
        "notes": [],
        "error": "cannot load the submission: the notebook is not valid JSON",
    }
    result = describe(verdict, Assignment())
    assert not result.ok
    assert result.text == (
        "gradproof self-test: hw.ipynb (assignment mlp-4-3-1)\n\n"
        "Not graded: cannot load the submission: the notebook is not valid JSON\n\n"
        "Fix this first: the grader cannot check anything yet.\n"
    )


def test_a_failing_zero_point_helper_still_fails_the_self_test() -> None:
    check = {
        "name": "sigmoid",
        "status": "fail",
        "score": 0.0,
        "max_score": 0.0,
        "message": "sigmoid is wrong.",
        "diagnosis": None,
    }
    verdict = {"submission": "f.py", "status": "graded", "checks": [check], "notes": []}
    assert not describe(verdict, Assignment()).ok


def test_the_self_test_grades_one_file_not_a_folder() -> None:
    with pytest.raises(UsageError, match=r"^file='.*submissions': expected one \.py or \.ipynb file"):
        run_selftest(SUBMISSIONS)


def test_everything_before_the_early_worker_starts_is_torch_free() -> None:
    code = (
        "import sys; from pathlib import Path; import harness.course.selftest as s; from harness.load import collect; "
        "s.load_assignment(None); collect([Path(sys.argv[1])]); from harness.run.pool import Pool; p = Pool(1, 'auto', []); p.spawn(); "
        "assert 'torch' not in sys.modules, 'torch imported before the worker starts'"
    )
    subprocess.run([sys.executable, "-c", code, str(SUBMISSIONS / "correct_script.py")], check=True)
