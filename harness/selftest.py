"""The student's self-test: ``gradproof selftest FILE``.

The visible checks with their diagnoses, friendly and short; the hidden ones
(and those shown only after the due date or publication) only counted.  The
exit status (decided by the CLI from :attr:`SelfTest.ok`) is 0 when every
visible check passes.

Latency: one submission, one worker.  The worker imports torch inside its
sandbox and the grader imports torch too, for the check stage.  Done one
after the other that is two torch imports; here the worker is spawned
*before* the grader imports torch (nothing up to the spawn imports it: the
spec, the loader and the sandbox's command line are torch-free), so the two
imports overlap on two cores and a self-test costs about one torch import plus
the grading itself (``bench/selftest_latency.py`` measures it).
"""

from __future__ import annotations

import importlib.util
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.assignment import Assignment, load_spec
from harness.errors import invalid
from harness.sandbox import SandboxMode, WorkerCommand, worker_command

HIDDEN_NOTE = "graded when you submit; not shown here"


@dataclass
class SelfTest:
    """What the self-test found: the text to print, and whether every visible check passed."""

    text: str
    ok: bool
    verdict: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    early_worker: bool = False  # whether the worker was started before torch was imported here


# ---------------------------------------------------------------- the early worker


def grader_paths(extra: list[Path]) -> list[Path]:
    """What ``harness.sandbox.hidden_paths`` returns, found without importing ``reference`` (and so torch)."""
    found: list[Path] = []
    for package in ("harness", "reference"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            found.append(Path(list(spec.submodule_search_locations)[0]))
    found += extra
    harness_dir = Path(__file__).parent
    checkout = harness_dir.parent
    if (checkout / "pyproject.toml").exists():
        found += [checkout / name for name in ("tests", "submissions", "bench", ".git", ".ci")]
    protected = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent}
    result: list[Path] = []
    for path in found:
        path = path.resolve()
        if not path.is_dir() or path == Path("/"):
            continue
        if any(p == path or path in p.parents for p in protected):
            continue
        if path not in result:
            result.append(path)
    return result


@dataclass
class _Early:
    command: WorkerCommand
    proc: subprocess.Popen[bytes]
    log: io.BufferedRandom
    uid: int | None
    uid_lock: int | None


# What adopting an early worker needs of harness.run; without any of it the pool starts as usual.
_WORKER_ATTRS = ("proc", "lines", "isolation", "log", "uid", "_uid_lock", "wait_ready")


def _spawn_early(mode: SandboxMode, hide: list[Path]) -> _Early | None:
    """Start worker slot 0 the way ``harness.run.Worker.spawn`` does, before torch is imported here.

    ``None`` where that cannot be done the same way (the pool then starts its worker itself).
    """
    from harness import sandbox

    claim = getattr(sandbox, "claim_uid", None)
    environment = getattr(sandbox, "worker_environment", None)
    if claim is None or environment is None:
        return None
    uid, uid_lock = claim() if os.geteuid() == 0 else (None, None)
    try:
        command = worker_command(0, mode, grader_paths(hide), uid)
    except BaseException:
        if uid_lock is not None:
            os.close(uid_lock)
        raise
    log = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(command.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                start_new_session=True, close_fds=True, env=environment())
    except OSError:
        log.close()
        if uid_lock is not None:
            os.close(uid_lock)
        return None
    return _Early(command, proc, log, uid, uid_lock)


def _adopt(early: _Early | None, mode: SandboxMode, hide: list[Path]) -> tuple[Any, bool]:
    """A started one-worker :class:`harness.run.Pool` and whether it is the early worker."""
    from harness import run

    pool = run.Pool(1, mode, hide)
    if early is not None:
        worker = pool.workers[0]
        if all(hasattr(worker, a) for a in _WORKER_ATTRS) and hasattr(run, "_Lines") and hasattr(pool, "_started"):
            assert early.proc.stdout is not None
            if worker._uid_lock is not None:  # the uid this worker claimed: it takes the early one's instead
                os.close(worker._uid_lock)
            worker.log.close()
            worker.proc, worker.log, worker.isolation = early.proc, early.log, early.command.isolation
            worker.uid, worker._uid_lock = early.uid, early.uid_lock
            worker.lines = run._Lines(early.proc.stdout.fileno())
            try:
                worker.wait_ready()  # a worker that failed to start raises, as in Pool.start
            except BaseException:
                pool.close()
                raise
            pool.free.put(worker)
            pool._started = True
            return pool, True
        _kill(early)
    pool.start()
    return pool, False


def _kill(early: _Early) -> None:
    if early.proc.poll() is None:
        try:
            os.killpg(early.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            early.proc.kill()
    early.proc.wait()
    for stream in (early.proc.stdin, early.proc.stdout):
        if stream is not None:
            stream.close()
    early.log.close()
    if early.uid_lock is not None:
        os.close(early.uid_lock)


# ---------------------------------------------------------------- the self-test


def _warm_up() -> None:
    import importlib

    for name in ("harness.properties",):
        try:
            importlib.import_module(name)
        except Exception:  # an optional speed-up; the check stage imports what it needs anyway
            pass


def run_selftest(path: Path, spec: Path | None = None, *, sandbox: SandboxMode = "auto",
                 timeout: float | None = None) -> SelfTest:
    """Grade one file and describe what its author may see."""
    from dataclasses import replace

    from harness.load import collect

    started = time.monotonic()
    assignment = load_spec(spec)
    if timeout is not None:
        assignment = replace(assignment, limits=replace(assignment.limits, timeout=timeout))
    if path.is_dir():
        invalid("file", str(path), "expected one .py or .ipynb file (the self-test grades one submission)")
    files = collect([path])
    hide = [path.resolve().parent]
    early = _spawn_early(sandbox, hide)
    try:
        from harness.grade import grade_submission, verdict_data  # imports torch while the worker does
    except BaseException:
        if early is not None:
            _kill(early)
        raise
    warm = threading.Thread(target=_warm_up, daemon=True)
    warm.start()  # what the check stage imports lazily loads while the worker finishes starting
    pool, adopted = _adopt(early, sandbox, hide)
    try:
        with warnings.catch_warnings():  # the grader's own warnings are not the student's business
            warnings.simplefilter("ignore")
            verdict = verdict_data(grade_submission(files[0], pool, assignment, display=str(path)))
    finally:
        for worker in pool.workers:  # nothing more to run: no graceful goodbye, the sandbox goes at once
            worker.stop()
        pool.close()
    result = describe(verdict, assignment)
    result.seconds = time.monotonic() - started
    result.early_worker = adopted
    return result


def _indent(text: str, prefix: str = "        ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def describe(verdict: dict[str, Any], assignment: Assignment) -> SelfTest:
    """The self-test's text for one verdict (report.json schema): visible checks in full, hidden ones counted."""
    name = Path(verdict["submission"]).name
    lines = [f"gradproof self-test: {name} (assignment {assignment.name})", ""]
    if verdict["status"] == "error":
        lines += [f"Not graded: {verdict['error']}", "", "Fix this first: the grader cannot check anything yet."]
        return SelfTest("\n".join(lines) + "\n", ok=False, verdict=verdict)
    checks = verdict.get("checks") or []
    shown = [c for c in checks if assignment.visible(c["name"])]
    hidden = [c for c in checks if not assignment.visible(c["name"])]
    width = max((len(c["name"]) for c in shown), default=6)
    for c in shown:
        ok = c["status"] == "pass"
        points = f"{c['score']:g}/{c['max_score']:g}"
        tag = "PASS" if ok else {"missing": "MISSING", "error": "ERROR"}.get(c["status"], "FAIL")
        lines.append(f"  {tag:<7} {c['name']:<{width}}  {points}")
        if not ok:
            lines.append(_indent(c["message"]))
            if c.get("diagnosis"):
                lines.append(_indent(f"Likely mistake: {c['diagnosis']['message']}"))
    for note in verdict.get("notes") or []:
        lines.append(f"  Note: {note}")
    passed = sum(c["status"] == "pass" for c in shown)
    score = sum(c["score"] for c in shown)
    out_of = sum(c["max_score"] for c in shown)
    lines += ["", f"{passed} of {len(shown)} visible checks pass ({score:g} of {out_of:g} points)."]
    if hidden:
        lines.append(f"{len(hidden)} more check{'s are' if len(hidden) != 1 else ' is'} hidden: {HIDDEN_NOTE}.")
    ok = passed == len(shown)
    if not shown and not hidden:
        lines.append("No check could run: does the file define the names of the assignment?")
        ok = False
    return SelfTest("\n".join(lines) + "\n", ok=ok, verdict=verdict)



