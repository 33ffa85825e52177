"""A batch: every submission graded once, in parallel, journaled so that a killed batch resumes.

Importing this module does not import torch: a batch graded in this process (one job, or one
submission) starts its worker first and imports the grader (torch) while the worker imports torch
in its sandbox, on the other core; done one after the other, a single submission waited for two
torch imports (``bench/startup.py`` measures it).

Each verdict is plain data (the ``report.json`` schema) the moment it exists: it is appended to the
journal in ``--out`` (fsync'd, with those that arrived with it: one fsync per group) as soon as it
is complete, and only then counted as done, so that ``--resume`` carries on where a killed batch
stopped.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from harness.batch.journal import ByKey, Journal, canonical, canonical_line
from harness.batch.processes import grade_in_process_groups
from harness.definition import resolved
from harness.errors import GraderError, invalid
from harness.load import digest_of
from harness.records.assignment import Assignment
from harness.records.outcome import GradingFailed, SandboxMode
from harness.records.report import VerdictData
from harness.records.verdict import Verdict
from harness.run.pool import Pool, first_import


def _grader_failure(path: Path, why: str, assignment: Assignment) -> VerdictData:
    """The verdict of a submission the grader itself failed on: said, never journaled (a resume
    tries it again), and the batch carries on."""
    return canonical(
        Verdict(
            submission=str(path),
            status="error",
            score=0.0,
            max_score=assignment.max_score(),
            error=f"the grader failed on this submission ({why}); grade it again",
            isolation="not run",
            duration_s=0.0,
        ).to_data()
    )


def _graded(
    todo: list[tuple[int, Path]],
    assignment: Assignment,
    jobs: int,
    sandbox: SandboxMode,
    hide: list[Path],
    stopping: list[threading.Thread] | None = None,
) -> Iterator[list[tuple[int, str | GradingFailed]]]:
    """Each (index, path)'s verdict as its journal line (:func:`canonical_line`), as it is done,
    in groups that arrived together: one worker in this process for one job (one at a time),
    else one grader process per job (see ``harness.batch.processes.grade_in_process_groups``;
    ``stopping`` is its)."""
    if jobs > 1 and len(todo) > 1:
        yield from grade_in_process_groups(todo, assignment, jobs, sandbox, hide, stopping)
        return
    # Warmed up even for one submission (its own run and the grader's each start from the
    # worker's state); huge pages only for more than one (they pay off over many forks).
    one = len(todo) == 1
    with Pool(1, sandbox, hide, huge_pages=not one, scratch_bytes=assignment.limits.scratch_bytes) as pool:
        pool.spawn()  # the worker imports torch while this process does, below
        with first_import("harness.grade"):
            from harness.grade import grade_submission  # lazy: imports torch while the worker starts (see above)

        # The first submission is loaded before the pool is waited for (the session waits):
        # that too happens while the worker starts.  A worker that cannot start raises there.
        for i, path in todo:
            try:
                line = canonical_line(grade_submission(path, pool, assignment).to_data())
            except GraderError:
                raise  # the grader cannot work at all (a worker that cannot start)
            except Exception as exc:
                yield [(i, GradingFailed(f"{type(exc).__name__}: {exc}"))]
            else:
                yield [(i, line)]


def slim(data: VerdictData) -> VerdictData:
    """What the batch's summaries read of a verdict (``summary``, ``summary.md``, the CLI's last
    line, ``timings.json``): its name, status, scores, error, duration, each check's name, status
    and diagnosis, its flags' ids; a few hundred bytes where the whole verdict is tens of KiB."""
    kept: dict[str, Any] = {k: data[k] for k in _SLIM_KEYS if k in data}  # type: ignore[literal-required]
    kept["checks"] = [{k: c[k] for k in ("name", "status", "diagnosis") if k in c} for c in data.get("checks") or []]
    kept["flags"] = [{"id": f["id"]} for f in data.get("flags") or []]
    return cast(VerdictData, kept)


_SLIM_KEYS = ("submission", "status", "error", "score", "max_score", "duration_s")


class Graded:
    """A batch's verdicts, in input order, without holding every one in memory: each verdict
    the journal holds is read back from it when asked for (:meth:`verdict`, iteration); what
    the summaries need is kept (:meth:`slim`).  Without a journal (no ``out``), or for a
    verdict that is never journaled (the grader failed on it), the verdict itself is kept."""

    def __init__(self, count: int, journal: Journal | None) -> None:
        self.journal = journal
        self.stopping: list[threading.Thread] = []  # the grader processes' shutdown, waited for by close
        self._slims: list[VerdictData | None] = [None] * count
        self._places: dict[int, tuple[int, int]] = {}
        self._kept: dict[int, VerdictData] = {}

    def __len__(self) -> int:
        return len(self._slims)

    def add(self, i: int, data: VerdictData, place: tuple[int, int] | None) -> None:
        self._slims[i] = slim(data)
        if place is not None and self.journal is not None:
            self._places[i] = place
            self._kept.pop(i, None)
        else:
            self._kept[i] = data

    def slim(self, i: int) -> VerdictData:
        found = self._slims[i]
        assert found is not None, f"submission {i} has no verdict yet"
        return found

    def slims(self) -> list[VerdictData]:
        return [self.slim(i) for i in range(len(self))]

    def verdict(self, i: int) -> VerdictData:
        if i in self._kept:
            return self._kept[i]
        assert self.journal is not None
        return self.journal.read_at(*self._places[i])

    def __iter__(self) -> Iterator[VerdictData]:
        return (self.verdict(i) for i in range(len(self)))

    def line(self, i: int) -> str:
        """:meth:`verdict` as its journal line (:func:`~harness.batch.journal.canonical_line`),
        read as text: report.json copies it."""
        if i in self._kept:
            return canonical_line(self._kept[i])
        assert self.journal is not None
        return self.journal.line_at(*self._places[i])

    def lines(self) -> Iterator[str]:
        return (self.line(i) for i in range(len(self)))

    def close(self) -> None:
        """Wait for the grader processes to end (they stop while the reports are written) and
        close the journal."""
        while self.stopping:
            self.stopping.pop().join()
        if self.journal is not None:
            self.journal.close()


def grade_batch(
    paths: Iterable[Path],
    assignment: Assignment | None = None,
    *,
    jobs: int | None = None,
    sandbox: SandboxMode = "auto",
    out: Path | None = None,
    resume: bool = False,
    hide: list[Path] | None = None,
    on_verdict: Callable[[VerdictData], None] | None = None,
) -> list[VerdictData]:
    """Grade every path (in parallel on ``jobs`` workers); verdicts as report data, in input order."""
    graded = grade_batch_stored(
        paths, assignment, jobs=jobs, sandbox=sandbox, out=out, resume=resume, hide=hide, on_verdict=on_verdict
    )
    try:
        return list(graded)
    finally:
        graded.close()


def grade_batch_stored(
    paths: Iterable[Path],
    assignment: Assignment | None = None,
    *,
    jobs: int | None = None,
    sandbox: SandboxMode = "auto",
    out: Path | None = None,
    resume: bool = False,
    hide: list[Path] | None = None,
    on_verdict: Callable[[VerdictData], None] | None = None,
) -> Graded:
    """:func:`grade_batch`, its verdicts left in the journal (with ``out``) until asked for: the
    batch's memory stays flat however many submissions it grades."""
    assignment = resolved(assignment or Assignment())
    paths = list(paths)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if not isinstance(jobs, int) or jobs < 1:
        invalid("jobs", jobs, "must be a whole number ≥ 1")
    journal = Journal(out) if out is not None else None
    done: ByKey[tuple[int, int]] = ByKey()
    if journal is not None:
        out.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        if resume:
            for entry in journal.entries():  # one at a time: where each is, not the verdicts
                done[entry.key] = (entry.offset, entry.length)
        else:
            journal.reset()
    graded = Graded(len(paths), journal)
    todo: list[tuple[int, Path]] = []
    for i, path in enumerate(paths):
        key = (str(path), digest_of(path))
        if key in done:
            place = done[key]
            data = journal.read_at(*place)  # type: ignore[union-attr]
            graded.add(i, data, place)
            if on_verdict:
                on_verdict(data)
        else:
            todo.append((i, path))
    if todo:
        hidden = list(hide or []) + ([out] if out is not None else [])
        for group in _graded(todo, assignment, jobs, sandbox, hidden, graded.stopping):
            lines: list[str] = []
            finished: list[tuple[int, VerdictData]] = []
            for i, outcome in group:
                if isinstance(outcome, GradingFailed):
                    finished.append((i, _grader_failure(paths[i], outcome.message, assignment)))
                else:
                    lines.append(outcome)
                    finished.append((i, json.loads(outcome)))  # canonical(): what the journal gives back
            # durable (one write, one fsync for the group) before any is counted done
            places = iter(journal.append_lines(lines) if journal is not None else [])
            for (i, data), (_, outcome) in zip(finished, group):
                graded.add(i, data, None if isinstance(outcome, GradingFailed) else next(places, None))
            if on_verdict:
                for _, data in finished:
                    on_verdict(data)
    return graded
