"""The grader<->worker wire protocol, written once for both ends (standard library only).

The worker cannot import ``harness`` inside the sandbox (the grader's packages are hidden there):
the grader injects this module's source into the worker's command line, where the worker finds it
as ``sys.modules[INJECTED_NAME]`` (see :mod:`harness.run.sandbox`).  So this module imports
nothing but the standard library, and nothing of the grader.

Grader -> worker, on the worker's stdin: one JSON object per line, named by its ``op``
(:func:`job_message`, :func:`call_message`, :func:`rerun_message`, :func:`end_message`,
:func:`quit_message`).

Worker -> grader, on the worker's stdout: one JSON event per line, named by its ``ev``, after
one frame byte that says who wrote it: :data:`WORKER_FRAME` for the worker's own events
(:data:`WORKER_EVENTS`), :data:`CHILD_FRAME` for a child's, relayed unread
(:data:`CHILD_EVENTS`).  The worker writes the frame byte, so a child cannot forge a worker
event; :func:`read_event` drops an event of the wrong kind for its frame.  The fields each event
may carry are :data:`EVENT_FIELDS`; every value in them is encoded as below.

Values: one JSON object each, its kind under :data:`KIND` (one of :data:`VALUE_KINDS`), made
by :func:`array`, :func:`number`, :func:`sequence`, :func:`too_large`, :func:`function`,
:func:`other` and :func:`unbound`; never pickle.  The grader validates every value it reads.
"""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

GRADER_PACKAGES = ("harness", "reference")  # a submission may not import these
INJECTED_NAME = "gradproof_wire"  # this module's name inside the sandbox

# ---------------------------------------------------------------- frames and sizes

WORKER_FRAME = b"w"  # the first byte of the worker's own event line
CHILD_FRAME = b"c"  # the first byte of a child's event line, relayed unread

MAX_EVENT = 8 * 1024 * 1024  # one event line from a child: past this it is sent as ``too_large``
MAX_JOB_EVENTS = 64 * 1024 * 1024  # all of one job's child events: past this the child is stopped
MAX_KEEP_BYTES = 4 * 1024 * 1024  # the most of each output stream an exit event may carry
# One line the grader reads: an exit event holds up to 2 × MAX_KEEP_BYTES of output, escaped.
MAX_LINE = 64 * 1024 * 1024
READ_BYTES = 1 << 20  # one read(2) of a line reader

# Text fields, cut to these lengths (the worker where it writes them, the grader where it reads).
MAX_MESSAGE_CHARS = 2000  # an exception's message
MAX_TRACEBACK_CHARS = 4000  # an exception's traceback (the worker keeps its end)
MAX_LABEL_CHARS = 200  # a cell's label, a module's name
MAX_CALL_CHARS = 300  # a refused IPython call
MAX_NAME_CHARS = 100  # a tracked name, a function's, an exception type's
MAX_REASON_CHARS = 40  # an end reason, a signal's name

# ---------------------------------------------------------------- grader -> worker

OP = "op"
OP_JOB = "job"  # run a submission in the waiting child
OP_CALL = "call"  # call one of its functions
OP_STEP = "step"  # an assignment's step: call a path, set one, or read one (see step_message)
OP_RERUN = "rerun"  # run the code again from its start, in fresh globals, on the grader's inputs
OP_END = "end"  # the grader is done with it
OP_QUIT = "quit"  # the worker ends
OPS = frozenset({OP_JOB, OP_CALL, OP_STEP, OP_RERUN, OP_END, OP_QUIT})
MAX_RUNS = 16  # the runs one job may hold (its own and the grader's reruns)


class JobLimits(NamedTuple):
    """What one child may use, as a job message carries it (its fields are the limit keys).

    :class:`harness.records.assignment.Limits` writes it; the worker reads it with :meth:`from_data`.
    """

    timeout: float  # wall-clock seconds: the worker's SIGKILL has the last word
    cpu_seconds: float  # RLIMIT_CPU (soft; the hard limit is one second more)
    memory_bytes: int  # address space on top of the worker's own (RLIMIT_AS)
    processes: int  # RLIMIT_NPROC on top of what the uid already has
    file_bytes: int  # RLIMIT_FSIZE
    output_bytes: int  # stdout + stderr past this: the child is stopped (reason "output")
    output_keep_bytes: int  # how much of each stream the exit event carries

    def as_data(self) -> dict[str, Any]:
        return dict(self._asdict())

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> JobLimits:
        return cls(
            timeout=float(data["timeout"]),
            cpu_seconds=float(data["cpu_seconds"]),
            memory_bytes=int(data["memory_bytes"]),
            processes=int(data["processes"]),
            file_bytes=int(data["file_bytes"]),
            output_bytes=int(data["output_bytes"]),
            output_keep_bytes=int(data["output_keep_bytes"]),
        )


LIMIT_KEYS: tuple[str, ...] = JobLimits._fields


def job_message(
    job_id: int,
    cells: Sequence[tuple[str, str]],
    names: Sequence[str],
    functions: Sequence[str],
    limits: Mapping[str, Any],
    seed: int,
    argv0: str,
    substitute: Mapping[str, Substitution] | None = None,
    runs: int = 1,
) -> dict[str, Any]:
    """A submission for the waiting child: its cells (label, source), the names to track, the
    functions to look for, its limits (:meth:`JobLimits.as_data`), its seed and ``sys.argv[0]``;
    on a run with the grader's inputs, the names to replace at their first binding; and how
    many runs the job may hold (``runs``: its own and up to ``runs - 1`` reruns,
    :func:`rerun_message`, each with the limits of one run)."""
    message = {
        OP: OP_JOB,
        "id": job_id,
        "cells": [[label, source] for label, source in cells],
        "names": list(names),
        "functions": list(functions),
        "limits": dict(limits),
        "seed": seed,
        "argv0": argv0,
        "runs": max(1, min(int(runs), MAX_RUNS)),
    }
    if substitute:
        message[SUBSTITUTE] = {name: s.as_data() for name, s in substitute.items()}
    return message


# ---------------------------------------------------------------- the grader's inputs

# On a run with the grader's inputs, each name of an input role is replaced right after the
# statement that first binds it, by a value drawn from (seed, role kind, shape): same type, shape
# and dtype as the student's.  The child draws it; the grader draws it again from the same seed
# and checks that the run really used it (the child's word is never taken).
SUBSTITUTE = "substitute"
ROLE_INPUT = "input"  # X: entries in [1/8, 1]
ROLE_TARGET = "target"  # Y: entries in [0, 1] (a sigmoid's range)
ROLE_WEIGHT = "weight"  # W1, W2: entries in [-1, 1] / 2^k, so that no pre-activation saturates
ROLE_RATE = "rate"  # lr: one of RATES
ROLE_SIGNED = "signed"  # entries in [-1, 1], away from 0
ROLE_LABELS = "labels"  # whole numbers 0 .. classes - 1 (an integer array stays integer)
ROLE_KINDS = (ROLE_INPUT, ROLE_TARGET, ROLE_WEIGHT, ROLE_RATE, ROLE_SIGNED, ROLE_LABELS)
RATES = (0.05, 0.1, 0.2)
GRID = 16  # every drawn entry is a multiple of 1/GRID (times a power of two): exact in any float dtype


class Substitution(NamedTuple):
    seed: int
    kind: str  # one of ROLE_KINDS
    classes: int = 0  # labels: how many classes
    turn: int = 0  # which of the grader's runs (a rate takes each of RATES in turn)

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"seed": self.seed, "kind": self.kind}
        if self.classes:
            data["classes"] = self.classes
        if self.turn:
            data["turn"] = self.turn
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Substitution:
        return cls(
            seed=int(data["seed"]),
            kind=str(data["kind"]),
            classes=int(data.get("classes", 0)),
            turn=int(data.get("turn", 0)),
        )


def draw_entries(substitution: Substitution, shape: Sequence[int]) -> list[float]:
    """The grader's value for a name of shape ``shape`` (``()`` for a number), flat, row-major."""
    import random

    rng = random.Random(f"{substitution.seed}:{substitution.kind}:{tuple(shape)}")
    count = 1
    for n in shape:
        count *= n
    if substitution.kind == ROLE_RATE:  # each in turn: a step size written into the code (0.1) shows on 2 runs
        return [RATES[(substitution.turn + k) % len(RATES)] for k in range(count)]
    if substitution.kind == ROLE_INPUT:
        return [rng.randint(2, GRID) / GRID for _ in range(count)]
    if substitution.kind == ROLE_TARGET:
        return [rng.randint(0, GRID) / GRID for _ in range(count)]
    if substitution.kind == ROLE_SIGNED:
        return [rng.choice((-1, 1)) * rng.randint(2, GRID) / GRID for _ in range(count)]
    if substitution.kind == ROLE_LABELS:
        return [float(rng.randrange(max(substitution.classes, 1))) for _ in range(count)]
    # weights: away from zero and scaled by a power of two near 1/sqrt(fan-in)
    fan_in = max(shape) if shape else 1
    scale = 2.0 ** -int(max(fan_in, 1) ** 0.5).bit_length() * 2
    return [rng.choice((-1, 1)) * rng.randint(2, GRID) / GRID * scale for _ in range(count)]


def call_message(job_id: int, fn: str, args: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Call the submission's ``fn`` on encoded ``args`` (see :data:`ARGUMENT_KINDS`)."""
    return {OP: OP_CALL, "id": job_id, "fn": fn, "args": [dict(a) for a in args]}


STEP_CALL = "call"  # call the object at ``target`` with the arguments
STEP_SET = "set"  # bind ``target`` (a name, an attribute, an item) to the first argument
STEP_GET = "get"  # the value at ``target``
STEP_ACTIONS = (STEP_CALL, STEP_SET, STEP_GET)


def step_message(
    job_id: int,
    action: str,
    target: str,
    args: Sequence[Mapping[str, Any]] = (),
    kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    keep_as: str | None = None,
) -> dict[str, Any]:
    """One step of an assignment: ``action`` (one of :data:`STEP_ACTIONS`) on the path ``target``
    (see :func:`parse_path`), with encoded arguments (:data:`STEP_ARGUMENT_KINDS`); the result is
    kept in the child under ``keep_as`` (a handle later paths may start from) and sent back."""
    message: dict[str, Any] = {OP: OP_STEP, "id": job_id, "action": action, "target": target}
    message["args"] = [dict(a) for a in args]
    message["kwargs"] = {k: dict(v) for k, v in (kwargs or {}).items()}
    if keep_as is not None:
        message["as"] = keep_as
    return message


# ---------------------------------------------------------------- paths


class PathError(ValueError):
    """A path that is not a name followed by attributes and constant subscripts."""


def parse_path(text: str) -> tuple[tuple[str, Any], ...]:
    """``net.grads['dJdW1']``, ``out[1]["W1"]``, ``NN.W1`` as parts: ``(("name", "net"), ("attr",
    "grads"), ("item", "dJdW1"))``.  Nothing is evaluated: only names, attributes and constant
    (string or whole-number) subscripts are allowed."""
    import ast

    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise PathError(f"path={text!r}: not a name followed by .attributes and [constant] items") from None
    parts: list[tuple[str, Any]] = []
    while True:
        if isinstance(node, ast.Name):
            parts.append(("name", node.id))
            break
        if isinstance(node, ast.Attribute):
            parts.append(("attr", node.attr))
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise PathError(f"path={text!r}: an item must be a string or a whole number")
            parts.append(("item", key))
            node = node.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.UnaryOp)
            and isinstance(node.slice.op, ast.USub)
            and isinstance(node.slice.operand, ast.Constant)
            and isinstance(node.slice.operand.value, int)
        ):
            parts.append(("item", -node.slice.operand.value))
            node = node.value
        else:
            raise PathError(f"path={text!r}: not a name followed by .attributes and [constant] items")
    return tuple(reversed(parts))


def resolve(parts: Sequence[tuple[str, Any]], *namespaces: Mapping[str, Any]) -> Any:
    """The object a parsed path names, its first name looked up in each namespace in turn;
    :class:`LookupError` (or the object's own exception) where a part is not there."""
    head = parts[0][1]
    for namespace in namespaces:
        if head in namespace:
            value = namespace[head]
            break
    else:
        raise NameError(f"name {head!r} is not defined")
    for how, key in parts[1:]:
        value = getattr(value, key) if how == "attr" else value[key]
    return value


def assign(parts: Sequence[tuple[str, Any]], namespace: dict[str, Any], value: Any, *more: Mapping[str, Any]) -> None:
    """Bind the place a parsed path names (the first name in ``namespace``, or its parent found in
    ``namespace`` then ``more``) to ``value``."""
    if len(parts) == 1:
        namespace[parts[0][1]] = value
        return
    parent = resolve(parts[:-1], namespace, *more)
    how, key = parts[-1]
    if how == "attr":
        setattr(parent, key, value)
    else:
        parent[key] = value


def rerun_message(job_id: int, substitute: Mapping[str, Substitution]) -> dict[str, Any]:
    """Run the submission again in the same child, from its first cell, in fresh globals, with
    ``substitute``'s names replaced at their first binding (a run on the grader's inputs).

    The runs of one job belong to one submission: they share its child (its sandbox, its uid),
    not one another's globals.  The worker first ends the run before with a ``run_end`` event
    (its output, as an ``exit`` event carries it), then gives the new run the limits of a run
    of its own: its wall clock, its CPU time, its output.  The grader sends at most the job's
    ``runs - 1`` of them; the worker ignores any more."""
    return {OP: OP_RERUN, "id": job_id, SUBSTITUTE: {name: s.as_data() for name, s in substitute.items()}}


def end_message(job_id: int) -> dict[str, Any]:
    return {OP: OP_END, "id": job_id}


def quit_message() -> dict[str, Any]:
    return {OP: OP_QUIT}


# ---------------------------------------------------------------- worker -> grader

EVENT = "ev"
# the worker's own
EV_READY = "ready"  # started, torch imported: ready for jobs
EV_EXIT = "exit"  # one per job: how the child ended, the head of its output
EV_RUN_END = "run_end"  # a run ended for a rerun of the same job (the child goes on): its output
# a child's
EV_BIND = "bind"  # the tracked names a statement changed
EV_RAISED = "raised"  # the exception that stopped the code (or the child's own set-up)
EV_EXECUTED = "executed"  # the end of the code: the functions it defined
EV_RETURN = "return"  # a call's value
EV_CALL_ERROR = "call_error"  # a call's exception
EV_BLOCKED = "blocked"  # an import of the grader's packages, refused
EV_IPYTHON = "ipython"  # an IPython magic or shell call (run or refused)
EV_MISSING_MODULE = "missing_module"  # an import the grader cannot satisfy: a stand-in took its place
EV_AUTOGRAD = "autograd"  # the code ran autograd (a backward, torch.autograd.grad, a torch.func transform, .grad set)

WORKER_EVENTS = frozenset({EV_READY, EV_EXIT, EV_RUN_END})
CHILD_EVENTS = frozenset(
    {EV_BIND, EV_RAISED, EV_EXECUTED, EV_RETURN, EV_CALL_ERROR, EV_BLOCKED, EV_IPYTHON, EV_MISSING_MODULE, EV_AUTOGRAD}
)
URGENT_EVENTS = frozenset({EV_EXECUTED, EV_RETURN, EV_CALL_ERROR})  # the grader waits for these
TOO_LARGE_FIELD = "too_large"  # any child event past MAX_EVENT: only its name and this flag are sent

_ERROR_FIELDS = ("type", "message", "line", "traceback")
EVENT_FIELDS: Mapping[str, frozenset[str]] = {
    EV_READY: frozenset({"pid", "uid", "torch", "python"}),
    EV_EXIT: frozenset(
        {
            "id",
            "reason",  # one of END_REASONS
            "duration",
            "stdout",
            "stderr",
            "stdout_bytes",
            "stderr_bytes",
            "code",
            "signal",
            "cpu_limit_reached",
        }
    ),
    EV_RUN_END: frozenset({"id", "run", "duration", "stdout", "stderr", "stdout_bytes", "stderr_bytes"}),
    EV_BIND: frozenset({"statement", "label", "values"}),  # values: name -> encoded value
    EV_RAISED: frozenset({"statement", "label", *_ERROR_FIELDS}),
    EV_EXECUTED: frozenset({"functions"}),
    EV_RETURN: frozenset({"value"}),
    EV_CALL_ERROR: frozenset(_ERROR_FIELDS),
    EV_BLOCKED: frozenset({"module"}),
    EV_IPYTHON: frozenset({"call", "executed"}),
    EV_MISSING_MODULE: frozenset({"module", "label"}),
    EV_AUTOGRAD: frozenset({"what", "label"}),
}


def event_line(event: Mapping[str, Any]) -> bytes:
    """An event as one line of JSON (NaN and infinities allowed: a submission's values may hold them)."""
    return json.dumps(event, allow_nan=True).encode() + b"\n"


def event_head(name: str) -> bytes:
    """How :func:`event_line` begins an event named ``name`` (``{"ev": "executed"``)."""
    return json.dumps({EVENT: name})[:-1].encode()


def read_event(line: bytes) -> dict[str, Any] | None:
    """A framed line from the worker as an event; ``None`` for anything else (not JSON, not an
    object, or not an event its frame's writer may send: a child cannot forge the worker's ``exit``)."""
    frame, body = line[:1], line[1:]
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # a child's garbage, or "[[[[..." nested past the stack
        return None
    if not isinstance(event, dict):
        return None
    allowed = WORKER_EVENTS if frame == WORKER_FRAME else CHILD_EVENTS if frame == CHILD_FRAME else frozenset()
    return event if event.get(EVENT) in allowed else None


# How a job ended (the exit event's "reason"; Ending.reason on the grader's side).
END_ENDED = "ended"  # the grader sent "end": it was done with the child
END_EXITED = "exited"  # the child's process ended by itself (its code or signal says how)
END_TIMEOUT = "timeout"  # past the wall-clock limit (the worker's, or the grader's for a stuck worker)
END_OUTPUT = "output"  # printed more than output_bytes
END_PROTOCOL = "protocol"  # an oversized or garbled event, or more than MAX_JOB_EVENTS of them
END_GRADER_GONE = "grader-gone"  # the worker's stdin closed
END_QUIT = "quit"  # the grader sent "quit" during the job
WORKER_END_REASONS = frozenset(
    {END_ENDED, END_EXITED, END_TIMEOUT, END_OUTPUT, END_PROTOCOL, END_GRADER_GONE, END_QUIT}
)
END_WORKER_DIED = "worker-died"  # the grader's own: the worker died (or was replaced) mid-job
# The grader's own: the child wrote what no honest run writes (an event out of order, a value the
# grader cannot read): the run is stopped and nothing it reported is trusted.
END_FORGED = "forged"
END_REASONS = WORKER_END_REASONS | {END_WORKER_DIED, END_FORGED}

# ---------------------------------------------------------------- values

KIND = "t"  # every encoded value: its kind, one of VALUE_KINDS
KIND_TENSOR = "tensor"
KIND_NDARRAY = "ndarray"
KIND_NUMBER = "number"
KIND_LIST = "list"
KIND_TUPLE = "tuple"
KIND_FUNCTION = "function"
KIND_TOO_LARGE = "too_large"
KIND_OTHER = "other"
KIND_UNBOUND = "unbound"  # a tracked name that was deleted
VALUE_KINDS = frozenset(
    {
        KIND_TENSOR,
        KIND_NDARRAY,
        KIND_NUMBER,
        KIND_LIST,
        KIND_TUPLE,
        KIND_FUNCTION,
        KIND_TOO_LARGE,
        KIND_OTHER,
        KIND_UNBOUND,
    }
)
ARRAY_KINDS = (KIND_TENSOR, KIND_NDARRAY)
SEQUENCE_KINDS = (KIND_LIST, KIND_TUPLE)
ARGUMENT_KINDS = frozenset({KIND_TENSOR, KIND_NDARRAY, KIND_NUMBER})  # what a call's arguments may be
KIND_LITERAL = "literal"  # a step's argument: a JSON scalar (text, whole number, true/false) or a list of them
KIND_REF = "ref"  # a step's argument: the object at a path in the child (a handle, a submission's name)
STEP_ARGUMENT_KINDS = ARGUMENT_KINDS | {KIND_LITERAL, KIND_REF}

DTYPE = "dtype"  # an array's dtype: torch's name without "torch.", or numpy's
SHAPE = "shape"  # an array's (or a too-large one's) shape
DATA = "data"  # an array's entries, flattened (bool as 0/1)
REQUIRES_GRAD = "requires_grad"  # a tensor's, as the child saw it
NUMBER = "v"  # a number's value
ITEMS = "items"  # a list's or tuple's encoded items
ARRAY_KIND = "kind"  # what a too-large value was: one of ARRAY_KINDS
TYPE = "type"  # what an ``other`` value was

MAX_ELEMENTS = 200_000  # an array larger than this is ``too_large``: described, not sent
MAX_ITEMS = 10_000  # a longer list or tuple is ``other``
MAX_DEPTH = 4  # lists and tuples nested deeper are ``other``
MAX_DIMS = 8  # an array of more dimensions is malformed to the grader
NUMBER_EXACT = 2**53  # an int at least this large is sent as NaN (a float would not be exact)


def array(
    kind: str, dtype: str, shape: Sequence[int], data: list[Any], requires_grad: bool | None = None
) -> dict[str, Any]:
    """A tensor or an ndarray (``kind``): its dtype's name, its shape and its entries, flattened."""
    value: dict[str, Any] = {KIND: kind, DTYPE: dtype, SHAPE: list(shape), DATA: data}
    if requires_grad is not None:
        value[REQUIRES_GRAD] = requires_grad
    return value


def number(v: float) -> dict[str, Any]:
    return {KIND: KIND_NUMBER, NUMBER: v}


def sequence(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A list or a tuple (``kind``) of encoded items."""
    return {KIND: kind, ITEMS: items}


def too_large(kind: str, shape: Sequence[int]) -> dict[str, Any]:
    """An array (``kind``) of more than :data:`MAX_ELEMENTS` entries: only its shape."""
    return {KIND: KIND_TOO_LARGE, SHAPE: list(shape), ARRAY_KIND: kind}


def function() -> dict[str, Any]:
    return {KIND: KIND_FUNCTION}


def other(description: str) -> dict[str, Any]:
    """Anything else: what it was (a type's name, or why it could not be sent)."""
    return {KIND: KIND_OTHER, TYPE: description}


def unbound() -> dict[str, Any]:
    return {KIND: KIND_UNBOUND}


def literal(v: Any) -> dict[str, Any]:
    """A step argument taken as it is: text, a whole number, a float, true/false, or a list of them."""
    return {KIND: KIND_LITERAL, NUMBER: v}


def ref(path: str) -> dict[str, Any]:
    """A step argument: the object at ``path`` in the child (a handle a step kept, or a global)."""
    return {KIND: KIND_REF, "path": path}


# ---------------------------------------------------------------- reading lines


class LineReader:
    """Lines from a file descriptor (a pipe or a socket), without Python's buffered file objects.

    Both ends read with it: the grader the worker's stdout (with a deadline, at most ``limit``
    bytes a line), the worker the grader's messages on its stdin, a child its job and calls.
    """

    def __init__(self, fd: int, limit: int | None = None) -> None:
        self.fd = fd
        self.limit = limit
        self.buf = b""

    @property
    def complete(self) -> bool:
        """Whether a whole line is already read (the next :meth:`read` then returns at once)."""
        return b"\n" in self.buf

    def read(self, deadline: float | None = None) -> bytes:
        """The next line, without its newline.

        ``deadline`` (``time.monotonic()``; ``None``: wait as long as it takes): past it, with no
        line complete, :class:`TimeoutError`.  :class:`EOFError` at the end of the stream, and
        for a line longer than ``limit``.
        """
        while b"\n" not in self.buf:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError
            self._fill()
        return self._pop()

    def poll(self) -> bytes | None:
        """The next line if it is complete with what the descriptor holds now (never blocking), else
        ``None``; :class:`EOFError` as :meth:`read`."""
        while b"\n" not in self.buf:
            if not select.select([self.fd], [], [], 0)[0]:
                return None
            self._fill()
        return self._pop()

    def _fill(self) -> None:
        chunk = os.read(self.fd, READ_BYTES)
        if not chunk:
            raise EOFError
        self.buf += chunk
        if self.limit is not None and len(self.buf) > self.limit and b"\n" not in self.buf:
            raise EOFError(f"a line longer than {self.limit} bytes")

    def _pop(self) -> bytes:
        line, _, self.buf = self.buf.partition(b"\n")
        return line
