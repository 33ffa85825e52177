"""The run stage's worker: a fork server that executes submissions, inside the sandbox.

This file is run as ``python -s -P -c <source> <config json>`` (in an environment
the grader made whole, with ``PYTHONHASHSEED=0``), where the source first makes
:mod:`harness.wire` a module of its own and then runs this file's (see
:func:`harness.run.sandbox.worker_source`); it imports only the standard library,
torch and (if installed) numpy, never ``harness`` or ``reference`` (those are
hidden from the sandbox).  One worker imports torch once, warms it up, then
forks a fresh child per submission.  The protocol is :mod:`harness.wire`'s:

* grader -> worker (stdin, JSON lines): ``job``, ``call``, ``rerun``, ``end``, ``quit``
* worker -> grader (stdout, one line per event, framed by its first byte):
  the worker's own events (``ready``, a ``run_end`` per rerun, one ``exit`` per job) and a child's
  events relayed unread (``bind``, ``raised``, ``executed``, ``return``,
  ``call_error``, ``blocked``, ``ipython``, ``missing_module``).  The frame byte is the worker's, so
  a child cannot forge a worker event; the grader validates every child event.

The child is the submission.  It is forked *before* its job arrives (while the
grader is still checking the previous submission), drops to the slot's own
unprivileged uid where the worker is root, gets a fresh private working
directory, stdout/stderr into pipes, no file descriptor of the worker, and
waits for its job; then it sets its resource limits and runs.  The worker is
the supervisor: it enforces the wall clock with SIGKILL (no ``except`` in
student code can see that), keeps the head of the output and stops a flood,
and after the job kills every process the child left behind (the pid
namespace, the slot's uid, or the subreaper's orphans) and removes what it
wrote.  It reports data; the grader decides.
"""

from __future__ import annotations

import ast
import builtins
import ctypes
import gc
import json
import math
import mmap
import os
import resource
import selectors
import shutil
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

if TYPE_CHECKING or __name__ != "__main__":  # imported by the grader's tests, or type-checked
    import harness.wire as wire
else:  # inside the sandbox, where harness is hidden: the copy the command line made (its name then goes)
    wire = sys.modules.pop("gradproof_wire")

PENDING_BYTES = 1 << 20  # child events held back at most (see ForkServer.relay)
RING_BYTES = 64 * 1024  # a child rings its worker at least this often (see _ringing)
IDLE_READ_S = 1.0  # a worker that heard nothing for this long reads its child's socket anyway
URGENT_HEADS = tuple(wire.event_head(name) for name in sorted(wire.URGENT_EVENTS))  # as Child.send begins them
_BIND_HEAD = wire.event_head(wire.EV_BIND).decode()  # Child.snapshot writes its bind lines itself
_UNBOUND = json.dumps(wire.unbound())
RESERVE_BYTES = 16 * 1024 * 1024
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CAP_DAC_READ_SEARCH = 2
MADV_COLLAPSE = 25


# --------------------------------------------------------------------- encoding


def encode(value: Any, depth: int = 0) -> dict[str, Any]:
    """Plain data for a value: tensors as dtype/shape/values, never pickle."""
    torch = sys.modules.get("torch")
    np = sys.modules.get("numpy")
    if torch is not None and isinstance(value, torch.Tensor):
        t = value.detach()
        if t.numel() > wire.MAX_ELEMENTS:
            return wire.too_large(wire.KIND_TENSOR, t.shape)
        if t.is_complex() or t.layout != torch.strided:
            return wire.other(f"tensor({t.dtype}, {t.layout})")
        flat = t.to("cpu").reshape(-1)
        data = flat.tolist() if t.dtype != torch.bool else [int(v) for v in flat.tolist()]
        dtype = str(t.dtype).replace("torch.", "")
        return wire.array(wire.KIND_TENSOR, dtype, t.shape, data, requires_grad=bool(value.requires_grad))
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        a = np.asarray(value)
        if a.size > wire.MAX_ELEMENTS:
            return wire.too_large(wire.KIND_NDARRAY, a.shape)
        if a.dtype.kind not in "biuf":
            return wire.other(f"ndarray({a.dtype})")
        return wire.array(wire.KIND_NDARRAY, str(a.dtype), a.shape, [float(v) for v in a.reshape(-1).tolist()])
    if isinstance(value, bool):
        return wire.number(int(value))
    if isinstance(value, (int, float)):
        return wire.number(float(value) if isinstance(value, float) or abs(value) < wire.NUMBER_EXACT else float("nan"))
    if isinstance(value, (list, tuple)) and depth < wire.MAX_DEPTH and len(value) <= wire.MAX_ITEMS:
        kind = wire.KIND_TUPLE if isinstance(value, tuple) else wire.KIND_LIST
        return wire.sequence(kind, [encode(v, depth + 1) for v in value])
    if callable(value):
        return wire.function()
    return wire.other(type(value).__name__)


def decode(data: dict[str, Any]) -> Any:
    """An argument from the grader: a tensor (or ndarray) of the given dtype and shape."""
    kind = data.get(wire.KIND)
    if kind == wire.KIND_TENSOR:
        import torch  # the worker imported it before forking: only a name here

        return torch.tensor(data[wire.DATA], dtype=getattr(torch, data[wire.DTYPE])).reshape(data[wire.SHAPE])
    if kind == wire.KIND_NDARRAY:
        import numpy

        return numpy.array(data[wire.DATA], dtype=data[wire.DTYPE]).reshape(data[wire.SHAPE])
    if kind in (wire.KIND_NUMBER, wire.KIND_LITERAL):
        return data[wire.NUMBER]
    raise ValueError(f"cannot decode argument of kind {kind!r}")


# --------------------------------------------------------------------- the child


class Child:
    """Runs inside the forked process: executes the submission and answers calls."""

    def __init__(self, send: Callable[[bytes], None], job: dict[str, Any]) -> None:
        self._send_line = send
        self.pid = os.getpid()  # a process the code forks runs on with a copy of this object: it stays silent
        self.job = job
        self.names: list[str] = list(job.get("names", []))
        self.unwatch: Callable[[], None] = lambda: None
        self.blocker: _GraderBlocker | None = None
        self.paths = {name: wire.parse_path(name) for name in self.names if not name.isidentifier()}
        # Each cell's statements, compiled once for all the runs of the job (see execute).
        self.compiled: dict[int, list[tuple[ast.stmt, Any]]] = {}
        self.runs_left = max(0, min(_whole(job.get("runs"), 1), wire.MAX_RUNS) - 1)  # the reruns it may still do
        # What a rerun starts from again: the streams, the directory and the arguments it was given.
        self.origin = (sys.stdout, sys.stderr, os.getcwd(), list(sys.argv))
        self._reserve: mmap.mmap | None = None
        self.fresh(job.get(wire.SUBSTITUTE))

    def fresh(self, substitute: Any) -> None:
        """The state of one run: fresh globals, nothing seen yet, ``substitute``'s names to replace."""
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.seen: dict[str, tuple[Any, Any, str]] = {}  # name: (object, its version (below), its JSON)
        self.step = 0  # snapshots so far: the order of the history
        self.label = ""  # the cell running now
        self.autograd_seen: set[str] = set()
        # On a run with the grader's inputs: the names still to replace at their first binding.
        self.pending = {str(name): wire.Substitution.from_data(data) for name, data in dict(substitute or {}).items()}
        self.inner_left = INNER_SNAPSHOTS
        self.inner_bytes_left = INNER_SNAPSHOT_BYTES
        self.handles: dict[str, Any] = {}  # what the assignment's steps kept (see step_once)
        # Address space kept back (mapped, never touched) for telling the grader what happened
        # after the submission used all of its own (a MemoryError): released first thing then.
        if self._reserve is None and self.job.get("limits"):
            self._reserve = mmap.mmap(-1, RESERVE_BYTES)

    def _send(self, line: bytes) -> None:
        if os.getpid() == self.pid:
            self._send_line(line)

    def send(self, event: dict[str, Any]) -> None:
        line = wire.event_line(event)
        if len(line) > wire.MAX_EVENT:
            line = wire.event_line({wire.EVENT: event.get(wire.EVENT, "?"), wire.TOO_LARGE_FIELD: True})
        self._send(line)

    def execute(self) -> None:
        """Run every cell, one top-level statement at a time, then say so.

        ``step`` numbers every snapshot: one after each top-level statement, and inside a
        top-level loop (or ``if``/``with``/``try``) one after each statement of its body too,
        for the first :data:`INNER_SNAPSHOTS` of them: a training loop's first step is then
        seen with the weights it started from.
        """
        self.namespace["get_ipython"] = _IPythonStub(self).get_ipython
        self.unwatch()  # a rerun's: watched once
        self.unwatch = _watch_autograd(self)
        if self.blocker is None:
            self.blocker = _GraderBlocker(self)
            sys.meta_path.insert(0, self.blocker)
        label = ""

        def inner_step() -> None:
            if self.inner_left > 0 and self.inner_bytes_left > 0:
                self.inner_left -= 1
                self.step += 1
                self.inner_bytes_left -= self.snapshot(self.step, label)

        self.namespace[STEP_NAME] = inner_step
        for index, (label, source) in enumerate(self.job["cells"]):
            self.label = label
            statements = self.compiled.get(index)
            if statements is None:
                try:
                    tree = compile(source, label, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
                    assert isinstance(tree, ast.Module)
                except BaseException as exc:  # SyntaxError, ValueError, RecursionError, MemoryError
                    self.release_reserve()
                    self.raised(exc, label, self.step)
                    break
                statements = self.compiled[index] = [(node, None) for node in tree.body]
            stopped = False
            for at, (node, code) in enumerate(statements):  # one statement at a time: the grader sees the history
                try:
                    if code is None:
                        code = compile(
                            ast.Module(body=[_with_steps(node)], type_ignores=[]), label, "exec", dont_inherit=True
                        )
                        statements[at] = (node, code)
                    exec(code, self.namespace)
                except BaseException as exc:  # the student's SystemExit and KeyboardInterrupt are verdicts too
                    if _missing_module(exc, node):
                        # A module the grader lacks (matplotlib for a plot, say): the student had it, so
                        # the names it would bind get a stand-in that does nothing, and the rest runs.
                        _bind_stand_ins(node, self.namespace)
                        self.send(
                            {
                                wire.EVENT: wire.EV_MISSING_MODULE,
                                "module": str(getattr(exc, "name", "") or "")[: wire.MAX_LABEL_CHARS],
                                "label": label,
                            }
                        )
                        continue
                    self.release_reserve()
                    self.step += 1
                    self.snapshot(self.step, label)
                    self.raised(exc, label, self.step)
                    stopped = True
                    break
                self.step += 1
                self.snapshot(self.step, label)
            if stopped:
                break
        self.namespace.pop(STEP_NAME, None)
        functions = sorted(n for n in self.job.get("functions", []) if callable(self.namespace.get(n)))
        _flush_std()  # what it printed is in the pipes before the grader can end the job
        self.send({wire.EVENT: wire.EV_EXECUTED, "functions": functions})

    def release_reserve(self) -> None:
        if self._reserve is not None:
            self._reserve.close()
            self._reserve = None

    def snapshot(self, statement: int, label: str) -> int:
        """Send the tracked names whose value changed in this statement; the bytes sent.

        The object last sent for each name is kept (so its id cannot be reused): the same
        tensor at the same version counter, the same immutable number, or the same ndarray
        holding what it held (a copy is kept to tell) has not changed and costs nothing;
        anything else is encoded and compared as text.
        """
        if self.pending:
            self.substitute()
        changed: list[str] = []
        namespace = self.namespace
        seen = self.seen
        paths = self.paths
        for name in self.names:
            if name in paths:  # an attribute or an item: NN.W1, grads["dW1"]
                try:
                    value = wire.resolve(paths[name], namespace)
                except BaseException:
                    if seen.pop(name, None) is not None:
                        changed.append(f"{json.dumps(name)}: {_UNBOUND}")
                    continue
            elif name not in namespace:
                if seen.pop(name, None) is not None:
                    changed.append(f"{json.dumps(name)}: {_UNBOUND}")
                continue
            else:
                value = namespace[name]
            previous = seen.get(name)
            kind = type(value)
            version: Any = value._version if kind in _TENSOR_TYPES else None
            if version is not None and value.is_leaf and value.grad is not None:
                self.autograd(f"{name}.grad was filled in")
            if version is None and kind is _NDARRAY and value.size <= wire.MAX_ELEMENTS:
                version = value.copy()  # numpy keeps no version counter: what it held is the version
            if (
                previous is not None
                and previous[0] is value
                and (kind in _IMMUTABLE or (version is not None and _same_version(previous[1], version)))
            ):
                continue
            try:
                text = json.dumps(encode(value), allow_nan=True)
            except BaseException as exc:
                text = json.dumps(wire.other(f"unreadable ({type(exc).__name__})"))
            seen[name] = (value, version, text)
            if previous is None or previous[2] != text:
                changed.append(f"{json.dumps(name)}: {text}")
        if changed:
            line = (
                f'{_BIND_HEAD}, "statement": {statement}, "label": {json.dumps(label)}, '
                f'"values": {{{", ".join(changed)}}}}}\n'
            ).encode()
            if len(line) > wire.MAX_EVENT:
                self.send(
                    {
                        wire.EVENT: wire.EV_BIND,
                        "statement": statement,
                        "label": label,
                        wire.TOO_LARGE_FIELD: True,
                    }
                )
            else:
                self._send(line)
            return len(line)
        return 0

    def autograd(self, what: str) -> None:
        """Say once that the code ran autograd this way (the grader's policy decides what it costs)."""
        if what not in self.autograd_seen:
            self.autograd_seen.add(what)
            self.send({wire.EVENT: wire.EV_AUTOGRAD, "what": what[: wire.MAX_CALL_CHARS], "label": self.label})

    def substitute(self) -> None:
        """Replace each input name bound since the last snapshot by the grader's value, once."""
        for name in list(self.pending):
            if name in self.paths:
                try:
                    current = wire.resolve(self.paths[name], self.namespace)
                except BaseException:
                    continue
            elif name in self.namespace:
                current = self.namespace[name]
            else:
                continue
            replacement = _replacement(current, self.pending.pop(name))
            if replacement is not None:
                try:
                    wire.assign(self.paths.get(name) or (("name", name),), self.namespace, replacement)
                except BaseException:
                    pass

    def raised(self, exc: BaseException, label: str, statement: int) -> None:
        self.send({wire.EVENT: wire.EV_RAISED, "statement": statement, "label": label, **describe(exc, label)})

    def serve(self, lines: wire.LineReader) -> None:
        """Answer the grader's calls until it says ``end`` (then the worker kills us)."""
        while True:
            try:
                line = lines.read()
            except EOFError:
                return
            msg = json.loads(line)
            if msg.get(wire.OP) == wire.OP_STEP:
                self.step_once(msg)
                continue
            if msg.get(wire.OP) == wire.OP_RERUN:
                if self.runs_left > 0:  # (the worker passes on no more than the job's runs)
                    self.runs_left -= 1
                    self.rerun(msg.get(wire.SUBSTITUTE))
                continue
            if msg.get(wire.OP) != wire.OP_CALL:
                return
            fn = self.namespace.get(msg["fn"])
            try:
                args = [decode(a) for a in msg["args"]]
                if not callable(fn):
                    raise NameError(f"{msg['fn']} is not defined")
                result = fn(*args)
                _flush_std()
                self.send({wire.EVENT: wire.EV_RETURN, "value": encode(result)})
            except BaseException as exc:
                self.release_reserve()
                _flush_std()
                self.send({wire.EVENT: wire.EV_CALL_ERROR, **describe(exc)})

    def rerun(self, substitute: Any) -> None:
        """Run the code again from its first cell, as a fresh child would: fresh globals, the
        job's streams, directory, arguments and seeds, a CPU allowance of its own; then answer
        calls as after the first run.  The worker emptied the run's files before it passed the
        message on; the statements are not compiled again.  What the run prints to its own
        stdout and stderr is not formatted (see :func:`_unread_print`)."""
        self.namespace.clear()  # the last run's globals go (their functions' cycles through it with them)
        self.fresh(substitute)
        stdout, stderr, cwd, argv = self.origin
        sys.stdout, sys.stderr, sys.argv[:] = stdout, stderr, argv
        try:
            os.chdir(cwd)
        except OSError:
            pass
        limits = self.job.get("limits")
        if limits:
            _more_cpu(wire.JobLimits.from_data(limits).cpu_seconds)
        _seed(int(self.job.get("seed", 0)))
        unread = _unread_print(stdout, stderr) if builtins.print is _PRINT else None  # (not over the code's own)
        if unread is not None:
            builtins.print = unread
        try:
            self.execute()
        finally:
            if unread is not None and builtins.print is unread:
                builtins.print = _PRINT

    def argument(self, data: dict[str, Any]) -> Any:
        """A step's argument: a handle or a global at a path, else a value (see :func:`decode`)."""
        if data.get(wire.KIND) == wire.KIND_REF:
            return wire.resolve(wire.parse_path(str(data["path"])), self.handles, self.namespace)
        return decode(data)

    def step_once(self, msg: dict[str, Any]) -> None:
        """One step of the assignment: call, set or read a path; the result is kept and sent back."""
        try:
            parts = wire.parse_path(str(msg["target"]))
            args = [self.argument(a) for a in msg.get("args", [])]
            kwargs = {str(k): self.argument(v) for k, v in dict(msg.get("kwargs", {})).items()}
            action = msg.get("action")
            if action == wire.STEP_SET:
                home = self.handles if parts[0][1] in self.handles else self.namespace
                wire.assign(parts, home, args[0], self.namespace)
                result: Any = None
            elif action == wire.STEP_GET:
                result = wire.resolve(parts, self.handles, self.namespace)
            else:
                target = wire.resolve(parts, self.handles, self.namespace)
                if not callable(target):
                    raise TypeError(f"{msg['target']} is not callable")
                result = target(*args, **kwargs)
            if msg.get("as"):
                self.handles[str(msg["as"])] = result
            _flush_std()
            self.send({wire.EVENT: wire.EV_RETURN, "value": encode(result)})
        except BaseException as exc:
            self.release_reserve()
            _flush_std()
            self.send({wire.EVENT: wire.EV_CALL_ERROR, **describe(exc)})


_AUTOGRAD_ENTRIES = (
    ("Tensor", "backward"),
    ("autograd", "backward"),
    ("autograd", "grad"),
    ("func", "grad"),
    ("func", "grad_and_value"),
    ("func", "vjp"),
    ("func", "jvp"),
    ("func", "jacrev"),
    ("func", "jacfwd"),
    ("func", "hessian"),
    ("func", "linearize"),
)


def _watch_autograd(child: Child) -> Callable[[], None]:
    """Wrap autograd's entry points so that the child says when the code runs one (however the code
    reached it: by name, getattr, importlib).  Only evidence: the grader's policy decides.  Returns
    what puts them back (for a child run in-process, by a test)."""
    import torch  # the worker imported it before forking: only a name here

    owners = {"Tensor": torch.Tensor, "autograd": torch.autograd, "func": getattr(torch, "func", None)}
    originals: list[tuple[Any, str, Any]] = []
    for owner_name, name in _AUTOGRAD_ENTRIES:
        owner = owners[owner_name]
        original = getattr(owner, name, None) if owner is not None else None
        if original is None:
            continue
        label = f"{'torch.' if owner_name != 'Tensor' else ''}{owner_name}.{name}"

        def watched(*args: Any, __original: Any = original, __label: str = label, **kwargs: Any) -> Any:
            child.autograd(f"called {__label}")
            return __original(*args, **kwargs)

        try:
            setattr(owner, name, watched)
        except (AttributeError, TypeError):
            continue
        originals.append((owner, name, original))

    def unwatch() -> None:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)

    return unwatch


_PRINT = builtins.print


def _unread_print(stdout: Any, stderr: Any) -> Callable[..., None]:
    """``print`` for the grader's runs: what it would write to the run's own stdout or stderr is
    read by nobody (the report shows the submission's own run) and is not formatted (a tensor's
    text costs more than the arithmetic of a small network); a print anywhere else (a file, a
    redirected ``sys.stdout``) is the real one."""

    def print(*args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False) -> None:
        target = sys.stdout if file is None else file
        if target is stdout or target is stderr or target is None:
            return
        _PRINT(*args, sep=sep, end=end, file=file, flush=flush)

    return print


def _replacement(value: Any, substitution: wire.Substitution) -> Any:
    """The grader's value in the place of ``value``: the same type, shape and dtype; ``None`` where
    ``value`` is neither a float array nor a number (an integer array, a list: it stays as it is)."""
    import torch  # the worker imported it before forking: only a name here

    labels = substitution.kind == wire.ROLE_LABELS
    if isinstance(value, bool) or (labels and not isinstance(value, int) and not hasattr(value, "shape")):
        return None
    if isinstance(value, (int, float)):
        drawn = wire.draw_entries(substitution, ())[0]
        return int(drawn) if labels else drawn
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() == labels or value.is_complex() or value.dtype == torch.bool:
            return None  # labels replace whole numbers only, every other kind floats only
        entries = wire.draw_entries(substitution, tuple(value.shape))
        new = torch.tensor(entries, dtype=value.dtype, device=value.device).reshape(value.shape)
        return new.requires_grad_(True) if value.requires_grad and value.is_leaf else new
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray) and value.dtype.kind in ("iu" if labels else "f"):
        array = np.array(wire.draw_entries(substitution, value.shape), dtype=value.dtype).reshape(value.shape)
        return np.asmatrix(array) if isinstance(value, np.matrix) else array
    return None


def _ringing(sock: socket.socket, bell: int) -> Callable[[bytes], None]:
    """How a child sends its events: on the socket, ringing the bell (a byte on a pipe) after an
    event the grader waits for, and before sending more than :data:`RING_BYTES` unrung.

    The worker then sleeps through the events it would only hold back anyway (see
    :meth:`ForkServer.relay`): they wait in the socket, which keeps them if the child dies (the
    worker reads them at every end), instead of waking the worker once each.  A bell that cannot
    take a byte more (the worker has not read it yet) has rung already."""
    unrung = 0

    def ring() -> None:
        nonlocal unrung
        unrung = 0
        try:
            os.write(bell, b"!")
        except OSError:  # full (it rang already), or closed by the code (the worker reads anyway, each second)
            pass

    def send(line: bytes) -> None:
        nonlocal unrung
        if unrung + len(line) >= RING_BYTES:
            ring()  # the worker reads while it is sent: a long line would fill the socket first
        sock.sendall(line)
        unrung += len(line)
        if line.startswith(URGENT_HEADS):
            ring()

    return send


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # the student replaced or closed it
            pass


_IMMUTABLE = frozenset({int, float, bool, str, type(None), complex, bytes})
_TENSOR_TYPES: frozenset[type] = frozenset()
_NDARRAY: type | None = None  # numpy.ndarray, once serve() imported numpy


def _same_version(a: Any, b: Any) -> bool:
    """A tensor's version counters, or an ndarray's copies (same dtype, shape and entries; NaN
    counts as itself, so a NaN array that never changes is not sent again)."""
    if isinstance(a, int) or isinstance(b, int):
        return bool(a == b)
    return bool(a.dtype == b.dtype and a.shape == b.shape and (a.tobytes() == b.tobytes()))


def _tensor_types() -> frozenset[type]:
    """torch.Tensor and torch.nn.Parameter: the types whose ``_version`` counts in-place changes."""
    torch = sys.modules.get("torch")
    return frozenset({torch.Tensor, torch.nn.Parameter}) if torch is not None else frozenset()


def describe(exc: BaseException, label: str | None = None) -> dict[str, Any]:
    """An exception as data: type, message, the frames that are not the worker's own, and the
    line of the submission's own code (``label``) where it happened."""
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<string>")]
        own = [f for f in frames if f.filename == label] or frames
        line = own[-1].lineno if own else getattr(exc, "lineno", None)
        text = "".join(traceback.format_list(frames[-8:])) + "".join(traceback.format_exception_only(type(exc), exc))
    except BaseException:  # an exception whose __str__ raises, a broken traceback
        line, text = None, type(exc).__name__
    try:
        message = exc.msg if isinstance(exc, SyntaxError) and exc.msg else str(exc)
    except BaseException:
        message = "<unprintable>"
    return {
        "type": type(exc).__name__,
        "message": message[: wire.MAX_MESSAGE_CHARS],
        "line": line if isinstance(line, int) else None,
        "traceback": text[-wire.MAX_TRACEBACK_CHARS :],
    }


class _Absent:
    """Stands in for a module that is not installed: every attribute and call is another stand-in."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> _Absent:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Absent(f"{self._name}.{attr}")

    def __call__(self, *args: Any, **kwargs: Any) -> _Absent:
        return _Absent(f"{self._name}()")

    def __enter__(self) -> _Absent:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __iter__(self) -> Any:
        return iter(())

    def __repr__(self) -> str:
        return f"<{self._name}: not installed on the grader>"


def _bind_stand_ins(node: ast.stmt, namespace: dict[str, Any]) -> None:
    """Bind the names an import that failed would have bound to stand-ins."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            namespace.setdefault(alias.asname or alias.name.split(".")[0], _Absent(alias.name))
    elif isinstance(node, ast.ImportFrom):
        for alias in node.names:
            if alias.name != "*":
                namespace.setdefault(alias.asname or alias.name, _Absent(f"{node.module}.{alias.name}"))


STEP_NAME = "__gradproof_step__"
INNER_SNAPSHOTS = 400  # snapshots inside top-level compound statements, per submission
# ... and at most this much of their values: a training loop over large arrays (the tutorial's
# 64 x 1000 batch, 500 steps) is seen for its first steps, not until it fills MAX_JOB_EVENTS
INNER_SNAPSHOT_BYTES = 8 * 1024 * 1024
_COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)
_NO_STEP_AFTER = (
    ast.Break,
    ast.Continue,
    ast.Return,
    ast.Raise,
    ast.Pass,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
)


class _Steps(ast.NodeTransformer):
    """Insert a snapshot call after each statement in the bodies of a compound statement."""

    def _keep(self, node: ast.AST) -> ast.AST:
        return node  # a definition's body runs later, when it is called: not part of this statement

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = _keep

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not (isinstance(body, list) and body and isinstance(body[0], ast.stmt)):
                continue
            stepped: list[ast.stmt] = []
            for stmt in body:
                stepped.append(stmt)
                if not isinstance(stmt, _NO_STEP_AFTER):
                    call = ast.Expr(ast.Call(ast.Name(STEP_NAME, ast.Load()), [], []))
                    stepped.append(ast.copy_location(call, stmt))
            setattr(node, field, stepped)
        return node


def _with_steps(node: ast.stmt) -> ast.stmt:
    if not isinstance(node, _COMPOUND):
        return node
    stepped = _Steps().visit(node)
    assert isinstance(stepped, ast.stmt)
    return ast.fix_missing_locations(stepped)


def _missing_module(exc: BaseException, node: ast.stmt) -> bool:
    """An import statement the grader cannot satisfy (the grader's own packages too: they are missing
    here like any other, and the grader is told)."""
    return isinstance(exc, ModuleNotFoundError) and isinstance(node, (ast.Import, ast.ImportFrom))


def _grader_package(name: str | None) -> bool:
    return bool(name) and str(name).split(".")[0] in wire.GRADER_PACKAGES


class _GraderBlocker:
    """``import harness`` / ``import reference`` fail as for any missing module (they are hidden
    anyway; a student's ``try/except ImportError`` keeps working); the grader is told."""

    def __init__(self, child: Child) -> None:
        self.child = child

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in wire.GRADER_PACKAGES:
            self.child.send({wire.EVENT: wire.EV_BLOCKED, "module": name})
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


class _IPythonStub:
    """What ``get_ipython()`` returns: harmless magics run, the rest is refused and recorded."""

    RUN_LINE = {"time", "timeit", "capture"}
    IGNORED = {
        "matplotlib",
        "config",
        "load_ext",
        "reload_ext",
        "autoreload",
        "pylab",
        "precision",
        "pprint",
        "who",
        "whos",
        "env",
    }

    def __init__(self, child: Child) -> None:
        self.child = child
        self.user_ns = child.namespace

    def get_ipython(self) -> _IPythonStub:
        return self

    def _record(self, what: str, executed: bool) -> None:
        self.child.send({wire.EVENT: wire.EV_IPYTHON, "call": what[: wire.MAX_CALL_CHARS], "executed": executed})

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name in self.RUN_LINE and line.strip():
            self._record(f"%{name} {line}", True)
            exec(compile(line, f"<%{name}>", "exec"), self.user_ns)
            return None
        if name == "matplotlib":
            try:
                import importlib

                importlib.import_module("matplotlib").use("Agg")
            except Exception:
                pass
        self._record(f"%{name} {line}", name in self.IGNORED)
        return None

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name in self.RUN_LINE:
            self._record(f"%%{name} {line}", True)
            exec(compile(cell, f"<%%{name}>", "exec"), self.user_ns)
            return None
        self._record(f"%%{name} {line}", False)
        return None

    def system(self, cmd: str) -> None:
        self._record(f"!{cmd}", False)

    def getoutput(self, cmd: str, split: bool = True) -> list[str]:
        self._record(f"!{cmd}", False)
        return []

    def run_cell(self, *args: Any, **kwargs: Any) -> None:
        self._record("run_cell", False)

    def __getattr__(self, name: str) -> Callable[..., None]:
        def refused(*args: Any, **kwargs: Any) -> None:
            self._record(name, False)

        return refused


# What the worker runs once, in its own process, before it forks any child: the
# first call of many torch functions (dispatch, printing, autograd) is several
# times slower than the next, and every child inherits the warm state.
_WARM_UP = [
    ("cell 1", "import math, random\nimport torch\nimport numpy as np\n"),
    (
        "cell 2",
        "X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])\nY = torch.tensor([[0.0]])\n"
        "W1 = torch.rand(4, 3)\nW2 = torch.rand(3, 1)\nprint(W1)\nprint(W2)\nW1\n",
    ),
    (
        "cell 3",
        "Z = torch.matmul(W1.T, X)\nH = 1/(1+torch.exp(-Z))\nO = torch.matmul(H.T, W2)\n"
        "O = H.T @ W2\nY_cap = torch.sigmoid(O)\nE = (Y - Y_cap)**2\nprint('E =', E, E.item(), float(E))\n"
        "dE_dY_cap = -2*(Y - Y_cap)\ndY_cap_dO = Y_cap*(1 - Y_cap)\ndE_dW2 = dE_dY_cap * dY_cap_dO * H\n"
        "dE_dW1 = torch.matmul(X, (dE_dY_cap * dY_cap_dO * W2 * H*(1 - H)).T)\nlr = 0.1\n"
        "W2_new = W2 - lr * dE_dW2\nW1_new = W1 - lr * dE_dW1\nprint(W1_new, W2_new)\n"
        "W1 -= lr * dE_dW1\nW2.sub_(lr * dE_dW2)\n",
    ),
    (
        "cell 4",
        "Xd = X.double(); W = W1.double().clone().requires_grad_(True)\n"
        "L = ((torch.sigmoid(torch.sigmoid(W.T @ Xd).T @ W2.double()) - 0) ** 2).sum(); L.backward()\n"
        "g = W.grad.numpy(); print(W.grad)\nwith torch.no_grad():\n    W -= 0.1 * W.grad\n"
        "W.grad.zero_(); torch.manual_seed(0); torch.randn(3, 1); torch.zeros(3, 1); torch.ones(1, 3)\n"
        "torch.mm(W1.T, X); torch.mul(Z, H); torch.sum(H, dim=0, keepdim=True); torch.mean(E); H.t(); H.reshape(1, 3)\n",
    ),
    (
        "cell 5",
        "x = np.array([[0.9], [0.8], [0.7], [0.6]]); w1 = np.random.rand(4, 3); w2 = np.random.rand(3, 1)\n"
        "h = 1 / (1 + np.exp(-(w1.T @ x))); o = np.dot(h.T, w2); e = np.square(0 - o); print(h, o, e)\n"
        "torch.from_numpy(w1); torch.tensor(w1, dtype=torch.float32); f'{float(e[0, 0]):.4f}'\n"
        "def sigmoid(z):\n    return 1 / (1 + torch.exp(-z))\n"
        "def forward(X, W1, W2):\n    H = sigmoid(W1.T @ X)\n    return sigmoid(H.T @ W2)\nforward(X, W1, W2)\n",
    ),
]


def _warm_up() -> None:
    """Run :data:`_WARM_UP` once in this process, its output and events thrown away."""
    saved = sys.stdout, sys.stderr
    sink = open(os.devnull, "w")
    sys.stdout = sys.stderr = sink
    try:
        names = ["X", "Y", "W1", "W2", "Z", "H", "O", "Y_cap", "E", "dE_dW2", "dE_dW1", "W1_new", "W2_new", "lr"]
        child = Child(lambda line: None, {"cells": _WARM_UP, "names": names, "functions": ["forward", "sigmoid"]})
        child.execute()
        json.loads(json.dumps(encode(child.namespace["W1"])))
        describe(ValueError("warm"))
    except BaseException:
        pass
    finally:
        sys.stdout, sys.stderr = saved
        sink.close()
        while sys.meta_path and isinstance(sys.meta_path[0], _GraderBlocker):
            sys.meta_path.pop(0)


# --------------------------------------------------------------------- the supervisor


class Prepared:
    """A forked child that has set itself up and waits for its job."""

    def __init__(
        self,
        pid: int,
        pidfd: int | None,
        sock: socket.socket,
        out_r: int,
        err_r: int,
        workdir: str,
        bell: int | None = None,
    ) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.sock = sock
        self.bell = bell  # what the child rings once it sent what the grader waits for (see _ringing)
        self.out_r = out_r
        self.err_r = err_r
        self.workdir = workdir
        self.status: int | None = None  # waitpid status, once reaped
        self.cpu: float | None = None  # its CPU seconds, once reaped

    def close_fds(self) -> None:
        for fd in (self.out_r, self.err_r, self.pidfd, self.bell):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.sock.close()


class Run(NamedTuple):
    """The run of a job the worker supervises now: when it started, the child's CPU seconds by
    then, how many reruns the job may still do, and its place in the job (0: the first)."""

    started: float
    cpu_before: float
    left: int
    number: int = 0


class ForkServer:
    def __init__(self, config: dict[str, Any], out: BinaryIO | None = None) -> None:
        self.config = config
        self.uid: int | None = config.get("uid")
        self.pidns: bool = bool(config.get("pidns"))
        self.read_all: bool = bool(config.get("read_all"))
        self.warm: bool = bool(config.get("warm", True))  # the warm-up: worth it for every job after it
        self.huge_pages: bool = bool(config.get("huge_pages", self.warm))  # worth it for a batch, not one job
        self.base: str = config.get("workdir_base") or "/tmp"
        self.root = os.geteuid() == 0
        self.drops = self.uid is not None and self.root
        self.out: BinaryIO = out if out is not None else os.fdopen(1, "wb", buffering=0)  # to the grader
        self.lines = wire.LineReader(0)  # the grader's messages
        self.jobs = 0
        self.pending: list[bytes] = []  # the child's events not yet passed on (see relay)
        self.pending_bytes = 0

    # ---------------------------------------------------------------- grader I/O

    def send(self, event: dict[str, Any]) -> None:
        self.flush()
        self.out.write(wire.WORKER_FRAME + wire.event_line(event))

    def read_line(self, wait: bool) -> bytes | None:
        """One line from the grader: b"" at EOF; without ``wait``, None if none is complete now."""
        try:
            return self.lines.read() if wait else self.lines.poll()
        except EOFError:
            return b""

    # ---------------------------------------------------------------- main loop

    def serve(self) -> None:
        global _TENSOR_TYPES, _NDARRAY
        # No collection while torch is imported and warmed up (≈ 0.2 s of CPU saved): what these
        # leave is frozen below, as gc.freeze() wants it (disable early, freeze before forking).
        collecting = gc.isenabled()
        gc.disable()
        import torch  # once, here, before the first fork (and after __main__ cleaned sys.path)

        torch.set_num_threads(1)
        _TENSOR_TYPES = _tensor_types()
        try:
            import numpy  # so that children need not import it

            _NDARRAY = numpy.ndarray
        except ImportError:
            pass
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a gone grader is EPIPE/EOF, handled below
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        if not self.pidns:  # without bwrap's --die-with-parent: the grader's death ends us too
            signal.signal(signal.SIGTERM, _exit_on_signal)
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if self.warm:
            _warm_up()
        gc.freeze()  # the children's collections then never touch (copy) the worker's objects
        if collecting:
            gc.enable()  # for the worker's own loop and its children (they start from here)
        if self.huge_pages:
            _huge_pages()
        self.kill_leftovers()  # a uid slot is reused: nothing of an earlier run may remain
        if not self.pidns:  # a directory of our own in the shared /tmp (in a sandbox /tmp is ours)
            self.base = os.path.join(self.base, f"worker-{os.getpid()}")
            os.mkdir(self.base, 0o711)
        self.send(ready_event(torch.__version__))
        child: Prepared | None = None
        try:
            while True:
                if child is None:
                    child = self.prepare()
                line = self.read_line(wait=True)
                if not line:
                    return
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                if msg.get(wire.OP) == wire.OP_JOB:
                    prepared, child = child, None
                    if self.run_job(prepared, msg, line) in (wire.END_QUIT, wire.END_GRADER_GONE):
                        return
                elif msg.get(wire.OP) == wire.OP_QUIT:
                    return
                # a stale "call" or "end" of a job that already ended: nothing to do
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            if child is not None:
                self.discard(child)
            self.kill_leftovers()
            self.remove_files(None)
            if not self.pidns:
                _remove(self.base)
                try:  # the grader's folder for all its workers: the last one out removes it
                    os.rmdir(os.path.dirname(self.base))
                except OSError:
                    pass

    # ---------------------------------------------------------------- one job

    def prepare(self) -> Prepared:
        """Fork the next child now; it sets itself up and waits for its job."""
        self.jobs += 1
        workdir = os.path.join(self.base, f"job-{os.getpid()}-{self.jobs}")
        parent_sock, child_sock = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        bell_r, bell_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                parent_sock.close()
                os.close(out_r)
                os.close(err_r)
                os.close(bell_r)
                bell = self.become_child(workdir, out_w, err_w, child_sock, bell_w)
                lines = wire.LineReader(child_sock.fileno())
                try:
                    line = lines.read()
                except EOFError:
                    os._exit(0)
                job = json.loads(line)
                _apply_limits(job, count_own=not self.drops)
                child = Child(_ringing(child_sock, bell), job)
                child.execute()
                child.serve(lines)
            except BaseException as exc:  # a failure of the worker's own set-up, told to the grader
                code = 70
                try:
                    child_sock.sendall(
                        wire.event_line({wire.EVENT: wire.EV_RAISED, "label": "grader set-up", **describe(exc)})
                    )
                except BaseException:
                    pass
            finally:
                os._exit(code)
        child_sock.close()
        os.close(out_w)
        os.close(err_w)
        os.close(bell_w)
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        for fd in (out_r, err_r, bell_r):
            os.set_blocking(fd, False)
        parent_sock.setblocking(False)
        return Prepared(pid, pidfd, parent_sock, out_r, err_r, workdir, bell_r)

    def become_child(self, workdir: str, out_w: int, err_w: int, sock: socket.socket, bell_w: int) -> int:
        """Everything that does not depend on the job: identity, directory, descriptors, environment.
        Returns the descriptor of the bell (the one after the socket's)."""
        os.setsid()
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.mkdir(workdir, 0o700)
        uid = self.uid
        if self.drops and uid is not None:
            os.chown(workdir, uid, uid)
            if self.read_all:  # the interpreter lives in a closed home: keep the right to read, and only it
                _libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            if self.read_all:
                _keep_only_capability(CAP_DAC_READ_SEARCH)
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.chdir(workdir)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        keep = sock.fileno()
        bell = keep + 1
        if bell_w != bell:
            os.dup2(bell_w, bell, inheritable=False)
        os.set_blocking(bell, False)
        os.closerange(3, keep)
        os.closerange(bell + 1, 1 << 20)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False, errors="backslashreplace")
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")
        # The worker's environment is already the clean one the grader gave it; only these differ.
        os.environ["HOME"] = os.environ["TMPDIR"] = os.environ["PWD"] = workdir
        return bell

    def run_job(self, child: Prepared, job: dict[str, Any], line: bytes) -> str:
        limits = wire.JobLimits.from_data(job["limits"])
        job_id = job.get("id")
        started = time.monotonic()
        ended = False
        try:
            child.sock.setblocking(True)
            child.sock.sendall(line + b"\n")
            child.sock.setblocking(False)
        except OSError:
            pass  # the child is gone already: the supervision below says how
        reason, kept, run = self.supervise(child, limits, job, line, started)
        if child.status is None:  # never signal a pid once reaped: it may be another process's now
            _kill(child.pid)
        if reason == wire.END_ENDED:  # the grader is done with it: answer at once, clean up while it checks
            ended = True
        else:
            self.reap(child)
        self.drain(child, kept, limits.output_keep_bytes)
        self.send(
            exit_event(
                job_id,
                reason,
                time.monotonic() - run.started,
                kept[child.out_r],
                kept[child.err_r],
                None if ended else child.status,
                None if child.cpu is None else child.cpu - run.cpu_before,  # this run's CPU time
                limits.cpu_seconds,
            )
        )
        if ended:
            self.reap(child)
        child.close_fds()
        self.kill_leftovers()
        self.remove_files(child.workdir)
        return reason

    def supervise(
        self, child: Prepared, limits: wire.JobLimits, job: dict[str, Any], line: bytes, started: float
    ) -> tuple[str, dict[int, tuple[bytes, int]], Run]:
        """Relay events and calls until the child is done, times out, or floods its output.

        A rerun (see :func:`harness.wire.rerun_message`) ends the run before with a ``run_end``
        event and starts the next one afresh: its own wall clock, output and event allowance.
        """
        keep_bytes = limits.output_keep_bytes
        max_output = limits.output_bytes
        job_id = job.get("id")
        run = Run(started, 0.0, max(0, min(_whole(job.get("runs"), 1), wire.MAX_RUNS) - 1))
        deadline = started + limits.timeout
        out_r, err_r, sock = child.out_r, child.err_r, child.sock
        kept: dict[int, tuple[bytes, int]] = {out_r: (b"", 0), err_r: (b"", 0)}
        sel = selectors.DefaultSelector()
        sel.register(out_r, selectors.EVENT_READ, "pipe")
        sel.register(err_r, selectors.EVENT_READ, "pipe")
        sel.register(0, selectors.EVENT_READ, "grader")
        if child.pidfd is not None:
            sel.register(child.pidfd, selectors.EVENT_READ, "pid")
        # The socket is watched while the child rings (until what it holds is read to a line's
        # end), or always where it has no bell (or closed it); else it is read at each wake-up.
        bell = child.bell
        always = bell is None
        if bell is not None:
            sel.register(bell, selectors.EVENT_READ, "bell")
        buf = b""
        relayed = 0
        sock_open, watched, rung = True, False, False

        def read_sock() -> bool:
            """Relay what the socket holds now; ``False`` past the limits (a protocol end)."""
            nonlocal buf, relayed, sock_open, watched, rung
            got = False
            for _ in range(64):
                if not sock_open:
                    break
                try:
                    chunk = sock.recv(1 << 20)
                except BlockingIOError:
                    break
                except OSError:
                    chunk = b""
                if not chunk:  # the child closed its end; it ends when its process does
                    sock_open = False
                    break
                got = True
                relayed += len(chunk)
                buf = self.relay(buf + chunk)
                if len(buf) > wire.MAX_EVENT or relayed > wire.MAX_JOB_EVENTS:
                    return False
            rung = rung and not (got and not buf)  # rung: watched until what it rang for is read to a line's end
            watch = sock_open and (always or rung or bool(buf))  # a line half sent: read on as it comes
            if watch != watched:
                if watch:
                    sel.register(sock, selectors.EVENT_READ, "sock")
                else:
                    sel.unregister(sock)
                watched = watch
            return True

        def ended(reason: str) -> tuple[str, dict[int, tuple[bytes, int]], Run]:
            """``reason``, once what the child sent before it is relayed."""
            return (reason if read_sock() else wire.END_PROTOCOL), kept, run

        if always:
            read_sock()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return ended(wire.END_TIMEOUT)
                if child.pidfd is None:  # no pidfd (old kernel): poll for the child's end
                    left = min(left, 0.05)
                    if self.reap(child, block=False):
                        self.drain_events(sock, buf)
                        return wire.END_EXITED, kept, run
                ready = sel.select(min(left, IDLE_READ_S))
                if not ready and not read_sock():  # nothing rang for a while: read it anyway
                    return wire.END_PROTOCOL, kept, run
                for key, _ in ready:
                    what = key.data
                    if what in ("sock", "bell"):
                        if what == "bell":
                            rung = True
                            if bell is not None and not _empty_pipe(bell):  # closed by the code
                                sel.unregister(bell)
                                bell, always = None, True
                        if not read_sock():
                            return wire.END_PROTOCOL, kept, run
                    elif what == "pid":
                        self.reap(child)
                        self.drain_events(sock, buf)
                        return wire.END_EXITED, kept, run
                    elif what == "grader":
                        message = self.read_line(wait=False)
                        if message is None:
                            continue
                        if message == b"":
                            return wire.END_GRADER_GONE, kept, run
                        while message is not None:
                            verdict = self.from_grader(message, sock, job_id)
                            if verdict == wire.OP_RERUN and run.left > 0:
                                if not read_sock():  # the run's last events are its own
                                    return wire.END_PROTOCOL, kept, run
                                run = self.next_run(child, job_id, run, kept, keep_bytes)
                                kept = {out_r: (b"", 0), err_r: (b"", 0)}
                                deadline, relayed = run.started + limits.timeout, 0
                                self.pass_on(sock, message)
                            elif verdict is not None and verdict != wire.OP_RERUN:
                                return ended(verdict)
                            message = self.read_line(wait=False) if self.lines.complete else None
                    else:
                        fd = key.fd
                        try:
                            chunk = os.read(fd, 1 << 16)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            sel.unregister(fd)
                            continue
                        head, total = kept[fd]
                        if len(head) < keep_bytes:
                            head += chunk[: keep_bytes - len(head)]
                        kept[fd] = (head, total + len(chunk))
                        if kept[out_r][1] + kept[err_r][1] > max_output:
                            return ended(wire.END_OUTPUT)
        finally:
            sel.close()

    def next_run(self, child: Prepared, job_id: Any, run: Run, kept: dict[int, tuple[bytes, int]], keep: int) -> Run:
        """End this run for a rerun: what it printed (read to the last byte the child flushed)
        goes to the grader in a ``run_end`` event, what it wrote is removed; the next run starts."""
        self.drain(child, kept, keep)
        self.send(
            run_end_event(job_id, run.number, time.monotonic() - run.started, kept[child.out_r], kept[child.err_r])
        )
        self.remove_files(child.workdir, keep_workdir=True)
        return Run(time.monotonic(), _process_cpu(child.pid), run.left - 1, run.number + 1)

    def pass_on(self, sock: socket.socket, line: bytes) -> None:
        try:
            sock.setblocking(True)
            sock.sendall(line + b"\n")
        except OSError:
            pass
        finally:
            sock.setblocking(False)

    def from_grader(self, line: bytes, sock: socket.socket, job_id: Any) -> str | None:
        """A message from the grader during a job: a call to pass on, or the end of the job."""
        if line == b"":
            return wire.END_GRADER_GONE
        try:
            msg = json.loads(line)
        except ValueError:
            return None
        if not isinstance(msg, dict) or msg.get("id") != job_id:
            return wire.END_QUIT if isinstance(msg, dict) and msg.get(wire.OP) == wire.OP_QUIT else None
        if msg.get(wire.OP) in (wire.OP_CALL, wire.OP_STEP):
            self.pass_on(sock, line)
        elif msg.get(wire.OP) == wire.OP_RERUN:
            return wire.OP_RERUN  # the caller ends the run, then passes it on
        elif msg.get(wire.OP) == wire.OP_END:
            return wire.END_ENDED
        return None

    def relay(self, buf: bytes) -> bytes:
        """Frame every complete child line as the child's; keep the incomplete rest.

        The lines are held back until the grader waits for one of them (``executed``, a call's
        answer), the job ends, or they add up to a lot: the grader, whose threads share one
        interpreter lock, then wakes up once per job instead of once per statement.
        """
        if b"\n" not in buf:
            return buf
        complete, _, rest = buf.rpartition(b"\n")
        urgent = False
        for line in complete.split(b"\n"):
            if line:
                self.pending.append(wire.CHILD_FRAME + line + b"\n")
                self.pending_bytes += len(line) + 2
                urgent = urgent or line.startswith(URGENT_HEADS)
        if urgent or self.pending_bytes > PENDING_BYTES:
            self.flush()
        return rest

    def flush(self) -> None:
        if self.pending:
            self.out.write(b"".join(self.pending))
            self.pending.clear()
            self.pending_bytes = 0

    def drain_events(self, sock: socket.socket, buf: bytes) -> None:
        """Relay what the child sent just before it ended."""
        for _ in range(64):
            try:
                chunk = sock.recv(1 << 20)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            buf = self.relay(buf + chunk)
            if len(buf) > wire.MAX_EVENT:
                break

    def drain(self, child: Prepared, kept: dict[int, tuple[bytes, int]], keep_bytes: int) -> None:
        """Read what is left in the output pipes (never blocking: an orphan may hold them open)."""
        for fd in (child.out_r, child.err_r):
            for _ in range(64):
                try:
                    chunk = os.read(fd, 1 << 16)
                except (BlockingIOError, OSError):
                    break
                if not chunk:
                    break
                head, total = kept[fd]
                if len(head) < keep_bytes:
                    head += chunk[: keep_bytes - len(head)]
                kept[fd] = (head, total + len(chunk))

    def reap(self, child: Prepared, block: bool = True) -> bool:
        """Collect the child's exit status; ``False`` if it is still running (``block=False``)."""
        if child.status is not None:
            return True
        while True:
            try:
                pid, status, usage = os.wait4(child.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                child.status = 0
                return True
            except InterruptedError:
                continue
            if pid == 0:
                return False
            child.status = status
            child.cpu = usage.ru_utime + usage.ru_stime
            return True

    def discard(self, child: Prepared) -> None:
        if child.status is None:
            _kill(child.pid)
        self.reap(child)
        child.close_fds()
        self.remove_files(child.workdir)

    # ---------------------------------------------------------------- cleanup

    def kill_leftovers(self) -> None:
        """No process outlives its grading: everything in our pid namespace, else everything of
        the slot's uid, else (the same uid as ours) every descendant the subreaper collected.

        Every process left is our descendant, and as the subreaper we inherit the orphans:
        kill, wait for all our children, and kill again until nothing is found.
        """
        for _ in range(100):
            if self.pidns:
                found = _kill_all_but_me()
            elif self.drops and self.uid is not None:
                found = _kill_uid(self.uid)
            else:
                found = _kill_descendants()
            if not found:
                return
            self._reap_all()

    def _reap_all(self) -> None:
        """Reap our children: all of them after an atomic kill(-1), else those already gone."""
        atomic = self.pidns or self.drops  # kill(-1) left nothing alive that could fork
        while True:
            try:
                pid, _ = os.waitpid(-1, 0 if atomic else os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if pid == 0:
                time.sleep(0.001)
                return

    def remove_files(self, workdir: str | None, keep_workdir: bool = False) -> None:
        """Remove what the job wrote: its directory (with ``keep_workdir``, what is in it), and in
        the shared places whatever its uid owns (in a private /tmp: everything)."""
        places = ("/tmp", "/dev/shm") if self.pidns else WORLD_WRITABLE
        uid = self.uid if self.drops else None
        inside = workdir if workdir and keep_workdir else None
        targets = [workdir] if workdir and not keep_workdir else []
        if workdir is None and not self.pidns and os.path.isdir(self.base):
            targets += [os.path.join(self.base, e) for e in os.listdir(self.base)]
        for place in places:
            try:
                entries = os.listdir(place)
            except OSError:
                continue
            for entry in entries:
                path = os.path.join(place, entry)
                if path == workdir:
                    continue
                try:
                    owner = os.lstat(path).st_uid
                except OSError:
                    continue
                if (uid is not None and owner == uid) or (self.pidns and uid is None):
                    targets.append(path)
        if not targets and inside is None:
            return
        if uid is None:
            for target in targets + _entries(inside):
                _remove(target)
            return
        # The files belong to the child's uid (and may be mode 0700): remove them as that uid.
        # setfsuid changes only file-permission checks, only on this thread, and is undone below.
        _libc.setfsuid(uid)
        _libc.setfsgid(uid)
        try:
            targets += _entries(inside)
            for target in targets:
                _remove(target)
        finally:
            _libc.setfsuid(0)
            _libc.setfsgid(0)
        for target in targets:  # the directories we made (as root) and anything left
            if os.path.lexists(target):
                _remove(target)


# --------------------------------------------------------------------- the worker's own events


def ready_event(torch_version: str) -> dict[str, Any]:
    """The worker started and imported torch: it is ready for jobs."""
    return {
        wire.EVENT: wire.EV_READY,
        "pid": os.getpid(),
        "uid": os.getuid(),
        "torch": torch_version,
        "python": sys.version.split()[0],
    }


def run_end_event(
    job_id: Any, run: int, duration: float, stdout: tuple[bytes, int], stderr: tuple[bytes, int]
) -> dict[str, Any]:
    """A run of the job ended for a rerun (the child goes on): its output, as :func:`exit_event` says it."""
    return {wire.EVENT: wire.EV_RUN_END, "id": job_id, "run": run, "duration": duration, **_streams(stdout, stderr)}


def _streams(stdout: tuple[bytes, int], stderr: tuple[bytes, int]) -> dict[str, Any]:
    """The head of each stream and its full size, as a run's end reports them."""
    return {
        "stdout": stdout[0].decode("utf-8", "replace"),
        "stderr": stderr[0].decode("utf-8", "replace"),
        "stdout_bytes": stdout[1],
        "stderr_bytes": stderr[1],
    }


def exit_event(
    job_id: Any,
    reason: str,
    duration: float,
    stdout: tuple[bytes, int],
    stderr: tuple[bytes, int],
    status: int | None,
    cpu: float | None,
    cpu_seconds: float,
) -> dict[str, Any]:
    """How one job ended: ``reason``, the head of each stream and its full size (``stdout``,
    ``stderr``), and from the child's wait status (``None``: the grader ended it, or it was never
    reaped) its exit code or signal and whether its CPU time (``cpu``) had reached the limit."""
    event: dict[str, Any] = {
        wire.EVENT: wire.EV_EXIT,
        "id": job_id,
        "reason": reason,
        "duration": duration,
        **_streams(stdout, stderr),
        "code": None,
        "signal": None,
    }
    if status is not None:
        if os.WIFEXITED(status):
            event["code"] = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            event["signal"] = _signal_name(os.WTERMSIG(status))
        # whether a SIGKILL was the CPU limit's (its hard limit) or something else's
        event["cpu_limit_reached"] = cpu is not None and cpu >= cpu_seconds
    return event


# --------------------------------------------------------------------- helpers


def _apply_limits(job: dict[str, Any], count_own: bool) -> None:
    """The child's resource limits and seeds, set once its job is known."""
    limits = wire.JobLimits.from_data(job["limits"])
    sys.argv = [str(job.get("argv0", "submission"))]
    # RLIMIT_NPROC counts every process of the uid: on a uid of its own the child starts from
    # zero; sharing the grader's uid (no root), the processes it already has come on top.
    own = _count_processes(os.getuid()) if count_own else 0
    vm = _vm_size()
    for name, value in (
        ("RLIMIT_AS", vm + limits.memory_bytes),
        ("RLIMIT_FSIZE", limits.file_bytes),
        ("RLIMIT_NPROC", own + limits.processes),
        ("RLIMIT_CORE", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
    cpu = math.ceil(limits.cpu_seconds)
    runs = max(1, min(_whole(job.get("runs"), 1), wire.MAX_RUNS))
    # Each run's own allowance (a rerun raises the soft limit by one, see _more_cpu); the hard
    # limit is the job's whole, one second more.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu * runs + 1))
    _seed(int(job.get("seed", 0)))


def _seed(seed: int) -> None:
    """Seed every generator the code may draw from, as each run starts."""
    import random

    import torch  # the worker imported it before forking: only a name here

    # torch.manual_seed would also seed (and so import) every accelerator backend; the child
    # runs on the CPU (a forked process may not start CUDA), so the CPU generator is the one.
    torch.default_generator.manual_seed(seed)
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed % 2**32)


def _more_cpu(seconds: float) -> None:
    """A rerun's CPU allowance: the soft limit ``seconds`` past what the child has used (never past
    the job's hard limit, which the code cannot raise)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    except (OSError, ValueError):
        pass  # the code lowered its own limits: they stay lower


def _whole(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _keep_only_capability(cap: int) -> None:
    """After a uid drop with PR_SET_KEEPCAPS: permitted and effective become exactly ``{cap}``."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    data[cap // 32].effective = data[cap // 32].permitted = 1 << (cap % 32)
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    _libc.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)


def _huge_pages() -> int:
    """Back the worker's private memory with 2 MiB pages where the kernel can (Linux ≥ 6.1).

    Every fork copies, and every child's exit tears down, one page-table entry per page of
    the worker's ~150 MB of torch: with huge pages that is 512 times fewer entries, and a
    fork with its exit costs about half.  A child still copies only the 4 KiB it writes.
    Returns the bytes collapsed (0 where the kernel cannot).
    """
    madvise = _libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    huge = 2 << 20
    done = 0
    try:
        with open("/proc/self/maps") as maps:
            regions = [line.split() for line in maps]
    except OSError:
        return 0
    for parts in regions:
        if not parts[1].startswith("rw") or (len(parts) > 5 and parts[5] != "[heap]"):
            continue  # private anonymous memory only: no file, no stack
        low, high = (int(x, 16) for x in parts[0].split("-"))
        start, end = -(-low // huge) * huge, high // huge * huge
        # MADV_COLLAPSE alone (not MADV_HUGEPAGE): what a child allocates later keeps small pages
        if end > start and madvise(start, end - start, MADV_COLLAPSE) == 0:
            done += end - start
    return done


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _kill_all_but_me() -> bool:
    """kill(-1) inside our pid namespace: everything but us and its init (bwrap). Atomic with fork."""
    try:
        os.kill(-1, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def _kill_uid(uid: int) -> bool:
    """kill(-1) as the slot's uid: every process of that uid (and only those), atomically with fork."""
    os.setresuid(uid, uid, 0)  # the saved uid stays 0, so the way back is open
    try:
        os.kill(-1, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.setresuid(0, 0, 0)


def _kill_descendants() -> bool:
    """Same uid as ours, no namespace: kill every process whose ancestry leads to us (the subreaper)."""
    me = os.getpid()
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] in (b"Z", b"X"):
            continue
        parents[int(entry)] = int(fields[1])
    found = False
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor is not None and ancestor not in (me, 0, 1):
            ancestor = parents.get(ancestor)
        if ancestor == me and pid != me:
            _kill(pid)
            found = True
    return found


def _empty_pipe(fd: int | None) -> bool:
    """Read everything the pipe ``fd`` holds; ``False`` once its writer closed it."""
    if fd is None:
        return True
    while True:
        try:
            if not os.read(fd, 4096):
                return False
        except BlockingIOError:
            return True
        except OSError:
            return False


def _entries(folder: str | None) -> list[str]:
    """The paths of what ``folder`` holds (none where there is no folder)."""
    try:
        return [os.path.join(folder, name) for name in os.listdir(folder)] if folder else []
    except OSError:
        return []


def _remove(path: str) -> None:
    def retry(func: Any, target: str, _exc: Any) -> None:
        try:  # a directory the student made unreadable (chmod 000): make it ours to empty
            os.chmod(target, 0o700)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)
        except OSError:
            pass

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=retry)
        else:
            os.unlink(path)
    except OSError:
        pass


def _process_cpu(pid: int) -> float:
    """The CPU seconds process ``pid`` has used (0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _count_processes(uid: int) -> int:
    """Processes (threads, for the kernel) this uid already has: RLIMIT_NPROC counts them all."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if p and os.path.isabs(p)]  # never the working directory
    ForkServer(json.loads(sys.argv[1])).serve()
    # Everything is cleaned up (serve's finally): end without the interpreter's teardown, which
    # with torch loaded costs ≈ 0.3 s that the grader's last close would wait for.
    _flush_std()
    os._exit(0)
