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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from harness.batch.journal import Journal, canonical, canonical_line
from harness.batch.processes import grade_in_process_groups
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
    todo: list[tuple[int, Path]], assignment: Assignment, jobs: int, sandbox: SandboxMode, hide: list[Path]
) -> Iterator[list[tuple[int, VerdictData | GradingFailed]]]:
    """Verdict data for each (index, path) as it is done, in groups that arrived together: one
    worker in this process for one job (one at a time), else one grader process per job (see
    ``harness.batch.processes.grade_in_process_groups``)."""
    if jobs > 1 and len(todo) > 1:
        yield from grade_in_process_groups(todo, assignment, jobs, sandbox, hide)
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
                data = grade_submission(path, pool, assignment).to_data()
            except GraderError:
                raise  # the grader cannot work at all (a worker that cannot start)
            except Exception as exc:
                yield [(i, GradingFailed(f"{type(exc).__name__}: {exc}"))]
            else:
                yield [(i, data)]


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
    assignment = assignment or Assignment()
    paths = list(paths)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if not isinstance(jobs, int) or jobs < 1:
        invalid("jobs", jobs, "must be a whole number ≥ 1")
    journal = Journal(out) if out is not None else None
    done: dict[tuple[str, str], VerdictData] = {}
    if journal is not None:
        out.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        if resume:
            done = journal.done()
        else:
            journal.reset()
    results: dict[int, VerdictData] = {}
    todo: list[tuple[int, Path]] = []
    for i, path in enumerate(paths):
        key = (str(path), digest_of(path))
        if key in done:
            results[i] = done[key]
            if on_verdict:
                on_verdict(done[key])
        else:
            todo.append((i, path))
    if todo:
        hidden = list(hide or []) + ([out] if out is not None else [])
        for group in _graded(todo, assignment, jobs, sandbox, hidden):
            lines: list[str] = []
            for i, outcome in group:
                if isinstance(outcome, GradingFailed):
                    results[i] = _grader_failure(paths[i], outcome.message, assignment)
                else:
                    lines.append(canonical_line(outcome))
                    results[i] = json.loads(lines[-1])  # canonical(): what the journal gives back
            if journal is not None:
                journal.append_lines(lines)  # durable (one fsync for the group) before any is counted done
            if on_verdict:
                for i, _ in group:
                    on_verdict(results[i])
    return [results[i] for i in range(len(paths))]
