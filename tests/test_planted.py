"""The planted-bug corpora of ``bench/planted/`` are well-formed, and their correct variants get full marks.

Each ``bench/planted/<assignment>/PLANTED.toml`` labels every file of its folder: a check of that
assignment and a kind of the bench's vocabulary (``bench/planted_corpus.py``), or ``correct``.
``bench/diagnosis_rates.py --assignment all`` measures the diagnosis engine on them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.definition import built_in_names, load_assignment
from harness.grade import grade_submission
from harness.records.assignment import Assignment
from harness.run.pool import Pool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import planted_corpus  # noqa: E402  (bench/ is not a package)

NAMES = planted_corpus.corpus_names()
CORRECT = [(name, e.file) for name in NAMES for e in planted_corpus.load(name) if e.correct]


def test_there_are_corpora_for_the_course_assignments() -> None:
    assert {"two-layer-softmax", "mlp-class"} <= set(NAMES)
    assert set(NAMES) <= set(built_in_names()), "a corpus folder is named after a built-in assignment"


@pytest.mark.parametrize("name", NAMES)
def test_a_corpus_is_well_formed(name: str) -> None:
    checks = set(load_assignment(name).checks)
    assert planted_corpus.problems(name, checks) == []
    corpus = planted_corpus.load(name)
    assert sum(not e.correct for e in corpus) >= planted_corpus.MIN_BUGS
    assert sum(e.correct for e in corpus) >= planted_corpus.MIN_CORRECT


def test_the_vocabulary_has_no_duplicates_and_pairs_match_either_order() -> None:
    kinds = planted_corpus.KINDS
    assert len(set(kinds)) == len(kinds) and planted_corpus.CORRECT not in kinds
    assert all("+" not in k for k in kinds)
    pair = planted_corpus.Planted(file="f.py", kind="transposed+scale--1", check="dW1")
    assert pair.named_by("scale--1+transposed") and pair.named_by("transposed+scale--1")
    assert not pair.named_by("transposed") and not pair.named_by(None)


def test_problems_names_what_is_wrong(tmp_path: Path) -> None:
    folder = tmp_path / "hw"
    folder.mkdir()
    (folder / "bug_a.py").write_text("x = 1\n")
    (folder / "stray.py").write_text("x = 1\n")
    (folder / "PLANTED.toml").write_text(
        '["bug_a.py"]\ncheck = "dW9"\nkind = "scale-3"\nwhy = "w"\n["gone.py"]\nkind = "correct"\n'
    )
    found = "\n".join(planted_corpus.problems("hw", {"dW1"}, root=tmp_path))
    for words in ("kind='scale-3'", "check='dW9'", "gone.py", "no such file", "stray.py", "at least 30"):
        assert words in found, (words, found)


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        yield p


@pytest.fixture(scope="module")
def assignments() -> dict[str, Assignment]:
    return {name: load_assignment(name) for name in NAMES}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "file"), CORRECT, ids=[f"{n}/{f}" for n, f in CORRECT])
def test_a_correct_planted_variant_gets_full_marks(
    pool: Pool, assignments: dict[str, Assignment], name: str, file: str
) -> None:
    verdict = grade_submission(planted_corpus.PLANTED / name / file, pool, assignments[name])
    assert verdict.status == "graded", verdict.error
    wrong = [(c.name, c.status, c.message) for c in verdict.checks if c.status != "pass" or c.diagnosis is not None]
    assert wrong == []
    assert verdict.score == verdict.max_score
