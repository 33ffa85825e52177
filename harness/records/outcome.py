"""Records: what one run of a submission produced (values, bindings, errors, how it ended).

Built by the run stage from the worker's events; read by check and grade.  Tensors are decoded
lazily, so importing this module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import harness.wire as wire
from harness.records.assignment import Limits

if TYPE_CHECKING:  # torch only for types: the run stage's parent stays torch-free until it checks
    import torch

SandboxMode = Literal["auto", "require", "off"]


SANDBOX_MODES: tuple[str, ...] = ("auto", "require", "off")


@dataclass(frozen=True)
class Value:
    """A value the submission bound or returned, decoded and validated.

    ``tensor`` is float64 for numeric values (``dtype`` keeps what it was);
    ``items`` holds the parts of a tuple or list that was not a plain array.
    """

    kind: str  # one of wire.VALUE_KINDS: tensor | ndarray | number | list | tuple | function | too_large | ...
    dtype: str | None = None
    tensor: torch.Tensor | None = None
    items: tuple[Value, ...] = ()
    description: str = ""

    @property
    def is_numeric(self) -> bool:
        return self.tensor is not None


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
        label = str(event.get("label", ""))[: wire.MAX_LABEL_CHARS]
        where = f"{label}, line {line}" if isinstance(line, int) and label else label
        return cls(
            type=str(event.get("type", "Exception"))[: wire.MAX_NAME_CHARS],
            message=str(event.get("message", ""))[: wire.MAX_MESSAGE_CHARS],
            where=where,
            traceback=str(event.get("traceback", ""))[: wire.MAX_TRACEBACK_CHARS],
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

    reason: str  # one of wire.END_REASONS: ended | exited | timeout | output | protocol | worker-died | ...
    code: int | None = None
    signal: str | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    cpu_limit_reached: bool = False  # the child had used its CPU time when it died
    detail: str = ""  # what the grader saw, where it ended the run itself (forged)

    def problem(self, limits: Limits) -> str | None:
        """A sentence when the way it ended is itself a verdict, else ``None``."""
        if self.reason == wire.END_TIMEOUT:
            return f"the submission ran past its time limit of {limits.timeout:g} s and was stopped"
        if self.reason == wire.END_OUTPUT:
            return f"the submission printed more than {limits.output_bytes // 1024} KiB and was stopped"
        if self.reason == wire.END_WORKER_DIED:
            return "the submission killed or broke the process that supervised it"
        if self.reason == wire.END_FORGED:
            return f"the submission wrote on the grader's channel ({self.detail}); nothing it reported is trusted"
        if self.reason == wire.END_PROTOCOL:
            return "the submission's results could not be read (an oversized or garbled value)"
        if self.reason == wire.END_EXITED and (
            self.signal == "SIGXCPU" or (self.signal == "SIGKILL" and self.cpu_limit_reached)
        ):
            return f"the submission used more than its CPU time ({limits.cpu_limit:g} s) and was stopped"
        if self.signal is not None and self.reason == wire.END_EXITED:
            return f"the submission's process crashed ({self.signal})"
        if self.reason == wire.END_EXITED:
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
    autograd: list[str] = field(default_factory=list)  # how the code ran autograd, as the child saw it
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


@dataclass(frozen=True)
class GradingFailed:
    """The grader itself failed on one submission (a bug, not the submission's doing)."""

    message: str


@dataclass
class Run:
    """One run of a submission: as written (``own``), or with inputs the grader drew (``grader``)."""

    source: str  # "own" | "grader"
    seed: int | None
    outcome: Outcome
