"""Stage 2, run: execute a submission in a worker's fresh child and collect plain data.

The grader never executes student code.  A :class:`Pool` keeps ``jobs`` warm
workers (``harness/worker.py``, each inside its own sandbox, torch imported
once); each submission gets a fresh forked child.  What comes back is data,
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
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from harness.errors import GraderError
from harness.load import Submission
from harness.sandbox import Limits, SandboxMode, worker_command

GRACE_S = 5.0  # how long past its timeout the grader waits for a worker before killing it
START_TIMEOUT_S = 120.0
MAX_LINE = 16 * 1024 * 1024
MAX_DIMS = 8
FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64"}


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
    items: tuple["Value", ...] = ()
    description: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.tensor is not None


def decode_value(data: Any, depth: int = 0) -> Value:
    """Validate and decode one encoded value; anything malformed becomes ``other``."""
    if not isinstance(data, dict) or depth > 5:
        return Value(kind="other", description="malformed")
    kind = data.get("t")
    if kind in ("tensor", "ndarray"):
        shape, values, dtype = data.get("shape"), data.get("data"), str(data.get("dtype", ""))
        if not (isinstance(shape, list) and len(shape) <= MAX_DIMS and all(isinstance(n, int) and n >= 0 for n in shape)):
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
    parts = [item.tensor for item in items if item.tensor is not None]
    if len({tuple(p.shape) for p in parts}) != 1:
        return None
    return torch.stack(parts)


def _dtype_name(dtype: str) -> str:
    name = dtype.replace("torch.", "")
    return name if name in FLOAT_DTYPES else ("float64" if name.startswith(("int", "uint", "bool")) else name)


def encode_argument(tensor: torch.Tensor, dtype: str, as_numpy: bool) -> dict[str, Any]:
    """An input the grader generated, as plain data for the child."""
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
    def from_event(cls, event: dict[str, Any]) -> "CapturedError":
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
        if self.signal == "SIGXCPU" or (self.signal == "SIGKILL" and self.reason == "exited"):
            return f"the submission used more than its CPU time ({limits.cpu_seconds or limits.timeout:g} s) and was stopped"
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
    """Reads JSON lines from a pipe with a deadline, never more than ``MAX_LINE`` per line."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def read(self, deadline: float) -> dict[str, Any] | None:
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                raise EOFError
            self.buf += chunk
            if len(self.buf) > MAX_LINE and b"\n" not in self.buf:
                raise EOFError
        line, _, self.buf = self.buf.partition(b"\n")
        try:
            event = json.loads(line)
        except ValueError:
            return None
        return event if isinstance(event, dict) else None


class Worker:
    """The grader's handle on one worker process (one ``--jobs`` slot)."""

    def __init__(self, slot: int, mode: SandboxMode, hide: list[Path]) -> None:
        self.slot = slot
        self.mode: SandboxMode = mode
        self.hide = hide
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: _Lines | None = None
        self.isolation = ""
        self.log = tempfile.TemporaryFile()

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process (the torch import then runs while other workers spawn)."""
        command = worker_command(self.slot, self.mode, self.hide)
        self.isolation = command.isolation
        self.proc = subprocess.Popen(
            command.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
            close_fds=True,
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
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def read(self, deadline: float) -> dict[str, Any] | None:
        assert self.lines is not None
        return self.lines.read(deadline)

    def stop(self) -> None:
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
                stream.close()
        self.proc = None


class Session:
    """One submission running in one worker's child."""

    def __init__(self, worker: Worker, limits: Limits, outcome: Outcome, started: float) -> None:
        self.worker = worker
        self.limits = limits
        self.outcome = outcome
        self.started = started
        self.deadline = started + limits.timeout + GRACE_S
        self.closed = False

    @property
    def callable(self) -> bool:
        return not self.closed and self.outcome.executed and self.outcome.ending is None

    def _event(self) -> dict[str, Any] | None:
        """The next event; ``None`` once the child has ended (``outcome.ending`` says how)."""
        while True:
            try:
                event = self.worker.read(self.deadline)
            except TimeoutError:
                self._end(Ending(reason="timeout"))
                return None
            except EOFError:
                self._end(Ending(reason="worker-died"))
                return None
            if event is None:
                continue
            kind = event.get("ev")
            if kind == "bind":
                values = event.get("values")
                if isinstance(values, dict):
                    for name, data in values.items():
                        self.outcome.history.append(
                            Binding(
                                statement=int(event.get("statement", 0) or 0),
                                label=str(event.get("label", ""))[:200],
                                name=str(name),
                                value=decode_value(data),
                            )
                        )
            elif kind == "raised":
                self.outcome.error = CapturedError.from_event(event)
            elif kind == "blocked":
                self.outcome.blocked_imports.append(str(event.get("module", ""))[:200])
            elif kind == "ipython":
                self.outcome.ipython.append(str(event.get("call", ""))[:300])
            elif kind == "exit":
                self._end(
                    Ending(
                        reason=str(event.get("reason", "exited")),
                        code=event.get("code") if isinstance(event.get("code"), int) else None,
                        signal=str(event["signal"]) if event.get("signal") else None,
                        stdout=str(event.get("stdout", "")),
                        stderr=str(event.get("stderr", "")),
                        stdout_bytes=int(event.get("stdout_bytes", 0) or 0),
                        stderr_bytes=int(event.get("stderr_bytes", 0) or 0),
                    )
                )
                return None
            else:
                return event

    def _end(self, ending: Ending) -> None:
        self.outcome.ending = ending
        self.outcome.duration_s = time.monotonic() - self.started
        self.closed = True
        if ending.reason in ("timeout", "worker-died", "protocol"):
            self.worker.stop()  # the worker may be stuck or compromised: a fresh one next time

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
        if not self.callable or not self.worker.send({"op": "call", "fn": fn, "args": args}):
            reason = self.outcome.ending.problem(self.limits) if self.outcome.ending else None
            return CallResult(None, CapturedError("NotRun", reason or "the submission is no longer running", "", ""), 0.0)
        while True:
            event = self._event()
            if event is None:
                assert self.outcome.ending is not None
                reason = self.outcome.ending.problem(self.limits) or "the submission stopped"
                return CallResult(None, CapturedError("Stopped", reason, f"in {fn}()", ""), time.monotonic() - started)
            if event.get("ev") == "return":
                return CallResult(decode_value(event.get("value")), None, time.monotonic() - started)
            if event.get("ev") == "call_error":
                return CallResult(None, CapturedError.from_event({**event, "label": f"in {fn}()"}), time.monotonic() - started)

    def close(self) -> Outcome:
        if not self.closed:
            self.worker.send({"op": "end"})
            while not self.closed:
                self._event()
        return self.outcome


class Pool:
    """``jobs`` warm workers; :meth:`session` lends one for one submission."""

    def __init__(self, jobs: int, mode: SandboxMode = "auto", hide: list[Path] | None = None) -> None:
        from harness.errors import invalid
        from harness.sandbox import hidden_paths

        if not isinstance(jobs, int) or jobs < 1:
            invalid("jobs", jobs, "must be a whole number ≥ 1")
        self.jobs = jobs
        self.mode: SandboxMode = mode
        self.hide = hidden_paths(hide or [])
        self.free: queue.Queue[Worker] = queue.Queue()
        self.workers = [Worker(slot, mode, self.hide) for slot in range(jobs)]
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Start every worker; they import torch in parallel.

        Workers are spawned from the calling thread on purpose: bubblewrap's
        ``--die-with-parent`` follows the thread that started it.
        """
        with self._lock:
            if self._started:
                return
            try:
                for worker in self.workers:
                    worker.spawn()
                for worker in self.workers:
                    worker.wait_ready()
            except BaseException:
                self.close()
                raise
            for worker in self.workers:
                self.free.put(worker)
            self._started = True

    @property
    def isolation(self) -> str:
        return self.workers[0].isolation if self.workers else ""

    @contextmanager
    def session(self, submission: Submission, limits: Limits, names: list[str], functions: list[str]) -> Iterator[Session]:
        self.start()
        worker = self.free.get()
        try:
            if not worker.alive:
                worker.stop()
                worker.start()
            started = time.monotonic()
            outcome = Outcome(isolation=worker.isolation)
            session = Session(worker, limits, outcome, started)
            job = {
                "op": "job",
                "cells": [[cell.label, cell.source] for cell in submission.cells],
                "names": names,
                "functions": functions,
                "limits": limits.as_data(),
                "seed": submission.seed,
                "argv0": submission.path.name,
            }
            if not worker.send(job):
                session._end(Ending(reason="worker-died"))
            yield session
            session.close()
        finally:
            self.free.put(worker)

    def close(self) -> None:
        for worker in self.workers:
            if worker.alive:
                worker.send({"op": "quit"})
            worker.stop()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
