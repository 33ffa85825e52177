"""The built-in assignments grade their bundled submissions as pinned in each folder's EXPECTED.toml,
and the course's own solution of each gets full marks (``gradproof assignment check``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.definition import DEFAULT_ASSIGNMENT, built_in_names, load_assignment
from harness.grade import grade_submission
from harness.records.assignment import Assignment
from harness.run.pool import Pool

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# the default's own submissions are those at the top of submissions/ (tests/test_grade.py pins them)
DEFINED = [n for n in built_in_names() if n != DEFAULT_ASSIGNMENT]


def _expected(name: str) -> dict[str, dict[str, object]]:
    return tomllib.loads((ROOT / "submissions" / name / "EXPECTED.toml").read_text(encoding="utf-8"))


CASES = [(name, file) for name in DEFINED for file in sorted(_expected(name))]


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        yield p


@pytest.fixture(scope="module")
def assignments() -> dict[str, Assignment]:
    return {name: load_assignment(name) for name in DEFINED}


def test_each_course_assignment_has_at_least_three_correct_and_seven_buggy_submissions() -> None:
    assert len(DEFINED) >= 3
    for name in DEFINED:
        files = list(_expected(name))
        assert sum(f.startswith("correct") for f in files) >= 3, name
        assert sum(f.startswith("bug") for f in files) >= 7, name
        on_disk = {p.name for p in (ROOT / "submissions" / name).iterdir() if p.suffix in (".py", ".ipynb")}
        assert on_disk == set(files), f"{name}: every submission is pinned, and only those"


@pytest.mark.parametrize(("name", "file"), CASES, ids=[f"{n}/{f}" for n, f in CASES])
def test_a_bundled_submission_fails_exactly_the_pinned_checks(
    pool: Pool, assignments: dict[str, Assignment], name: str, file: str
) -> None:
    pinned = _expected(name)[file]
    assignment = assignments[name]
    verdict = grade_submission(ROOT / "submissions" / name / file, pool, assignment)
    assert verdict.status == "graded", verdict.error
    failing = {c.name for c in verdict.checks if c.status != "pass"}
    assert failing == set(pinned.get("fail", [])), [(c.name, c.message) for c in verdict.checks if c.status != "pass"]
    assert {c.name for c in verdict.checks} == set(assignment.checks)
    for c in verdict.checks:
        assert (c.diagnosis is None) == (c.status == "pass" or c.diagnosis is None)
        if c.status == "pass":
            assert c.diagnosis is None and c.score == c.max_score
    first = pinned.get("first_wrong")
    if first is not None:
        by_name = {c.name: c for c in verdict.checks}
        assert by_name[str(first)].status != "pass"
        assert by_name[str(first)].diagnosis is not None and by_name[str(first)].diagnosis.id != "upstream-wrong"
        blamed_first = [c.name for c in verdict.checks if c.diagnosis and c.diagnosis.id == "first-wrong-link"]
        assert set(blamed_first) <= {str(first)}, blamed_first


@pytest.mark.parametrize("name", built_in_names())
def test_assignment_check_grades_the_courses_solution_with_full_marks(name: str) -> None:
    result = CliRunner().invoke(main, ["assignment", "check", name])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("ok: solution.")


def test_assignment_check_fails_when_the_courses_solution_is_wrong(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(main, ["assignment", "new", "hw3", "--dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    solution = tmp_path / "hw3" / "solution.py"
    text = solution.read_text()
    assert "return loss, {" in text
    solution.write_text(text.replace("return loss, {", "return 2 * loss, {"))  # the course's own slip
    result = runner.invoke(main, ["assignment", "check", str(tmp_path / "hw3")])
    assert result.exit_code == 1, result.output
    assert "fail    loss" in result.output and "the course's solution solution.py scores 7 of 8" in result.output


def test_assignment_new_writes_a_folder_that_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    for style in ("functions", "objects", "script"):
        made = runner.invoke(main, ["assignment", "new", f"hw-{style}", "--style", style, "--dir", str(tmp_path)])
        assert made.exit_code == 0, made.output
        made_one = load_assignment(tmp_path / f"hw-{style}")
        assert made_one.name == f"hw-{style}" and made_one.definition is not None
        assert made_one.definition.title.startswith(f"hw-{style} (from the ")  # not the example's title
    again = runner.invoke(main, ["assignment", "new", "hw-script", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "exists already" in again.output


def test_a_step_that_raises_is_named_in_the_checks_that_read_what_it_left(
    pool: Pool, assignments: dict[str, Assignment], tmp_path: Path
) -> None:
    source = (ROOT / "submissions" / "mlp-class" / "correct_vectorised.py").read_text(encoding="utf-8")
    head, rest = source.split("    def backward(self", 1)
    signature, body = rest.split("\n", 1)
    broken = tmp_path / "raises_in_backward.py"
    broken.write_text(
        f'{head}    def backward(self{signature}\n        raise RuntimeError("boom")\n{body}', encoding="utf-8"
    )
    verdict = grade_submission(broken, pool, assignments["mlp-class"])
    failing = [c for c in verdict.checks if c.status != "pass"]
    assert failing and all("raised RuntimeError: boom" in c.message for c in failing if c.name.startswith("dJdW")), [
        c.message for c in failing
    ]
