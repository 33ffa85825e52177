"""Stage 2, run: execute a submission in a worker's fresh child and collect plain data.

The grader never executes student code.  A :class:`Pool` keeps ``jobs`` warm
workers (``harness/run/worker.py``, each inside its own sandbox, torch imported
once); each submission gets a fresh forked child.  Every worker process is
started by one long-lived thread of the pool (bubblewrap's ``--die-with-parent``
follows the *thread* that started it, so a worker started from a short-lived
thread would die with that thread).  What comes back is data,
decoded and validated here: the history of the contract's names statement by
statement, the error that stopped it, how the process ended.  Function-style
submissions stay alive during the check stage so that the grader can call
their functions on inputs it generates (:meth:`Session.call`).
"""

from __future__ import annotations

import gc
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import harness.wire as wire
from harness.errors import GraderError, invalid
from harness.records.assignment import Limits
from harness.records.outcome import Binding, CallResult, CapturedError, Ending, Outcome, SandboxMode
from harness.records.submission import Submission
from harness.run.sandbox import claim_uid, fallback_base_path, hidden_paths, worker_command, worker_environment
from harness.run.values import decode_value  # torch is imported where values are decoded: a pool starts first

GRACE_S = 5.0  # how long past its timeout the grader waits for a worker before killing it
START_TIMEOUT_S = 120.0


# ---------------------------------------------------------------- workers


class _Lines:
    """Reads the worker's framed events with a deadline, never more than ``wire.MAX_LINE`` per line.

    The first byte of a line says who wrote it: the worker, or the child (relayed unread).  An
    event of the wrong kind for its writer is dropped, so a child cannot forge the worker's
    ``exit`` (:func:`harness.wire.read_event`).
    """

    def __init__(self, fd: int) -> None:
        self.lines = wire.LineReader(fd, limit=wire.MAX_LINE)

    def read(self, deadline: float) -> dict[str, Any] | None:
        return wire.read_event(self.lines.read(deadline))


class _Spawner:
    """The one long-lived thread that starts every worker process of a pool.

    bubblewrap's ``--die-with-parent`` (PR_SET_PDEATHSIG) fires when the *thread*
    that started it ends.  Restarting a worker from a thread of a
    ``ThreadPoolExecutor`` would tie the new worker's life to that thread; here
    every start, the first and each restart, happens on this thread, which lives
    as long as the pool.
    """

    def __init__(self) -> None:
        self.requests: queue.Queue[tuple[list[str], dict[str, Any], threading.Event, dict[str, Any]] | None] = (
            queue.Queue()
        )
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._serve, name="gradproof-spawner", daemon=True)
                self.thread.start()
        done = threading.Event()
        box: dict[str, Any] = {}
        self.requests.put((argv, kwargs, done, box))
        done.wait()
        if "error" in box:
            raise box["error"]
        proc: subprocess.Popen[bytes] = box["proc"]
        return proc

    def _serve(self) -> None:
        while True:
            item = self.requests.get()
            if item is None:
                return
            argv, kwargs, done, box = item
            try:
                box["proc"] = subprocess.Popen(argv, **kwargs)
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

    def stop(self) -> None:
        with self.lock:
            thread, self.thread = self.thread, None
        if thread is not None and thread.is_alive():
            self.requests.put(None)
            if thread is not threading.current_thread():
                thread.join()


class Worker:
    """The grader's handle on one worker process (one ``--jobs`` slot)."""

    def __init__(
        self,
        slot: int,
        mode: SandboxMode,
        hide: list[Path],
        spawner: _Spawner | None = None,
        warm: bool = True,
        scratch_bytes: int | None = None,
        huge_pages: bool | None = None,
    ) -> None:
        self.slot = slot
        self.warm = warm
        self.huge_pages = huge_pages
        self.scratch_bytes = scratch_bytes
        self.mode: SandboxMode = mode
        self.hide = hide
        self.spawner = spawner or _Spawner()
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: _Lines | None = None
        self.isolation = ""
        self.log = tempfile.TemporaryFile()
        self.jobs = 0  # job ids: a message of an earlier job is never taken for this one's
        self.uid: int | None = None
        self._uid_lock: int | None = None
        if os.geteuid() == 0:
            self.uid, self._uid_lock = claim_uid()

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process (the torch import then runs while other workers spawn)."""
        command = worker_command(
            self.slot,
            self.mode,
            self.hide,
            self.uid,
            warm=self.warm,
            huge_pages=self.huge_pages,
            scratch_bytes=self.scratch_bytes,
        )
        self.isolation = command.isolation
        self.log.seek(0)
        self.log.truncate()
        self.proc = self.spawner.popen(
            command.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
            close_fds=True,
            env=worker_environment(),
        )
        assert self.proc.stdout is not None
        self.lines = _Lines(self.proc.stdout.fileno())

    def wait_ready(self) -> None:
        assert self.lines is not None
        try:
            ready = self.lines.read(time.monotonic() + START_TIMEOUT_S)
        except (TimeoutError, EOFError):
            ready = None
        if not ready or ready.get(wire.EVENT) != wire.EV_READY:
            self.stop()
            self.log.seek(0)
            tail = self.log.read()[-2000:].decode(errors="replace")
            raise GraderError(f"a grading worker failed to start: {tail.strip() or 'no output'}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, message: dict[str, Any]) -> bool:
        if self.proc is None or self.proc.stdin is None:
            return False
        data = memoryview(json.dumps(message).encode() + b"\n")
        try:
            fd = self.proc.stdin.fileno()
            while data:  # one write(2) for a usual message: every system call is a chance to lose the GIL
                data = data[os.write(fd, data) :]
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def read(self, deadline: float) -> dict[str, Any] | None:
        assert self.lines is not None
        return self.lines.read(deadline)

    def stop(self) -> None:
        """Kill the worker (bubblewrap takes its whole pid namespace along) and what it left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self.proc = None
        if self.uid is not None and "bubblewrap" not in self.isolation:
            _kill_uid_processes(self.uid)  # no namespace to take them along: the uid says whose they are

    def release(self) -> None:
        """Stop for good: also give back the uid and the log."""
        self.stop()
        if self._uid_lock is not None:
            os.close(self._uid_lock)
            self._uid_lock = None
        self.log.close()


def _kill_uid_processes(uid: int) -> None:
    """Kill every process of ``uid`` (the grader is root here); used when a worker itself was killed."""
    for _ in range(20):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                os.kill(int(entry), signal.SIGKILL)
                found = True
            except (OSError, ValueError):
                continue
        if not found:
            return
        time.sleep(0.01)


class Session:
    """One submission running in one worker's child."""

    def __init__(self, worker: Worker, limits: Limits, outcome: Outcome, started: float, job_id: int = 0) -> None:
        self.worker = worker
        self.limits = limits
        self.outcome = outcome
        self.started = started
        self.deadline = started + limits.timeout + GRACE_S
        self.job_id = job_id
        self.closed = False
        self.in_call = False  # a return or call_error event is only ever the answer to a call
        self.reruns = 0  # the reruns the job may still do (see rerun)

    @property
    def callable(self) -> bool:
        return not self.closed and self.outcome.executed and self.outcome.ending is None

    def _event(self) -> dict[str, Any] | None:
        """The next event; ``None`` once the child has ended (``outcome.ending`` says how)."""
        while True:
            try:
                event = self.worker.read(self.deadline)
            except TimeoutError:  # the worker itself did not answer in time: it is replaced
                self._end(Ending(reason=wire.END_TIMEOUT), replace_worker=True)
                return None
            except EOFError:
                self._end(Ending(reason=wire.END_WORKER_DIED), replace_worker=True)
                return None
            if event is None:
                continue
            taken: Any = self._CONTINUE
            try:
                forged = self._forged(event)
                if forged is None:
                    taken = self._take(event)
            except Exception as exc:  # a value the grader cannot read is the child's doing, not the grader's
                forged = f"an event the grader cannot read: {type(exc).__name__}"
            if forged is not None:
                self._end(Ending(reason=wire.END_FORGED, detail=forged), replace_worker=True)
                return None
            if taken is not self._CONTINUE:
                return taken  # type: ignore[no-any-return]

    _CONTINUE: Any = object()

    def _forged(self, event: dict[str, Any]) -> str | None:
        """Why ``event`` cannot come from an honest run at this point, or ``None``."""
        kind = event.get(wire.EVENT)
        if self.outcome.executed and kind in (wire.EV_BIND, wire.EV_EXECUTED, wire.EV_RAISED):
            return f"a {kind!r} event after the submission had run"
        if not self.in_call and kind in (wire.EV_RETURN, wire.EV_CALL_ERROR):
            return f"a {kind!r} event with no call made"
        return None

    def _take(self, event: dict[str, Any]) -> Any:
        """Record ``event`` in the outcome: ``_CONTINUE`` to read on, ``None`` once the child has
        ended, else the event itself (the caller reads it)."""
        kind = event.get(wire.EVENT)
        if kind == wire.EV_BIND:
            values = event.get("values")
            if isinstance(values, dict):
                statement = event.get("statement")
                label = str(event.get("label", ""))[: wire.MAX_LABEL_CHARS]
                for name, data in values.items():
                    self.outcome.history.append(
                        Binding(
                            statement=statement if isinstance(statement, int) else 0,
                            label=label,
                            name=str(name)[: wire.MAX_NAME_CHARS],
                            value=decode_value(data),
                        )
                    )
        elif kind == wire.EV_RAISED:
            self.outcome.error = CapturedError.from_event(event)
        elif kind == wire.EV_BLOCKED:
            self.outcome.blocked_imports.append(str(event.get("module", ""))[: wire.MAX_LABEL_CHARS])
        elif kind == wire.EV_IPYTHON:
            self.outcome.ipython.append(str(event.get("call", ""))[: wire.MAX_CALL_CHARS])
        elif kind == wire.EV_MISSING_MODULE:
            self.outcome.missing_modules.append(str(event.get("module", ""))[: wire.MAX_LABEL_CHARS])
        elif kind == wire.EV_AUTOGRAD:
            where = str(event.get("label", ""))[: wire.MAX_LABEL_CHARS]
            what = str(event.get("what", ""))[: wire.MAX_CALL_CHARS]
            self.outcome.autograd.append(f"{where}: {what} (at run time)" if where else f"{what} (at run time)")
        elif kind == wire.EV_EXIT:
            if event.get("id") != self.job_id:
                return self._CONTINUE  # not this job's (cannot happen with a sane worker)
            self._end(
                Ending(
                    reason=str(event.get("reason", wire.END_EXITED))[: wire.MAX_REASON_CHARS],
                    code=event.get("code") if isinstance(event.get("code"), int) else None,
                    signal=str(event["signal"])[: wire.MAX_REASON_CHARS] if event.get("signal") else None,
                    stdout=str(event.get("stdout", "")),
                    stderr=str(event.get("stderr", "")),
                    stdout_bytes=_count(event.get("stdout_bytes")),
                    stderr_bytes=_count(event.get("stderr_bytes")),
                    cpu_limit_reached=event.get("cpu_limit_reached") is True,
                )
            )
            return None
        elif kind == wire.EV_READY:
            return self._CONTINUE
        else:
            return event
        return self._CONTINUE

    def _end(self, ending: Ending, replace_worker: bool = False) -> None:
        self.outcome.ending = ending
        self.outcome.duration_s = time.monotonic() - self.started
        self.closed = True
        if replace_worker:
            self.worker.stop()  # stuck, dead or compromised: a fresh one for the next submission

    def wait_executed(self) -> None:
        while not self.outcome.executed and not self.closed:
            event = self._event()
            if event is not None and event.get(wire.EVENT) == wire.EV_EXECUTED:
                functions = event.get("functions")
                if isinstance(functions, list):
                    self.outcome.functions = tuple(str(f)[: wire.MAX_NAME_CHARS] for f in functions)
                self.outcome.executed = True

    def rerun(self, substitute: Mapping[str, wire.Substitution]) -> Outcome | None:
        """Run the submission again in its child (fresh globals, the grader's inputs), as its next
        run: the run so far ends (its output in ``run_end``) and :attr:`outcome` becomes the new
        run's, returned (wait for it as for the first).  ``None`` where the child cannot (it ended,
        or the job has no rerun left): then a fresh session must run it."""
        if not self.callable or self.reruns <= 0:
            return None
        if not self.worker.send(wire.rerun_message(self.job_id, substitute)):
            self._end(Ending(reason=wire.END_WORKER_DIED), replace_worker=True)
            return None
        self.reruns -= 1
        while True:
            event = self._event()
            if event is None:
                return None  # it ended meanwhile: the run it was in says how
            if event.get(wire.EVENT) == wire.EV_RUN_END and event.get("id") == self.job_id:
                break
        self.outcome.ending = Ending(
            reason=wire.END_ENDED,
            stdout=str(event.get("stdout", "")),
            stderr=str(event.get("stderr", "")),
            stdout_bytes=_count(event.get("stdout_bytes")),
            stderr_bytes=_count(event.get("stderr_bytes")),
        )
        now = time.monotonic()
        self.outcome.duration_s = now - self.started
        self.outcome = Outcome(isolation=self.outcome.isolation)
        self.started, self.deadline = now, now + self.limits.timeout + GRACE_S
        return self.outcome

    def call(self, fn: str, args: list[dict[str, Any]]) -> CallResult:
        """Call the submission's ``fn`` on encoded ``args``; an error or a dead child is data."""
        return self._ask(wire.call_message(self.job_id, fn, args), f"{fn}()")

    def step(
        self,
        action: str,
        target: str,
        args: list[dict[str, Any]] | None = None,
        kwargs: dict[str, dict[str, Any]] | None = None,
        keep_as: str | None = None,
    ) -> CallResult:
        """One step of an assignment in the child (see :func:`harness.wire.step_message`)."""
        message = wire.step_message(self.job_id, action, target, args or [], kwargs, keep_as)
        return self._ask(message, target if action != wire.STEP_CALL else f"{target}()")

    def _ask(self, message: dict[str, Any], fn: str) -> CallResult:
        started = time.monotonic()
        if not self.callable or not self.worker.send(message):
            reason = self.outcome.ending.problem(self.limits) if self.outcome.ending else None
            return CallResult(
                None, CapturedError("NotRun", reason or "the submission is no longer running", "", ""), 0.0
            )
        while True:
            self.in_call = True
            try:
                event = self._event()
            finally:
                self.in_call = False
            if event is None:
                assert self.outcome.ending is not None
                reason = self.outcome.ending.problem(self.limits) or "the submission stopped"
                return CallResult(None, CapturedError("Stopped", reason, f"in {fn}", ""), time.monotonic() - started)
            if event.get(wire.EVENT) == wire.EV_RETURN:
                return CallResult(decode_value(event.get("value")), None, time.monotonic() - started)
            if event.get(wire.EVENT) == wire.EV_CALL_ERROR:
                return CallResult(
                    None, CapturedError.from_event({**event, "label": f"in {fn}"}), time.monotonic() - started
                )

    def close(self) -> Outcome:
        if not self.closed:
            if not self.worker.send(wire.end_message(self.job_id)):
                self._end(Ending(reason=wire.END_WORKER_DIED), replace_worker=True)
            while not self.closed:
                self._event()
        return self.outcome


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@contextmanager
def first_import(module: str) -> Iterator[None]:
    """Around the first import of ``module`` (the grader, and torch with it): no garbage
    collection meanwhile, then everything alive is frozen (``gc.freeze``), as the worker does.

    Torch's import makes ~150,000 objects that live as long as the process; collecting while
    it runs, and traversing them in every full collection after, costs ≈ 0.1 s of CPU for
    nothing.  Frozen objects are still freed when nothing refers to them, only never searched
    for cycles.  Once ``module`` is imported this does nothing (a library caller's objects are
    frozen at most once).
    """
    if module in sys.modules:
        yield
        return
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


SWITCH_INTERVAL_S = 0.0005
_switch_lock = threading.Lock()
_switch_users: list[float] = []


def _faster_thread_switches(on: bool) -> None:
    """While a pool runs, hand the GIL over every 0.5 ms instead of 5 ms.

    A grading thread that waits for its worker (a pipe, a select) gives up the GIL at each
    system call; with another thread checking (pure Python and small tensors) it waited up to
    the switch interval to get it back, each time, while its worker sat idle.  The previous
    interval comes back when the last pool closes.
    """
    with _switch_lock:
        if on:
            _switch_users.append(sys.getswitchinterval())
            sys.setswitchinterval(min(SWITCH_INTERVAL_S, _switch_users[0]))
        elif _switch_users:
            first = _switch_users[0]
            _switch_users.pop()
            if not _switch_users:
                sys.setswitchinterval(first)


class Pool:
    """``jobs`` warm workers; :meth:`session` lends one for one submission."""

    def __init__(
        self,
        jobs: int,
        mode: SandboxMode = "auto",
        hide: list[Path] | None = None,
        *,
        warm: bool = True,
        huge_pages: bool | None = None,
        scratch_bytes: int | None = None,
    ) -> None:
        """``warm``: each worker warms torch up before its first job (≈ 0.05 s once, then each
        job is faster: right even for one file, whose own run and the grader's runs each start
        from the worker's state).  ``huge_pages`` (default: ``warm``): it also backs its memory
        with huge pages (≈ 0.15 s once, then each fork and exit is cheaper: right for a batch,
        not for one file).  ``scratch_bytes``: the size of each worker's private /tmp (the
        assignment's limit)."""
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            invalid("jobs", jobs, "must be a whole number ≥ 1")
        self.jobs = jobs
        self.mode: SandboxMode = mode
        self.hide = hidden_paths(hide or [])
        self.free: queue.Queue[Worker] = queue.Queue()
        self.spawner = _Spawner()
        self.workers: list[Worker] = []
        self._lock = threading.Lock()
        self._spawned = False
        self._started = False
        self._closed = False
        try:
            for slot in range(jobs):
                self.workers.append(
                    Worker(
                        slot,
                        mode,
                        self.hide,
                        self.spawner,
                        warm=warm,
                        scratch_bytes=scratch_bytes,
                        huge_pages=huge_pages,
                    )
                )
        except BaseException:
            self.close()
            raise

    def spawn(self) -> None:
        """Start every worker's process without waiting for it (all on the spawner thread).

        The workers import torch meanwhile: a caller that has not imported torch yet
        (the self-test) does so now, on the other core.  :meth:`start` waits for them.
        """
        with self._lock:
            if self._closed:
                raise GraderError("the pool is closed")
            if self._spawned:
                return
            try:
                for worker in self.workers:
                    worker.spawn()
            except BaseException:
                self.close()
                raise
            self._spawned = True

    def start(self) -> None:
        """Start every worker (spawned if :meth:`spawn` did not) and wait until each is ready."""
        self.spawn()
        with self._lock:
            if self._started:
                return
            if self._closed:
                raise GraderError("the pool is closed")
            try:
                for worker in self.workers:
                    worker.wait_ready()
            except BaseException:
                self.close()
                raise
            for worker in self.workers:
                self.free.put(worker)
            self._started = True
            _faster_thread_switches(True)

    @property
    def isolation(self) -> str:
        return self.workers[0].isolation if self.workers else ""

    @property
    def uids(self) -> list[int]:
        """The uids the workers' children run as (empty unless the grader is root)."""
        return [w.uid for w in self.workers if w.uid is not None]

    @contextmanager
    def session(
        self,
        submission: Submission,
        limits: Limits,
        names: list[str],
        functions: list[str],
        substitute: Mapping[str, wire.Substitution] | None = None,
        runs: int = 1,
    ) -> Iterator[Session]:
        """Run ``submission`` in a fresh child; with ``substitute``, on the grader's inputs; the
        session may then run it again ``runs - 1`` times in the same child (:meth:`Session.rerun`)."""
        self.start()
        worker = self.free.get()
        session: Session | None = None
        try:
            if worker.proc is None:  # stopped after a failure: a fresh one
                worker.start()
            worker.jobs += 1
            started = time.monotonic()
            outcome = Outcome(isolation=worker.isolation)
            session = Session(worker, limits, outcome, started, worker.jobs)
            session.reruns = max(0, min(runs, wire.MAX_RUNS) - 1)
            job = wire.job_message(
                worker.jobs,
                cells=[(cell.label, cell.source) for cell in submission.cells],
                names=names,
                functions=functions,
                limits=limits.as_data(),
                seed=submission.seed,
                argv0=submission.path.name,
                substitute=substitute,
                runs=runs,
            )
            if not worker.send(job):  # it died between two jobs (not this submission's doing): once more
                worker.stop()
                worker.start()
                if not worker.send(job):
                    session._end(Ending(reason=wire.END_WORKER_DIED), replace_worker=True)
            yield session
            session.close()
        except BaseException:
            # The grader failed mid-job (or was interrupted): never lend out a worker that may
            # still be running this job.
            if session is not None and not session.closed:
                worker.stop()
            raise
        finally:
            self.free.put(worker)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._started:
            _faster_thread_switches(False)
        for worker in self.workers:
            if not self._started:  # spawned, never waited for (nothing ran): no goodbye to wait for
                worker.stop()
            elif worker.alive:
                worker.send(wire.quit_message())
        deadline = time.monotonic() + 2.0
        for worker in self.workers:
            if worker.proc is not None:
                try:
                    worker.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            worker.release()
        self.spawner.stop()
        try:
            fallback_base_path().rmdir()
        except OSError:
            pass

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- a batch across grader processes
