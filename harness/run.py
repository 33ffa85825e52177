"""Stage 2, run: execute a submission in a worker's fresh child and collect plain data.

The grader never executes student code.  A :class:`Pool` keeps ``jobs`` warm
workers (``harness/worker.py``, each inside its own sandbox, torch imported
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

import json
import math
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import GraderError
from harness.load import Submission
from harness.sandbox import Limits, SandboxMode, claim_uid, worker_command, worker_environment

if TYPE_CHECKING:  # torch is imported where values are decoded, so that a pool can start first
    import torch

GRACE_S = 5.0  # how long past its timeout the grader waits for a worker before killing it
START_TIMEOUT_S = 120.0
MAX_LINE = 64 * 1024 * 1024  # a worker's line: an exit event holds up to 2 × 4 MiB of output, escaped
MAX_DIMS = 8
FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64"}
CHILD_EVENTS = frozenset({"bind", "raised", "executed", "return", "call_error", "blocked", "ipython", "missing_module"})
WORKER_EVENTS = frozenset({"ready", "exit"})


# ---------------------------------------------------------------- plain data in


@dataclass(frozen=True)
class Value:
    """A value the submission bound or returned, decoded and validated.

    ``tensor`` is float64 for numeric values (``dtype`` keeps what it was);
    ``items`` holds the parts of a tuple or list that was not a plain array.
    """

    kind: str  # tensor | ndarray | number | list | tuple | function | too_large | other | unbound
    dtype: str | None = None
    tensor: torch.Tensor | None = None
    items: tuple[Value, ...] = ()
    description: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.tensor is not None


def decode_value(data: Any, depth: int = 0) -> Value:
    """Validate and decode one encoded value; anything malformed becomes ``other``."""
    import torch

    if not isinstance(data, dict) or depth > 5:
        return Value(kind="other", description="malformed")
    kind = data.get("t")
    if kind in ("tensor", "ndarray"):
        shape, values, dtype = data.get("shape"), data.get("data"), str(data.get("dtype", ""))
        if not (
            isinstance(shape, list) and len(shape) <= MAX_DIMS and all(isinstance(n, int) and n >= 0 for n in shape)
        ):
            return Value(kind="other", description="malformed shape")
        if not isinstance(values, list) or len(values) != math.prod(shape):
            return Value(kind="other", description="malformed data")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return Value(kind="other", description="non-numeric data")
        tensor = torch.tensor(values, dtype=torch.float64).reshape(shape)
        return Value(kind=kind, dtype=_dtype_name(dtype), tensor=tensor, description=f"{kind} {dtype}")
    if kind == "number":
        v = data.get("v")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return Value(kind="other", description="malformed number")
        return Value(kind="number", dtype="float64", tensor=torch.tensor(float(v), dtype=torch.float64))
    if kind in ("list", "tuple"):
        raw = data.get("items")
        if not isinstance(raw, list):
            return Value(kind="other", description="malformed sequence")
        items = tuple(decode_value(item, depth + 1) for item in raw)
        return Value(kind=kind, items=items, tensor=_nested_tensor(items), dtype="float64")
    if kind in ("function", "too_large", "unbound"):
        return Value(kind=kind, description=str(data.get("shape", "")))
    return Value(kind="other", description=str(data.get("type", "?"))[:100])


def _nested_tensor(items: tuple[Value, ...]) -> torch.Tensor | None:
    """A list of numbers (or of equal-length lists of numbers) read as an array."""
    if not items or any(item.tensor is None for item in items):
        return None
    import torch

    parts = [item.tensor for item in items if item.tensor is not None]
    if len({tuple(p.shape) for p in parts}) != 1:
        return None
    return torch.stack(parts)


def _dtype_name(dtype: str) -> str:
    name = dtype.replace("torch.", "")
    return name if name in FLOAT_DTYPES else ("float64" if name.startswith(("int", "uint", "bool")) else name)


def encode_argument(tensor: torch.Tensor, dtype: str, as_numpy: bool) -> dict[str, Any]:
    """An input the grader generated, as plain data for the child."""
    import torch

    return {
        "t": "ndarray" if as_numpy else "tensor",
        "dtype": dtype,
        "shape": list(tensor.shape),
        "data": tensor.detach().to(torch.float64).reshape(-1).tolist(),
    }


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class CapturedError:
    """An exception the submission raised, as data."""

    type: str
    message: str
    where: str  # "cell 4, line 2"
    traceback: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> CapturedError:
        line = event.get("line")
        label = str(event.get("label", ""))[:200]
        where = f"{label}, line {line}" if isinstance(line, int) and label else label
        return cls(
            type=str(event.get("type", "Exception"))[:100],
            message=str(event.get("message", ""))[:2000],
            where=where,
            traceback=str(event.get("traceback", ""))[:4000],
        )

    def __str__(self) -> str:
        text = f"{self.type}: {self.message}" if self.message else self.type
        return f"{text} ({self.where})" if self.where else text


@dataclass(frozen=True)
class Binding:
    """After statement ``statement`` (in ``label``), ``name`` held ``value``."""

    statement: int
    label: str
    name: str
    value: Value


@dataclass(frozen=True)
class Ending:
    """How the child process ended, as its supervisor saw it."""

    reason: str  # ended | exited | timeout | output | protocol | worker-died | grader-gone
    code: int | None = None
    signal: str | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    cpu_limit_reached: bool = False  # the child had used its CPU time when it died

    def problem(self, limits: Limits) -> str | None:
        """A sentence when the way it ended is itself a verdict, else ``None``."""
        if self.reason == "timeout":
            return f"the submission ran past its time limit of {limits.timeout:g} s and was stopped"
        if self.reason == "output":
            return f"the submission printed more than {limits.output_bytes // 1024} KiB and was stopped"
        if self.reason == "worker-died":
            return "the submission killed or broke the process that supervised it"
        if self.reason == "protocol":
            return "the submission's results could not be read (an oversized or garbled value)"
        if self.reason == "exited" and (
            self.signal == "SIGXCPU" or (self.signal == "SIGKILL" and self.cpu_limit_reached)
        ):
            return f"the submission used more than its CPU time ({limits.cpu_limit:g} s) and was stopped"
        if self.signal is not None and self.reason == "exited":
            return f"the submission's process crashed ({self.signal})"
        if self.reason == "exited":
            return f"the submission's process exited (exit code {self.code}) before it was done"
        return None


@dataclass
class Outcome:
    """Everything the run stage learned about one submission (like pytest's ``CallInfo``)."""

    history: list[Binding] = field(default_factory=list)
    error: CapturedError | None = None
    functions: tuple[str, ...] = ()
    blocked_imports: list[str] = field(default_factory=list)
    ipython: list[str] = field(default_factory=list)
    missing_modules: list[str] = field(default_factory=list)  # imports the grader could not satisfy
    executed: bool = False  # the child reached the end of the code (raising or not)
    ending: Ending | None = None
    duration_s: float = 0.0
    isolation: str = ""

    def final(self, name: str) -> Value | None:
        """The last value bound to ``name`` (``None`` if it was never bound or was deleted)."""
        for binding in reversed(self.history):
            if binding.name == name:
                return None if binding.value.kind == "unbound" else binding.value
        return None


@dataclass(frozen=True)
class CallResult:
    """What one call of a submission's function gave: a value, or the error it raised."""

    value: Value | None
    error: CapturedError | None
    duration_s: float


# ---------------------------------------------------------------- workers


class _Lines:
    """Reads the worker's framed JSON lines with a deadline, never more than ``MAX_LINE`` per line.

    The first byte of a line says who wrote it: ``w`` the worker, ``c`` the child
    (relayed unread).  An event of the wrong kind for its writer is dropped, so a
    child cannot forge the worker's ``exit``.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def read(self, deadline: float) -> dict[str, Any] | None:
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                raise EOFError
            self.buf += chunk
            if len(self.buf) > MAX_LINE and b"\n" not in self.buf:
                raise EOFError
        line, _, self.buf = self.buf.partition(b"\n")
        frame, body = line[:1], line[1:]
        try:
            event = json.loads(body)
        except ValueError:
            return None
        if not isinstance(event, dict):
            return None
        allowed = WORKER_EVENTS if frame == b"w" else CHILD_EVENTS if frame == b"c" else frozenset()
        return event if event.get("ev") in allowed else None


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
        self, slot: int, mode: SandboxMode, hide: list[Path], spawner: _Spawner | None = None, warm: bool = True
    ) -> None:
        self.slot = slot
        self.warm = warm
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
        command = worker_command(self.slot, self.mode, self.hide, self.uid, warm=self.warm)
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
        if not ready or ready.get("ev") != "ready":
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

    @property
    def callable(self) -> bool:
        return not self.closed and self.outcome.executed and self.outcome.ending is None

    def _event(self) -> dict[str, Any] | None:
        """The next event; ``None`` once the child has ended (``outcome.ending`` says how)."""
        while True:
            try:
                event = self.worker.read(self.deadline)
            except TimeoutError:  # the worker itself did not answer in time: it is replaced
                self._end(Ending(reason="timeout"), replace_worker=True)
                return None
            except EOFError:
                self._end(Ending(reason="worker-died"), replace_worker=True)
                return None
            if event is None:
                continue
            kind = event.get("ev")
            if kind == "bind":
                values = event.get("values")
                if isinstance(values, dict):
                    statement = event.get("statement")
                    label = str(event.get("label", ""))[:200]
                    for name, data in values.items():
                        self.outcome.history.append(
                            Binding(
                                statement=statement if isinstance(statement, int) else 0,
                                label=label,
                                name=str(name)[:100],
                                value=decode_value(data),
                            )
                        )
            elif kind == "raised":
                self.outcome.error = CapturedError.from_event(event)
            elif kind == "blocked":
                self.outcome.blocked_imports.append(str(event.get("module", ""))[:200])
            elif kind == "ipython":
                self.outcome.ipython.append(str(event.get("call", ""))[:300])
            elif kind == "missing_module":
                self.outcome.missing_modules.append(str(event.get("module", ""))[:200])
            elif kind == "exit":
                if event.get("id") != self.job_id:
                    continue  # not this job's (cannot happen with a sane worker)
                self._end(
                    Ending(
                        reason=str(event.get("reason", "exited"))[:40],
                        code=event.get("code") if isinstance(event.get("code"), int) else None,
                        signal=str(event["signal"])[:40] if event.get("signal") else None,
                        stdout=str(event.get("stdout", "")),
                        stderr=str(event.get("stderr", "")),
                        stdout_bytes=_count(event.get("stdout_bytes")),
                        stderr_bytes=_count(event.get("stderr_bytes")),
                        cpu_limit_reached=event.get("cpu_limit_reached") is True,
                    )
                )
                return None
            elif kind == "ready":
                continue
            else:
                return event

    def _end(self, ending: Ending, replace_worker: bool = False) -> None:
        self.outcome.ending = ending
        self.outcome.duration_s = time.monotonic() - self.started
        self.closed = True
        if replace_worker:
            self.worker.stop()  # stuck, dead or compromised: a fresh one for the next submission

    def wait_executed(self) -> None:
        while not self.outcome.executed and not self.closed:
            event = self._event()
            if event is not None and event.get("ev") == "executed":
                functions = event.get("functions")
                if isinstance(functions, list):
                    self.outcome.functions = tuple(str(f)[:100] for f in functions)
                self.outcome.executed = True

    def call(self, fn: str, args: list[dict[str, Any]]) -> CallResult:
        """Call the submission's ``fn`` on encoded ``args``; an error or a dead child is data."""
        started = time.monotonic()
        if not self.callable or not self.worker.send({"op": "call", "id": self.job_id, "fn": fn, "args": args}):
            reason = self.outcome.ending.problem(self.limits) if self.outcome.ending else None
            return CallResult(
                None, CapturedError("NotRun", reason or "the submission is no longer running", "", ""), 0.0
            )
        while True:
            event = self._event()
            if event is None:
                assert self.outcome.ending is not None
                reason = self.outcome.ending.problem(self.limits) or "the submission stopped"
                return CallResult(None, CapturedError("Stopped", reason, f"in {fn}()", ""), time.monotonic() - started)
            if event.get("ev") == "return":
                return CallResult(decode_value(event.get("value")), None, time.monotonic() - started)
            if event.get("ev") == "call_error":
                return CallResult(
                    None, CapturedError.from_event({**event, "label": f"in {fn}()"}), time.monotonic() - started
                )

    def close(self) -> Outcome:
        if not self.closed:
            if not self.worker.send({"op": "end", "id": self.job_id}):
                self._end(Ending(reason="worker-died"), replace_worker=True)
            while not self.closed:
                self._event()
        return self.outcome


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


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
        self, jobs: int, mode: SandboxMode = "auto", hide: list[Path] | None = None, *, warm: bool = True
    ) -> None:
        """``warm``: each worker warms torch up and backs itself with huge pages before its
        first job (≈ 0.15 s once, then each job is faster): right for a batch, not for one file."""
        from harness.errors import invalid
        from harness.sandbox import hidden_paths

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
                self.workers.append(Worker(slot, mode, self.hide, self.spawner, warm=warm))
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
        self, submission: Submission, limits: Limits, names: list[str], functions: list[str]
    ) -> Iterator[Session]:
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
            job = {
                "op": "job",
                "id": worker.jobs,
                "cells": [[cell.label, cell.source] for cell in submission.cells],
                "names": names,
                "functions": functions,
                "limits": limits.as_data(),
                "seed": submission.seed,
                "argv0": submission.path.name,
            }
            if not worker.send(job):  # it died between two jobs (not this submission's doing): once more
                worker.stop()
                worker.start()
                if not worker.send(job):
                    session._end(Ending(reason="worker-died"), replace_worker=True)
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
            if worker.alive:
                worker.send({"op": "quit"})
        deadline = time.monotonic() + 2.0
        for worker in self.workers:
            if worker.proc is not None:
                try:
                    worker.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            worker.release()
        self.spawner.stop()
        from harness.sandbox import fallback_base_path

        try:
            fallback_base_path().rmdir()
        except OSError:
            pass

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- a batch across grader processes


@dataclass(frozen=True)
class GradingFailed:
    """The grader itself failed on one submission (a bug, not the submission's doing)."""

    message: str


_GRADER_MAIN = "from harness.run import _grader_process_main; _grader_process_main()"
_PR_SET_PDEATHSIG = 1


def grade_in_processes(
    items: list[tuple[int, Path]],
    assignment: Any,
    processes: int,
    sandbox: SandboxMode = "auto",
    hide: list[Path] | None = None,
) -> Iterator[tuple[int, dict[str, Any] | GradingFailed]]:
    """Grade ``items`` (index, path) in ``processes`` grader processes, one worker each.

    Yields ``(index, verdict data)`` as each submission is done, in the order they finish.

    Why processes and not threads: the check stage (truth, finite differences, diagnosis) is
    pure Python on small tensors, so two grading threads share one GIL; each time one of them
    waited for its worker it had to win the GIL back from the other, and on 2 cores two
    threads graded no faster than one (116 context switches and +60 % CPU per submission).
    A single-threaded grader process per slot keeps its worker busy while it checks.

    Each grader process imports the grader once and runs its own :class:`Pool` of one
    worker; work is handed out two at a time, so none waits for the next path.  A grader
    process dies with its parent (PR_SET_PDEATHSIG, bound to the thread that calls this),
    and its workers die with it.  Only plain verdict data and paths cross between the
    grader's own processes (pickled: both ends are the grader, never the submission).
    """
    if not items:
        return
    processes = max(1, min(processes, len(items)))
    pending = list(reversed(items))
    graders = [_GraderProcess(slot, assignment, sandbox, hide or []) for slot in range(processes)]
    try:
        for grader in graders:
            grader.handshake()
        while pending or any(g.outstanding for g in graders):
            for grader in graders:
                while pending and len(grader.outstanding) < 2 and grader.alive:
                    grader.give(pending.pop())
            ready = _wait_any([g.reader for g in graders if g.outstanding])
            for grader in graders:
                if grader.reader not in ready:
                    continue
                try:
                    message = grader.reader.recv()
                except (EOFError, OSError):
                    # It died (killed from outside, or a crash): its submissions go to the others,
                    # or to a fresh one.
                    pending.extend(grader.outstanding.values())
                    grader.outstanding.clear()
                    grader.restart()
                    continue
                kind = message[0]
                if kind == "fatal":
                    raise GraderError(str(message[1]))
                index = int(message[1])
                grader.outstanding.pop(index, None)
                yield index, (message[2] if kind == "done" else GradingFailed(str(message[2])))
    finally:
        for grader in graders:
            grader.stop()


def _wait_any(readers: list[Any]) -> list[Any]:
    from multiprocessing.connection import wait

    return list(wait(readers))


class _GraderProcess:
    """The parent's handle on one grader process (see :func:`grade_in_processes`)."""

    RESTARTS = 3

    def __init__(self, slot: int, assignment: Any, sandbox: SandboxMode, hide: list[Path]) -> None:
        self.slot = slot
        self.setup = (assignment, sandbox, hide)
        self.outstanding: dict[int, tuple[int, Path]] = {}
        self.restarts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        from multiprocessing.connection import Connection

        # Started from the calling thread: PR_SET_PDEATHSIG follows it (it waits for the batch).
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _GRADER_MAIN, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.writer = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.reader = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.writer.send(self.setup)
        self.ready = False

    def handshake(self) -> None:
        try:
            message = self.reader.recv()
        except (EOFError, OSError):
            raise GraderError("a grader process failed to start") from None
        if message[0] != "ready":
            raise GraderError(str(message[1]))
        self.ready = True

    @property
    def alive(self) -> bool:
        return self.proc is not None

    def give(self, item: tuple[int, Path]) -> None:
        self.outstanding[item[0]] = item
        try:
            self.writer.send(item)
        except OSError:
            pass  # it died: the read that follows says so

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        if self.restarts > self.RESTARTS:
            raise GraderError(f"grader process {self.slot} died {self.restarts} times")
        self.start()
        self.handshake()

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.writer.send(None)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for conn in (self.writer, self.reader):
            conn.close()
        self.proc = None


def _grader_process_main() -> None:
    """A grader process: one pool of one worker; paths in, verdict data out, until told to stop."""
    import ctypes
    from multiprocessing.connection import Connection

    parent = int(sys.argv[1])
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    reader = Connection(os.dup(0), writable=False)
    writer = Connection(os.dup(1), readable=False)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # a stray print goes to stderr, never into the channel
    import torch

    torch.set_num_threads(1)
    from harness.grade import grade_submission, verdict_data

    assignment, sandbox, hide = reader.recv()
    try:
        pool = Pool(1, sandbox, hide)
        pool.start()
    except GraderError as exc:
        writer.send(("fatal", str(exc)))
        return
    with pool:
        writer.send(("ready", pool.isolation))
        while True:
            try:
                item = reader.recv()
            except EOFError:
                return
            if item is None:
                return
            index, path = item
            try:
                data = verdict_data(grade_submission(path, pool, assignment))
            except GraderError as exc:
                writer.send(("fatal", str(exc)))
                return
            except Exception as exc:
                writer.send(("failed", index, f"{type(exc).__name__}: {exc}"))
            else:
                writer.send(("done", index, data))
