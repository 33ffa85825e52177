"""The held-out planted-bug corpus of backprop-drill (``bench/planted/backprop-drill/PLANTED.toml``,
issue 12) is well-formed, and grading agrees with what it says: the correct variants get full
marks, and each bug breaks its labelled check first, then exactly the ones it lists under ``also``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bench" / "planted" / "backprop-drill"
ASSIGNMENT = ROOT / "harness" / "assignments" / "backprop-drill" / "assignment.toml"

# The diagnosis ids a planted mistake may be labelled with (a pair as "a+b").
KINDS = (
    "scale--1",
    "scale-2",
    "scale-0.5",
    "scale--2",
    "scale-batch",
    "transposed",
    "zero",
    "non-finite",
    "wrong-shape",
    "missing-local-derivative",
    "derivative-at-wrong-tensor",
    "other-activation-derivative",
    "wrong-operand",
    "missing-transpose",
    "missing-batch-sum",
    "elementwise-vs-matmul",
    "double-count",
    "missing-branch",
    "wrong-constant",
    "other-value",
)


def _planted() -> dict[str, dict[str, object]]:
    return tomllib.loads((CORPUS / "PLANTED.toml").read_text(encoding="utf-8"))


def _checks() -> list[str]:
    """The assignment's checks in backward order (the order of assignment.toml)."""
    return list(tomllib.loads(ASSIGNMENT.read_text(encoding="utf-8"))["checks"])


PLANTED = _planted()
CORRECT = sorted(name for name, entry in PLANTED.items() if entry["kind"] == "correct")
BUGS = sorted(name for name, entry in PLANTED.items() if entry["kind"] != "correct")


def test_planted_toml_lists_every_file_of_the_corpus_and_only_those() -> None:
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix in (".py", ".ipynb")}
    assert on_disk == set(PLANTED)
    assert {Path(name).suffix for name in PLANTED} == {".py", ".ipynb"}


def test_planted_toml_entries_use_existing_checks_and_known_kinds() -> None:
    checks = _checks()
    pairs = 0
    for name, entry in PLANTED.items():
        assert set(entry) <= {"check", "kind", "also", "why"}, name
        kind = entry["kind"]
        assert isinstance(kind, str), name
        if kind == "correct":
            assert "check" not in entry and "also" not in entry, name
            continue
        parts = kind.split("+")
        assert len(parts) <= 2 and all(part in KINDS for part in parts), (name, kind)
        pairs += len(parts) == 2
        check = entry["check"]
        assert check in checks, (name, check)
        also = entry.get("also", [])
        assert isinstance(also, list) and len(set(also)) == len(also), name
        assert all(a in checks and checks.index(a) > checks.index(check) for a in also), (name, also)
        assert isinstance(entry.get("why"), str) and entry["why"], name
    assert pairs <= 3


def test_the_corpus_has_at_least_30_bugs_and_6_correct_variants() -> None:
    assert len(BUGS) >= 30
    assert len(CORRECT) >= 6
    assert all(name.startswith("bug_") for name in BUGS) and all(name.startswith("correct_") for name in CORRECT)


@pytest.fixture(scope="module")
def graded() -> Iterator[object]:
    from harness.definition import load_assignment
    from harness.grade import grade_submission
    from harness.run.pool import Pool

    assignment = load_assignment("backprop-drill")
    with Pool(2) as pool:
        yield lambda name: grade_submission(CORPUS / name, pool, assignment)


@pytest.mark.slow
@pytest.mark.parametrize("name", CORRECT)
def test_a_correct_planted_variant_gets_full_marks(graded, name: str) -> None:
    verdict = graded(name)
    assert verdict.status == "graded", verdict.error
    assert verdict.score == verdict.max_score, [(c.name, c.message) for c in verdict.checks if c.status != "pass"]


@pytest.mark.slow
@pytest.mark.parametrize("name", BUGS)
def test_a_planted_bug_breaks_its_check_first_and_exactly_the_listed_ones(graded, name: str) -> None:
    entry = PLANTED[name]
    verdict = graded(name)
    assert verdict.status == "graded", verdict.error
    failing = [c.name for c in verdict.checks if c.status != "pass"]
    assert failing[:1] == [entry["check"]], failing
    assert set(failing) == {entry["check"], *entry.get("also", [])}, failing
