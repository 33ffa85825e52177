"""The wire protocol (``harness.wire``): both ends speak it, and agree.

Every event and every value crosses both ends in-process: the worker's own code writes it
(``harness.run.worker``: a :class:`Child` running cells and answering calls, the worker's
framing), and the grader's own code reads it (``harness.run.pool``'s line reader and
:class:`Session`, ``harness.run.values.decode_value``) into ``records.outcome``.  The other
direction too: the grader's call arguments, decoded by the worker.  One real worker (sandboxed
where bubblewrap works) shows that the protocol it gets injected is the same.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import harness.run.pool as pool
import harness.run.worker as worker
from harness import wire
from harness.load import load
from harness.records.assignment import Assignment, Limits
from harness.records.outcome import Outcome, Value
from harness.run.sandbox import packed, worker_command, worker_source
from harness.run.values import decode_value, encode_argument

LIMITS = replace(Assignment().limits, timeout=10.0)
JOB_ID = 7


# ---------------------------------------------------------------- the two ends, in-process


class Recorded:
    """The grader's side of a worker that wrote ``framed`` (its stdout) and nothing more."""

    def __init__(self, framed: bytes) -> None:
        self.file = tempfile.TemporaryFile()
        self.file.write(framed)
        self.file.flush()
        self.file.seek(0)
        self.lines = pool._Lines(self.file.fileno())
        self.sent: list[dict[str, Any]] = []

    def read(self, deadline: float) -> dict[str, Any] | None:
        return self.lines.read(deadline)

    def send(self, message: dict[str, Any]) -> bool:
        self.sent.append(json.loads(json.dumps(message)))
        return True

    def stop(self) -> None:
        self.file.close()


def framing_worker() -> tuple[worker.ForkServer, io.BytesIO]:
    """The worker's framing code (relay, send), writing into memory instead of its stdout."""
    out = io.BytesIO()
    return worker.ForkServer({}, out=out), out


def session_over(framed: bytes) -> tuple[pool.Session, Recorded]:
    recorded = Recorded(framed)
    session = pool.Session(recorded, LIMITS, Outcome(), time.monotonic(), JOB_ID)  # type: ignore[arg-type]
    return session, recorded


@pytest.fixture
def child_lines() -> Iterator[list[bytes]]:
    """Every line one :class:`worker.Child` sent: a job that makes every child event, then calls."""
    sent: list[bytes] = []
    cells = [
        (
            "cell 1",
            "import torch\n"
            "W1 = torch.ones(2, 3)\n"
            "lr = 0.1\n"
            "del lr\n"
            "torch.ones(2, requires_grad=True).sum().backward()\n"
            "get_ipython().system('ls')\n"
            "import gradproof_no_such_module\n"
            "try:\n"
            "    import harness.gradproof_no_such_module\n"
            "except ImportError:\n"
            "    pass\n"
            "def sigmoid(z):\n"
            "    return 1 / (1 + torch.exp(-z))\n",
        ),
        ("cell 2", "raise ValueError('planted')\n"),
    ]
    job = wire.job_message(JOB_ID, cells, ["W1", "lr"], ["sigmoid", "forward"], LIMITS.as_data(), 0, "sub.py")
    child = worker.Child(sent.append, json.loads(json.dumps(job)))
    try:
        child.execute()
    finally:
        child.release_reserve()
        child.unwatch()
        while sys.meta_path and isinstance(sys.meta_path[0], worker._GraderBlocker):
            sys.meta_path.pop(0)
    grader, child_end = socket.socketpair()
    try:
        arg = encode_argument(torch.tensor([[0.0], [2.0]]), "float32", as_numpy=False)
        for message in (
            wire.call_message(JOB_ID, "sigmoid", [arg]),
            wire.call_message(JOB_ID, "forward", [arg]),
            wire.end_message(JOB_ID),
        ):
            grader.sendall(json.dumps(message).encode() + b"\n")
        child.serve(wire.LineReader(child_end.fileno()))
    finally:
        grader.close()
        child_end.close()
    yield sent


def events_of(lines: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for b in lines for line in b.splitlines()]


# ---------------------------------------------------------------- events


def test_a_child_makes_every_child_event_and_only_those(child_lines: list[bytes]) -> None:
    assert {e[wire.EVENT] for e in events_of(child_lines)} == wire.CHILD_EVENTS


def test_every_event_a_child_sends_carries_only_the_fields_the_protocol_names(child_lines: list[bytes]) -> None:
    for event in events_of(child_lines):
        name = event[wire.EVENT]
        assert set(event) - {wire.EVENT} <= wire.EVENT_FIELDS[name], event


def test_every_child_event_crosses_the_workers_framing_into_the_graders_outcome(child_lines: list[bytes]) -> None:
    relay, out = framing_worker()
    rest = relay.relay(b"".join(child_lines))
    assert rest == b""
    ended = worker.exit_event(JOB_ID, wire.END_ENDED, 0.5, (b"hi\n", 3), (b"", 0), None, None, 11.0)
    relay.send(ended)
    session, recorded = session_over(out.getvalue())
    session.wait_executed()
    ok = session.call("sigmoid", [encode_argument(torch.tensor([[0.0], [2.0]]), "float32", as_numpy=False)])
    missing = session.call("forward", [])
    outcome = session.close()

    history = [(b.statement, b.label, b.name, b.value.kind) for b in outcome.history]
    assert history == [(2, "cell 1", "W1", "tensor"), (3, "cell 1", "lr", "number"), (4, "cell 1", "lr", "unbound")]
    assert outcome.ipython == ["!ls"]
    assert outcome.missing_modules == ["gradproof_no_such_module"]
    assert outcome.blocked_imports == ["harness.gradproof_no_such_module"]
    assert outcome.error is not None and outcome.error.type == "ValueError" and outcome.error.message == "planted"
    assert outcome.error.where == "cell 2, line 1"
    assert outcome.executed and outcome.functions == ("sigmoid",)
    assert ok.value is not None and ok.value.tensor is not None and ok.value.dtype == "float32"
    assert ok.value.tensor[0, 0].item() == 0.5
    assert missing.error is not None and missing.error.type == "NameError"
    assert outcome.ending is not None and outcome.ending.reason == wire.END_ENDED
    assert (
        outcome.ending.stdout == "hi\n" and outcome.ending.stdout_bytes == 3 and outcome.ending.problem(LIMITS) is None
    )
    assert [m[wire.OP] for m in recorded.sent] == [wire.OP_CALL, wire.OP_CALL, wire.OP_END]


@pytest.mark.parametrize(
    "status, cpu, code, sig, cpu_limit_reached, phrase",
    [
        (3 << 8, 0.1, 3, None, False, "exit code 3"),
        (signal.SIGSEGV, 0.1, None, "SIGSEGV", False, "crashed (SIGSEGV)"),
        (signal.SIGKILL, 12.0, None, "SIGKILL", True, "CPU time"),
        (signal.SIGXCPU, 11.5, None, "SIGXCPU", True, "CPU time"),
    ],
)
def test_the_workers_exit_event_says_how_the_child_ended_in_the_graders_ending(
    status: int, cpu: float, code: int | None, sig: str | None, cpu_limit_reached: bool, phrase: str
) -> None:
    event = worker.exit_event(JOB_ID, wire.END_EXITED, 0.5, (b"out", 30), (b"\xff", 1), status, cpu, 11.0)
    assert set(event) - {wire.EVENT} <= wire.EVENT_FIELDS[wire.EV_EXIT]
    framer, out = framing_worker()
    framer.send(event)
    session, _ = session_over(out.getvalue())
    outcome = session.close()
    ending = outcome.ending
    assert ending is not None and ending.reason == wire.END_EXITED
    assert (ending.code, ending.signal, ending.cpu_limit_reached) == (code, sig, cpu_limit_reached)
    assert (ending.stdout, ending.stdout_bytes, ending.stderr, ending.stderr_bytes) == ("out", 30, "\ufffd", 1)
    problem = ending.problem(LIMITS)
    assert problem is not None and phrase in problem


def test_the_ready_event_is_the_workers_own_and_names_only_its_fields() -> None:
    event = worker.ready_event(torch.__version__)
    assert set(event) - {wire.EVENT} == wire.EVENT_FIELDS[wire.EV_READY]
    framer, out = framing_worker()
    framer.send(event)
    assert out.getvalue().startswith(wire.WORKER_FRAME)
    assert wire.read_event(out.getvalue().rstrip(b"\n")) == json.loads(json.dumps(event))


def test_each_end_knows_exactly_the_events_of_the_protocol() -> None:
    assert wire.WORKER_EVENTS.isdisjoint(wire.CHILD_EVENTS)
    assert set(wire.EVENT_FIELDS) == wire.WORKER_EVENTS | wire.CHILD_EVENTS
    assert wire.URGENT_EVENTS <= wire.CHILD_EVENTS
    assert wire.WORKER_FRAME != wire.CHILD_FRAME and len(wire.WORKER_FRAME) == len(wire.CHILD_FRAME) == 1


@pytest.mark.parametrize("name", sorted(wire.WORKER_EVENTS | wire.CHILD_EVENTS))
@pytest.mark.parametrize("frame", [wire.WORKER_FRAME, wire.CHILD_FRAME, b"x", b""])
def test_the_grader_takes_an_event_only_under_its_writers_frame(name: str, frame: bytes) -> None:
    mine = (
        wire.WORKER_EVENTS if frame == wire.WORKER_FRAME else wire.CHILD_EVENTS if frame == wire.CHILD_FRAME else set()
    )
    event = wire.read_event(frame + wire.event_line({wire.EVENT: name}).rstrip(b"\n"))
    assert (event is not None) == (name in mine)


def test_the_worker_passes_on_at_once_exactly_the_events_the_grader_waits_for(child_lines: list[bytes]) -> None:
    for line in (line for b in child_lines for line in b.splitlines()):
        urgent = json.loads(line)[wire.EVENT] in wire.URGENT_EVENTS
        assert line.startswith(worker.URGENT_HEADS) == urgent, line[:40]


def test_a_child_event_past_the_size_limit_arrives_as_too_large() -> None:
    sent: list[bytes] = []
    child = worker.Child(sent.append, {"names": []})
    child.send({wire.EVENT: wire.EV_RETURN, "value": {"pad": "x" * wire.MAX_EVENT}})
    (line,) = sent
    assert len(line) < 100
    assert json.loads(line) == {wire.EVENT: wire.EV_RETURN, wire.TOO_LARGE_FIELD: True}


def test_a_child_line_nested_past_the_stack_is_dropped_not_an_error_for_the_grader() -> None:
    framed = wire.CHILD_FRAME + b"[" * 100_000 + b"\n" + wire.CHILD_FRAME + wire.event_line({wire.EVENT: wire.EV_BIND})
    recorded = Recorded(framed)
    deadline = time.monotonic() + 5
    assert recorded.read(deadline) is None
    assert recorded.read(deadline) == {wire.EVENT: wire.EV_BIND}
    recorded.stop()


def test_the_grader_reads_a_line_as_long_as_the_largest_exit_event() -> None:
    worst = b"\xff" * wire.MAX_KEEP_BYTES  # each byte becomes "\ufffd": six on the wire
    event = worker.exit_event(JOB_ID, wire.END_EXITED, 1.0, (worst, 1 << 40), (worst, 1 << 40), 0, 0.0, 1.0)
    assert len(wire.WORKER_FRAME + wire.event_line(event)) <= wire.MAX_LINE
    assert wire.MAX_EVENT + len(wire.CHILD_FRAME) + 1 <= wire.MAX_LINE  # a relayed child line


def test_the_end_reasons_are_the_workers_and_the_graders_own() -> None:
    assert wire.END_WORKER_DIED not in wire.WORKER_END_REASONS and wire.END_FORGED not in wire.WORKER_END_REASONS
    assert wire.WORKER_END_REASONS | {wire.END_WORKER_DIED, wire.END_FORGED} == wire.END_REASONS
    source = Path(worker.__file__).read_text(encoding="utf-8")
    used = {
        node.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "wire"
    }
    reasons = {name for name in dir(wire) if name.startswith("END_") and isinstance(getattr(wire, name), str)}
    assert {getattr(wire, name) for name in used & reasons} == wire.WORKER_END_REASONS


# ---------------------------------------------------------------- values, child -> grader

ARRAY = np.array([[1.5, -2.0]])


@pytest.mark.parametrize(
    "value, kind, dtype, entries",
    [
        (torch.tensor([[0.5], [1.5]]), "tensor", "float32", [[0.5], [1.5]]),
        (torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True), "tensor", "float64", [1.0, 2.0]),
        (torch.tensor([1.0], dtype=torch.float16), "tensor", "float16", [1.0]),
        (torch.tensor([1.0], dtype=torch.bfloat16), "tensor", "bfloat16", [1.0]),
        (torch.tensor([1, 2], dtype=torch.int64), "tensor", "float64", [1.0, 2.0]),
        (torch.tensor([True, False]), "tensor", "float64", [1.0, 0.0]),
        (torch.tensor(3.0), "tensor", "float32", 3.0),
        (torch.nn.Parameter(torch.ones(1, 2)), "tensor", "float32", [[1.0, 1.0]]),
        (ARRAY, "ndarray", "float64", [[1.5, -2.0]]),
        (ARRAY.astype(np.float32), "ndarray", "float32", [[1.5, -2.0]]),
        (np.array([1, 2], dtype=np.int32), "ndarray", "float64", [1.0, 2.0]),
        (np.float64(2.5), "ndarray", "float64", 2.5),
        (True, "number", "float64", 1.0),
        (3, "number", "float64", 3.0),
        (0.25, "number", "float64", 0.25),
        ([1.0, 2.0], "list", "float64", [1.0, 2.0]),
        ((1.0, 2.0), "tuple", "float64", [1.0, 2.0]),
        ([[1.0, 2.0], [3.0, 4.0]], "list", "float64", [[1.0, 2.0], [3.0, 4.0]]),
        ((torch.ones(2), torch.zeros(2)), "tuple", "float64", [[1.0, 1.0], [0.0, 0.0]]),
    ],
)
def test_a_numeric_value_crosses_from_the_child_to_the_grader_with_its_numbers(
    value: Any, kind: str, dtype: str, entries: Any
) -> None:
    got = through_a_bind(value)
    assert (got.kind, got.dtype) == (kind, dtype)
    assert got.tensor is not None and got.tensor.dtype == torch.float64
    assert got.tensor.tolist() == entries


@pytest.mark.parametrize(
    "value, kind, description",
    [
        (torch.zeros(wire.MAX_ELEMENTS + 1), "too_large", f"[{wire.MAX_ELEMENTS + 1}]"),
        (np.zeros((wire.MAX_ELEMENTS + 1, 1)), "too_large", f"[{wire.MAX_ELEMENTS + 1}, 1]"),
        (torch.zeros(2, dtype=torch.complex64), "other", "tensor(torch.complex64, torch.strided)"),
        (np.array(["a"]), "other", "ndarray(<U1)"),
        (len, "function", ""),
        (lambda x: x, "function", ""),
        ("text", "other", "str"),
        (None, "other", "NoneType"),
        ({"a": 1}, "other", "dict"),
        ([[[[[1.0]]]]], "list", ""),
        ([0.0] * (wire.MAX_ITEMS + 1), "other", "list"),
        (torch.zeros([1] * (wire.MAX_DIMS + 1)), "other", "malformed shape"),
    ],
)
def test_any_other_value_crosses_as_a_description_without_numbers(value: Any, kind: str, description: str) -> None:
    got = through_a_bind(value)
    assert got.kind == kind and got.tensor is None
    if description:
        assert got.description == description


def test_a_number_that_json_cannot_hold_exactly_crosses_as_nan_and_infinities_cross_as_they_are() -> None:
    for value, expected in ((2**53, math.nan), (-(2**60), math.nan), (math.inf, math.inf), (-math.inf, -math.inf)):
        got = through_a_bind(value)
        assert got.kind == "number" and got.tensor is not None
        assert got.tensor.item() == expected or (math.isnan(expected) and math.isnan(got.tensor.item()))
    nan = through_a_bind(torch.tensor([math.nan]))
    assert nan.tensor is not None and math.isnan(nan.tensor.item())


def test_a_value_whose_encoding_fails_crosses_as_unreadable() -> None:
    class Hostile(torch.Tensor):
        def detach(self) -> torch.Tensor:
            raise RuntimeError("no")

    got = through_a_bind(torch.ones(1).as_subclass(Hostile))
    assert got.kind == "other" and got.description == "unreadable (RuntimeError)"


def test_a_call_result_crosses_like_a_bound_value() -> None:
    sent: list[bytes] = []
    child = worker.Child(sent.append, {"names": []})
    child.namespace["f"] = lambda: (torch.ones(1, 2), 0.5)
    grader, child_end = socket.socketpair()
    grader.sendall(json.dumps(wire.call_message(JOB_ID, "f", [])).encode() + b"\n")
    grader.sendall(json.dumps(wire.end_message(JOB_ID)).encode() + b"\n")
    try:
        child.serve(wire.LineReader(child_end.fileno()))
    finally:
        grader.close()
        child_end.close()
    (line,) = sent
    event = wire.read_event(wire.CHILD_FRAME + line.rstrip(b"\n"))
    assert event is not None and event[wire.EVENT] == wire.EV_RETURN
    value = decode_value(event["value"])
    assert value.kind == "tuple" and [item.kind for item in value.items] == ["tensor", "number"]


def test_every_kind_the_child_can_send_is_one_the_grader_knows() -> None:
    made = {
        wire.array(wire.KIND_TENSOR, "float32", [1], [1.0])[wire.KIND],
        wire.array(wire.KIND_NDARRAY, "float32", [1], [1.0])[wire.KIND],
        wire.number(1.0)[wire.KIND],
        wire.sequence(wire.KIND_LIST, [])[wire.KIND],
        wire.sequence(wire.KIND_TUPLE, [])[wire.KIND],
        wire.too_large(wire.KIND_TENSOR, [1])[wire.KIND],
        wire.function()[wire.KIND],
        wire.other("x")[wire.KIND],
        wire.unbound()[wire.KIND],
    }
    assert made == wire.VALUE_KINDS
    for kind in wire.VALUE_KINDS - {wire.KIND_OTHER}:
        assert (
            decode_value({wire.KIND: kind, wire.ITEMS: [], wire.SHAPE: [0], wire.DATA: [], wire.NUMBER: 0}).kind == kind
        )


def through_a_bind(value: Any) -> Value:
    """``value`` bound to a tracked name in the child, as the grader's history has it."""
    sent: list[bytes] = []
    child = worker.Child(sent.append, {"names": ["v"]})
    child.namespace["v"] = value
    child.snapshot(1, "cell 1")
    framer, out = framing_worker()
    framer.relay(b"".join(sent))
    framer.flush()
    framer.send(worker.exit_event(JOB_ID, wire.END_ENDED, 0.0, (b"", 0), (b"", 0), None, None, 1.0))
    session, _ = session_over(out.getvalue())
    outcome = session.close()
    (binding,) = outcome.history
    assert binding.name == "v" and binding.statement == 1
    return binding.value


# ---------------------------------------------------------------- values, grader -> child


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_a_grader_tensor_crosses_to_the_child_in_the_dtype_asked_for(dtype: str) -> None:
    tensor = torch.tensor([[0.5, -1.25], [3.0, 4.0]], dtype=torch.float64)
    got = worker.decode(json.loads(json.dumps(encode_argument(tensor, dtype, as_numpy=False))))
    assert isinstance(got, torch.Tensor) and got.dtype == getattr(torch, dtype) and got.shape == (2, 2)
    assert got.to(torch.float64).tolist() == tensor.to(getattr(torch, dtype)).to(torch.float64).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_grader_tensor_crosses_to_the_child_as_an_ndarray_when_asked(dtype: str) -> None:
    tensor = torch.tensor([[0.5], [2.0], [4.0]], dtype=torch.float64)
    got = worker.decode(json.loads(json.dumps(encode_argument(tensor, dtype, as_numpy=True))))
    assert isinstance(got, np.ndarray) and str(got.dtype) == dtype and got.shape == (3, 1)
    assert got.tolist() == [[0.5], [2.0], [4.0]]


def test_a_grader_number_crosses_to_the_child_as_it_is() -> None:
    assert worker.decode(json.loads(json.dumps(wire.number(0.1)))) == 0.1


@pytest.mark.parametrize("kind", sorted(wire.VALUE_KINDS - wire.ARGUMENT_KINDS))
def test_the_child_refuses_an_argument_of_a_kind_the_grader_never_sends(kind: str) -> None:
    with pytest.raises(ValueError, match="cannot decode argument"):
        worker.decode({wire.KIND: kind})


# ---------------------------------------------------------------- limits


def test_the_worker_reads_exactly_the_limit_keys_the_grader_writes() -> None:
    data = Limits(timeout=3, cpu_seconds=2.5, memory_bytes=10, processes=2, file_bytes=5).as_data()
    assert tuple(data) == wire.LIMIT_KEYS
    assert wire.JobLimits.from_data(json.loads(json.dumps(data))) == wire.JobLimits(3.0, 2.5, 10, 2, 5, 4 << 20, 16384)
    assert Limits(timeout=3).as_data()["cpu_seconds"] == 4.0


def test_the_worker_takes_its_limits_from_the_job_only_through_the_protocols_reader() -> None:
    tree = ast.parse(Path(worker.__file__).read_text(encoding="utf-8"))
    read = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "limits"
    }
    assert read == set(wire.LIMIT_KEYS)  # every key is used, and no other
    subscripts = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "limits"
    ]
    readers = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "from_data"
        and node.args
        and node.args[0] in subscripts
    ]
    assert subscripts and len(readers) == len(subscripts)


# ---------------------------------------------------------------- line readers


def test_a_line_reader_waits_until_its_deadline_and_then_gives_up() -> None:
    read, write = os.pipe()
    try:
        lines = wire.LineReader(read)
        os.write(write, b"half")
        with pytest.raises(TimeoutError):
            lines.read(time.monotonic() + 0.05)
        assert lines.poll() is None and not lines.complete
        os.write(write, b" a line\nnext\nlast")
        assert lines.poll() == b"half a line"
        assert lines.complete and lines.read(time.monotonic() - 1) == b"next"  # complete: no waiting
        os.close(write)
        write = -1
        with pytest.raises(EOFError):
            lines.read()
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)


def test_a_line_reader_with_a_limit_refuses_a_longer_line() -> None:
    read, write = os.pipe()
    try:
        os.write(write, b"x" * 5000)
        with pytest.raises(EOFError):
            wire.LineReader(read, limit=4096).read(time.monotonic() + 5)
    finally:
        os.close(read)
        os.close(write)


# ---------------------------------------------------------------- the injection


def test_the_wire_protocol_runs_on_the_standard_library_alone() -> None:
    code = (
        "import sys, types\n"
        "m = types.ModuleType('w'); sys.modules['w'] = m\n"
        "exec(compile(open(sys.argv[1]).read(), 'wire', 'exec'), m.__dict__)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('harness', 'reference', 'torch', 'numpy'))\n"
        "assert not bad, bad\n"
        "print(m.MAX_LINE, m.JobLimits._fields == m.LIMIT_KEYS)\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code, wire.__file__], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(wire.MAX_LINE), "True"]


def test_the_workers_program_carries_the_protocol_and_fits_one_argument() -> None:
    program = worker_source()
    compile(program, "<string>", "exec")
    assert repr(packed(Path(wire.__file__).read_text(encoding="utf-8"))) in program
    assert repr(packed(Path(worker.__file__).read_text(encoding="utf-8"))) in program
    assert len(program.encode()) < 64 * 1024  # Linux takes at most 128 KiB in one argument
    assert program in worker_command(0, "off", []).argv


def test_the_worker_finds_the_protocol_under_the_name_the_grader_injects_it_as() -> None:
    source = Path(worker.__file__).read_text(encoding="utf-8")
    assert f'sys.modules.pop("{wire.INJECTED_NAME}")' in source
    assert worker.wire is wire  # imported as a module of the grader: the same one


@pytest.fixture(scope="module")
def real_worker() -> Iterator[pool.Pool]:
    with pool.Pool(1, "auto", warm=False) as p:
        p.start()
        yield p


def test_a_real_worker_speaks_the_injected_protocol_and_hides_it_from_the_submission(
    real_worker: pool.Pool, tmp_path: Path
) -> None:
    path = tmp_path / "sub.py"
    path.write_text(
        "import sys, torch\n"
        "W1 = torch.ones(2, 1)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('harness', 'reference', 'gradproof_wire')))\n"
        "import gradproof_wire\n"
        "def sigmoid(z):\n"
        "    return torch.sigmoid(z)\n"
    )
    with real_worker.session(load(path), LIMITS, ["W1"], ["sigmoid"]) as session:
        session.wait_executed()
        result = session.call("sigmoid", [encode_argument(torch.zeros(2, 1), "float64", as_numpy=False)])
    outcome = session.outcome
    assert outcome.error is None and outcome.functions == ("sigmoid",)
    assert outcome.missing_modules == [wire.INJECTED_NAME]  # the name went with the worker's copy
    final = outcome.final("W1")
    assert final is not None and final.dtype == "float32" and final.tensor is not None
    assert result.value is not None and result.value.kind == "tensor" and result.value.dtype == "float64"
    assert outcome.ending is not None and outcome.ending.reason == wire.END_ENDED
    assert outcome.ending.stdout == "[]\n"


# ---------------------------------------------------------------- paths and steps


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("W1", (("name", "W1"),)),
        ("NN.W1", (("name", "NN"), ("attr", "W1"))),
        ("net.grads['dJdW1']", (("name", "net"), ("attr", "grads"), ("item", "dJdW1"))),
        ('out[1]["W1"]', (("name", "out"), ("item", 1), ("item", "W1"))),
        ("history[-1]", (("name", "history"), ("item", -1))),
    ],
)
def test_a_path_is_a_name_then_attributes_and_constant_items(text: str, parts: tuple[tuple[str, Any], ...]) -> None:
    assert wire.parse_path(text) == parts


@pytest.mark.parametrize("text", ["f()", "a[b]", "a + b", "__import__('os')", "a[1:2]", "x.y(1)", "", "a[True]"])
def test_anything_but_a_plain_path_is_refused_without_being_evaluated(text: str) -> None:
    with pytest.raises(wire.PathError):
        wire.parse_path(text)


def test_resolve_and_assign_walk_attributes_and_items() -> None:
    class Net:
        def __init__(self) -> None:
            self.grads: dict[str, Any] = {}

    namespace: dict[str, Any] = {"net": Net()}
    wire.assign(wire.parse_path("net.grads['dW']"), namespace, 3)
    assert wire.resolve(wire.parse_path("net.grads['dW']"), namespace) == 3
    with pytest.raises(KeyError):
        wire.resolve(wire.parse_path("net.grads['db']"), namespace)
    with pytest.raises(NameError):
        wire.resolve(wire.parse_path("other.grads"), namespace)


def test_labels_are_drawn_as_whole_numbers_below_the_class_count() -> None:
    drawn = wire.draw_entries(wire.Substitution(5, wire.ROLE_LABELS, classes=3), (40,))
    assert set(drawn) <= {0.0, 1.0, 2.0} and len(set(drawn)) == 3
    assert wire.Substitution.from_data(wire.Substitution(5, wire.ROLE_LABELS, 3).as_data()).classes == 3


def test_a_step_message_carries_its_action_target_arguments_and_handle() -> None:
    message = wire.step_message(4, wire.STEP_CALL, "net.forward", [wire.ref("x")], {"k": wire.literal(2)}, "y")
    assert message == {
        "op": "step",
        "id": 4,
        "action": "call",
        "target": "net.forward",
        "args": [{"t": "ref", "path": "x"}],
        "kwargs": {"k": {"t": "literal", "v": 2}},
        "as": "y",
    }


def test_the_grader_runs_of_one_submission_take_every_rate_in_turn_whatever_their_seeds() -> None:
    for seeds in ([1, 2, 3], [7, 7, 7], [123456, 42, 999]):
        rates = [wire.draw_entries(wire.Substitution(s, wire.ROLE_RATE, turn=k), ())[0] for k, s in enumerate(seeds)]
        assert sorted(rates) == sorted(wire.RATES)  # a step size written as 0.1 is wrong on two of them
    again = wire.Substitution.from_data(wire.Substitution(5, wire.ROLE_RATE, turn=2).as_data())
    assert again.turn == 2 and wire.Substitution.from_data({"seed": 5, "kind": wire.ROLE_RATE}).turn == 0
