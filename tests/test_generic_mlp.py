"""The default assignment written in the generic form (``examples/assignments/mlp-4-3-1``, style
``["functions", "script"]``) grades the bundled 4-3-1 submissions of both styles as the classic engine
does: the same check statuses (``submission_expectations.EXPECTED``) and the same diagnoses, in the
generic engine's vocabulary (``planted_corpus.same_mistake``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.definition import load_assignment
from harness.grade import grade_submission
from harness.records.assignment import Assignment
from harness.run.pool import Pool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from planted_corpus import same_mistake
from submission_expectations import EXPECTED, EXPECTED_DIAGNOSIS, EXPECTED_OTHER_DIAGNOSES, EXPECTED_STYLE

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "examples" / "assignments" / "mlp-4-3-1"
GRADED = sorted(n for n, style in EXPECTED_STYLE.items() if style is not None)


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        yield p


@pytest.fixture(scope="module")
def generic() -> Assignment:
    return load_assignment(FOLDER)


def test_the_generic_form_grades_the_course_solution_with_full_marks() -> None:
    result = CliRunner().invoke(main, ["assignment", "check", str(FOLDER)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "ok: solution.ipynb scores 10 of 10"


@pytest.mark.parametrize("file", GRADED)
def test_a_submission_gets_the_classic_engines_statuses_and_diagnoses_in_either_style(
    pool: Pool, generic: Assignment, file: str
) -> None:
    verdict = grade_submission(ROOT / "submissions" / file, pool, generic)
    assert verdict.status == "graded", verdict.error
    assert verdict.style == {"script": "script", "function": "functions"}[str(EXPECTED_STYLE[file])]
    statuses = {c.name: c.status for c in verdict.checks}
    assert statuses == {k: v for k, v in EXPECTED[file].items() if k != "status" and k in statuses}, [
        (c.name, c.message) for c in verdict.checks if c.status != "pass"
    ]
    wanted = {
        c.name: EXPECTED_DIAGNOSIS[file] for c in verdict.checks if c.status == "fail" and file in EXPECTED_DIAGNOSIS
    }
    wanted.update(EXPECTED_OTHER_DIAGNOSES.get(file, {}))
    got = {c.name: c.diagnosis.id if c.diagnosis else None for c in verdict.checks if c.name in wanted}
    assert all(same_mistake(kind, got[name]) for name, kind in wanted.items()), [
        (c.name, c.diagnosis) for c in verdict.checks if c.status == "fail"
    ]
    for c in verdict.checks:
        assert c.status != "pass" or c.diagnosis is None


def test_an_update_computed_from_a_wrong_gradient_is_judged_as_a_rule_on_that_gradient(
    pool: Pool, generic: Assignment
) -> None:
    verdict = grade_submission(ROOT / "submissions" / "bug_sign_flip_dW2.py", pool, generic)
    by_name = {c.name: c for c in verdict.checks}
    assert by_name["dE_dW2"].status == "fail" and by_name["update"].status == "pass"


def test_a_loss_right_for_its_own_wrong_prediction_passes_with_a_note(pool: Pool, generic: Assignment) -> None:
    verdict = grade_submission(ROOT / "submissions" / "bug_tanh_forward_consistent_backward.ipynb", pool, generic)
    loss = next(c for c in verdict.checks if c.name == "loss")
    assert loss.status == "pass"
    assert loss.notes == ("loss: right for your own Y_cap, which is wrong (its own check says so)",)


def test_a_step_size_written_as_a_number_is_caught_on_the_graders_learning_rates(
    pool: Pool, generic: Assignment, tmp_path: Path
) -> None:
    text = (ROOT / "submissions" / "correct_script.py").read_text(encoding="utf-8")
    assert "W1_new = W1 - lr * dE_dW1" in text
    (tmp_path / "hard_coded_lr.py").write_text(text.replace("W1_new = W1 - lr * dE_dW1", "W1_new = W1 - 0.1 * dE_dW1"))
    verdict = grade_submission(tmp_path / "hard_coded_lr.py", pool, generic)
    update = next(c for c in verdict.checks if c.name == "update")
    assert update.status == "fail" and update.diagnosis is not None
    assert update.diagnosis.id == "update-lr", update.diagnosis
