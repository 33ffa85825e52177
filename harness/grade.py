"""The pipeline: load → run → check → diagnose, for one submission and for a batch.

Each verdict is plain data (the ``report.json`` schema) the moment it exists:
it is appended to the journal in ``--out`` (fsync'd) as soon as it is
complete, so that a killed batch resumes where it stopped (``--resume``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.assignment import CHECKS, FUNCTIONS, Assignment
from harness.check import CheckResult, Diagnosis, check_functions, check_helpers, check_script
from harness.errors import GraderError, SubmissionError, invalid
from harness.load import Submission, load
from harness.run import CapturedError, GradingFailed, Outcome, Pool, grade_in_processes
from harness.sandbox import SandboxMode

JOURNAL = "journal.jsonl"
FUNCTION_STYLE = ("forward", "loss", "backward", "update")


@dataclass
class Verdict:
    """Everything the grader decided about one submission."""

    submission: str
    status: str  # "graded" | "error"
    error: str | None
    score: float
    max_score: float
    isolation: str
    duration_s: float
    checks: list[CheckResult] = field(default_factory=list)
    style: str | None = None
    digest: str = ""
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


def max_score(assignment: Assignment) -> float:
    return sum(assignment.max_points(name) for name in CHECKS)


def _unreached(checks: list[CheckResult], assignment: Assignment) -> list[CheckResult]:
    """Checks worth points that this submission's style never reached (a script without ``sigmoid``)."""
    present = {c.name for c in checks}
    return [
        CheckResult(
            name=name,
            status="missing",
            score=0.0,
            max_score=assignment.max_points(name),
            message=f"{name} is not defined.",
        )
        for name in CHECKS
        if name not in present and assignment.max_points(name) > 0
    ]


def grade_submission(path: Path, pool: Pool, assignment: Assignment, display: str | None = None) -> Verdict:
    """Grade one file: a verdict always, whatever the file holds or does."""
    started = time.monotonic()
    name = display or str(path)
    try:
        submission = load(path)
    except SubmissionError as exc:
        return Verdict(
            submission=name,
            status="error",
            error=f"cannot load the submission: {exc}",
            score=0.0,
            max_score=max_score(assignment),
            isolation="not run",
            duration_s=time.monotonic() - started,
            digest=digest_of(path),
        )
    if submission.grader_imports:
        return _refused(
            submission,
            name,
            assignment,
            started,
            "it imports the grader's own package "
            f"({', '.join(submission.grader_imports)}), which submissions may not use",
        )
    with pool.session(submission, assignment.limits, assignment.tracked_names(), list(FUNCTIONS)) as session:
        session.wait_executed()
        outcome = session.outcome
        if outcome.blocked_imports:
            session.close()
            return _refused(
                submission,
                name,
                assignment,
                started,
                "it tried to import the grader's own package "
                f"({', '.join(sorted(set(outcome.blocked_imports)))}), which submissions may not use",
                outcome,
            )
        _note_stop(outcome, assignment)
        style = "function" if set(outcome.functions) & set(FUNCTION_STYLE) else "script"
        dtype = _dtype_of(outcome, assignment)
        as_numpy = "numpy" in submission.imports and "torch" not in submission.imports
        if style == "function":
            checks = check_functions(session, outcome, assignment, dtype, as_numpy, submission.seed)
        else:
            checks = check_script(outcome, assignment) + check_helpers(
                session, outcome, assignment, dtype, as_numpy, submission.seed
            )
    checks = _apply_policy(checks, submission, assignment) + _unreached(checks, assignment)
    notes = _notes(submission, outcome)
    ending = outcome.ending
    return Verdict(
        submission=name,
        status="graded",
        error=None,
        score=round(sum(c.score for c in checks), 6),
        max_score=max_score(assignment),
        isolation=outcome.isolation,
        duration_s=time.monotonic() - started,
        checks=checks,
        style=style,
        digest=submission.digest,
        seed=submission.seed,
        notes=notes,
        stdout=ending.stdout if ending else "",
        stderr=ending.stderr if ending else "",
    )


def _refused(
    submission: Submission, name: str, assignment: Assignment, started: float, why: str, outcome: Outcome | None = None
) -> Verdict:
    return Verdict(
        submission=name,
        status="error",
        error=f"not graded: {why}",
        score=0.0,
        max_score=max_score(assignment),
        isolation=outcome.isolation if outcome else "not run",
        duration_s=time.monotonic() - started,
        digest=submission.digest,
        seed=submission.seed,
    )


def _note_stop(outcome: Outcome, assignment: Assignment) -> None:
    """A run that was stopped (time, output, crash, exit) is what stopped it: an error like any other."""
    problem = outcome.ending.problem(assignment.limits) if outcome.ending else None
    if problem is not None and outcome.error is None:
        outcome.error = CapturedError(type="Stopped", message=problem, where="", traceback="")


def _dtype_of(outcome: Outcome, assignment: Assignment) -> str:
    """The dtype of the submission's own W1 (under any name the spec gives it), else float32."""
    names = assignment.aliases("W1")
    for binding in outcome.history:
        if binding.name in names and binding.value.dtype in ("float16", "bfloat16", "float32", "float64"):
            return binding.value.dtype
    return "float32"


def _apply_policy(checks: list[CheckResult], submission: Submission, assignment: Assignment) -> list[CheckResult]:
    """Autograd in a hand-derivation assignment: reported by default, zero points where forbidden."""
    if not submission.uses_autograd:
        return checks
    from dataclasses import replace

    diagnosis = Diagnosis(
        "uses-autograd",
        "Your code uses autograd (.backward(), torch.autograd or requires_grad); "
        "this assignment asks for the gradients derived by hand.",
    )
    if assignment.autograd == "forbid":
        return [
            replace(
                c,
                status="fail",
                score=0.0,
                diagnosis=diagnosis,
                message=f"{c.message} Not counted: autograd is not allowed in this assignment.",
            )
            if c.name in ("dE_dW1", "dE_dW2") and c.status == "pass"
            else c
            for c in checks
        ]
    return [replace(c, notes=c.notes + (diagnosis.message,)) if c.name in ("dE_dW1", "dE_dW2") else c for c in checks]


def _notes(submission: Submission, outcome: Outcome) -> list[str]:
    notes = [f"IPython line not executed: {line}" for line in submission.neutralised]
    notes += [
        f"the module {name!r} is not installed on the grader; the code ran on with a stand-in that does nothing"
        for name in dict.fromkeys(outcome.missing_modules)
    ]
    if outcome.error is not None:
        notes.append(f"the submission stopped: {outcome.error}")
    ending = outcome.ending
    if ending and ending.stdout_bytes > len(ending.stdout.encode()):
        notes.append(f"stdout: {ending.stdout_bytes} bytes, the first {len(ending.stdout.encode())} kept")
    return notes


# ---------------------------------------------------------------- batches


def verdict_data(verdict: Verdict) -> dict[str, Any]:
    """A verdict in the ``report.json`` schema."""
    from harness.report import verdict_to_data

    return verdict_to_data(verdict)


class Journal:
    """Append-only, fsync'd record of finished verdicts; what ``--resume`` reads back."""

    def __init__(self, out: Path) -> None:
        self.path = out / JOURNAL

    def done(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Finished verdicts by (submission, digest).

        A torn last line (the grader was killed mid-write) is cut off the file, so that
        the next verdict appended starts a line of its own; that submission is graded again.
        """
        found: dict[tuple[str, str], dict[str, Any]] = {}
        if not self.path.exists():
            return found
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            raw = raw[: raw.rfind(b"\n") + 1]
            with open(self.path, "r+b") as f:
                f.truncate(len(raw))
                os.fsync(f.fileno())
        for line in raw.decode("utf-8", errors="replace").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and "submission" in data:
                found[(str(data["submission"]), str(data.get("digest", "")))] = data
        return found

    def append(self, data: dict[str, Any]) -> None:
        line = canonical_line(data)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new file's name must survive a crash too
            _fsync_dir(self.path.parent)

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)


def canonical_line(data: dict[str, Any]) -> str:
    """A verdict as one journal line (no NaN, anything odd as text)."""
    return json.dumps(data, allow_nan=False, default=str) + "\n"


def canonical(data: dict[str, Any]) -> dict[str, Any]:
    """A verdict exactly as the journal gives it back, so that a resumed batch reports what an
    uninterrupted one does (tuples become lists, and so on)."""
    value: dict[str, Any] = json.loads(canonical_line(data))
    return value


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _grader_failure(path: Path, why: str, assignment: Assignment) -> dict[str, Any]:
    """The verdict of a submission the grader itself failed on: said, never journaled (a resume
    tries it again), and the batch carries on."""
    return canonical(
        verdict_data(
            Verdict(
                submission=str(path),
                status="error",
                score=0.0,
                max_score=max_score(assignment),
                error=f"the grader failed on this submission ({why}); grade it again",
                isolation="not run",
                duration_s=0.0,
            )
        )
    )


def _graded(
    todo: list[tuple[int, Path]], assignment: Assignment, jobs: int, sandbox: SandboxMode, hide: list[Path]
) -> Iterator[tuple[int, dict[str, Any] | GradingFailed]]:
    """Verdict data for each (index, path) as it is done: one worker in this process for one
    job, else one grader process per job (see ``harness.run.grade_in_processes``)."""
    if jobs > 1 and len(todo) > 1:
        yield from grade_in_processes(todo, assignment, jobs, sandbox, hide)
        return
    with Pool(1, sandbox, hide) as pool:
        pool.start()
        for i, path in todo:
            try:
                data = verdict_data(grade_submission(path, pool, assignment))
            except GraderError:
                raise  # the grader cannot work at all (a worker that cannot start)
            except Exception as exc:
                yield i, GradingFailed(f"{type(exc).__name__}: {exc}")
            else:
                yield i, data


def digest_of(path: Path) -> str:
    import hashlib

    try:
        with open(path, "rb") as f:
            return (
                hashlib.file_digest(f, "sha256").hexdigest()
                if hasattr(hashlib, "file_digest")
                else hashlib.sha256(f.read()).hexdigest()
            )
    except OSError:
        return ""


def grade_batch(
    paths: Iterable[Path],
    assignment: Assignment | None = None,
    *,
    jobs: int | None = None,
    sandbox: SandboxMode = "auto",
    out: Path | None = None,
    resume: bool = False,
    hide: list[Path] | None = None,
    on_verdict: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Grade every path (in parallel on ``jobs`` workers); verdicts as report data, in input order."""
    assignment = assignment or Assignment()
    paths = list(paths)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if not isinstance(jobs, int) or jobs < 1:
        invalid("jobs", jobs, "must be a whole number ≥ 1")
    journal = Journal(out) if out is not None else None
    done: dict[tuple[str, str], dict[str, Any]] = {}
    if journal is not None:
        out.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        if resume:
            done = journal.done()
        else:
            journal.reset()
    results: dict[int, dict[str, Any]] = {}
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
        for i, outcome in _graded(todo, assignment, jobs, sandbox, hidden):
            if isinstance(outcome, GradingFailed):
                results[i] = _grader_failure(paths[i], outcome.message, assignment)
            else:
                results[i] = canonical(outcome)
                if journal is not None:
                    journal.append(results[i])
            if on_verdict:
                on_verdict(results[i])
    return [results[i] for i in range(len(paths))]
