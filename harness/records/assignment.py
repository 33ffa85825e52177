"""Records: an assignment's settings (checks, names, sizes, tolerances, points, limits).

Plain data, validated when built; :mod:`harness.spec` reads them from TOML.  No torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import harness.wire as wire
from harness.errors import invalid
from harness.wire import MAX_KEEP_BYTES

if TYPE_CHECKING:  # types only
    from harness.records.definition import Definition


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Validated up front."""

    timeout: float = 30.0
    cpu_seconds: float | None = None  # defaults to the timeout + 1 s: the wall clock has the last word
    memory_bytes: int = 2 * 1024**3
    processes: int = 32
    file_bytes: int = 16 * 1024**2
    output_bytes: int = 4 * 1024**2  # stdout + stderr past this: the submission is stopped
    output_keep_bytes: int = 16 * 1024  # how much of each stream the report keeps
    # The sandbox's private /tmp (and /dev/shm), each: RAM on top of memory_bytes, emptied after
    # every submission; past it a write fails (ENOSPC). Without --size support it is not enforced.
    scratch_bytes: int = 64 * 1024**2

    def __post_init__(self) -> None:
        for name in (
            "timeout",
            "memory_bytes",
            "processes",
            "file_bytes",
            "output_bytes",
            "output_keep_bytes",
            "scratch_bytes",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                invalid(name, value, "must be a positive number")
        if self.cpu_seconds is not None and self.cpu_seconds <= 0:
            invalid("cpu_seconds", self.cpu_seconds, "must be a positive number of seconds")
        if self.output_keep_bytes > MAX_KEEP_BYTES:
            invalid("output_keep_bytes", self.output_keep_bytes, f"must be at most {MAX_KEEP_BYTES} (4 MiB) per stream")

    @property
    def cpu_limit(self) -> float:
        """CPU seconds before SIGXCPU (a single-threaded loop meets the wall clock first)."""
        return self.cpu_seconds if self.cpu_seconds is not None else self.timeout + 1.0

    def as_data(self) -> dict[str, Any]:
        """The limits as a job message carries them to the worker (:class:`harness.wire.JobLimits`)."""
        return wire.JobLimits(
            timeout=self.timeout,
            cpu_seconds=self.cpu_limit,
            memory_bytes=self.memory_bytes,
            processes=self.processes,
            file_bytes=self.file_bytes,
            output_bytes=self.output_bytes,
            output_keep_bytes=self.output_keep_bytes,
        ).as_data()


CHECKS = ("forward", "loss", "dE_dW2", "dE_dW1", "update", "sigmoid", "sigmoid_grad")


# The names a script-style submission may bind each contract value to.
DEFAULT_NAMES: dict[str, tuple[str, ...]] = {
    "X": ("X",),
    "Y": ("Y",),
    "W1": ("W1",),
    "W2": ("W2",),
    "Z": ("Z",),
    "H": ("H",),
    "O": ("O",),
    "Y_cap": ("Y_cap", "Y_hat"),
    "E": ("E",),
    "dE_dW2": ("dE_dW2",),
    "dE_dW1": ("dE_dW1",),
    "W1_new": ("W1_new",),
    "W2_new": ("W2_new",),
    "lr": ("lr", "learning_rate"),
}


FUNCTIONS = ("forward", "loss", "backward", "update", "sigmoid", "sigmoid_grad")


@dataclass(frozen=True)
class Tolerance:
    """``|submitted − expected| ≤ atol + rtol·|expected|``, entry by entry."""

    rtol: float
    atol: float

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                invalid(name, value, "must be a number ≥ 0")

    def __str__(self) -> str:
        return f"rtol={self.rtol:g}, atol={self.atol:g}"


DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(rtol=1e-7, atol=1e-10),
    "float32": Tolerance(rtol=1e-4, atol=1e-6),
    "float16": Tolerance(rtol=1e-2, atol=1e-3),
    "bfloat16": Tolerance(rtol=2e-2, atol=1e-2),
}


VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


DEFAULT_SPEC = "mlp-4-3-1"


DEFAULT_POINTS: dict[str, float] = {
    "forward": 2.0,
    "loss": 1.0,
    "dE_dW2": 3.0,
    "dE_dW1": 3.0,
    "update": 1.0,
    "sigmoid": 0.0,
    "sigmoid_grad": 0.0,
}


@dataclass(frozen=True)
class Assignment:
    name: str = "mlp-4-3-1"
    sizes: tuple[int, int, int] = (4, 3, 1)
    general_sizes: bool = False  # may function-style submissions be called with other sizes?
    lr: float = 0.1
    names: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_NAMES))
    tolerances: Mapping[str, Tolerance] = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))
    points: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_POINTS))
    autograd: str = "report"  # "report": say so, take nothing | "forbid": the gradient checks score 0
    limits: Limits = field(default_factory=Limits)
    examples: int = 8  # generated inputs per function-style check
    grader_runs: int = 2  # runs on inputs the grader draws (a script: besides its own)
    visibility: Mapping[str, str] = field(default_factory=dict)  # check -> one of VISIBILITIES; "visible" if absent
    submission: str | None = None  # the file name ``gradproof gradescope run`` grades (None: the only one there)
    checks: tuple[str, ...] = CHECKS  # the checks, in report order
    definition: Definition | None = None  # a course's own assignment (harness.definition); None: mlp-4-3-1

    def __post_init__(self) -> None:
        if len(self.sizes) != 3 or not all(isinstance(n, int) and n >= 1 for n in self.sizes):
            invalid("sizes", self.sizes, "must be three whole numbers ≥ 1 (n_in, n_hidden, n_out)")
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            invalid("lr", self.lr, "must be a number > 0")
        if self.autograd not in ("report", "forbid"):
            invalid("autograd", self.autograd, "expected 'report' or 'forbid'")
        for check in self.points:
            if check not in self.checks:
                invalid("points", check, f"unknown check; expected one of {', '.join(self.checks)}")
        for key in self.names:
            if key not in DEFAULT_NAMES:
                invalid("names", key, f"unknown contract name; expected one of {', '.join(DEFAULT_NAMES)}")
        if not isinstance(self.examples, int) or self.examples < 1:
            invalid("examples", self.examples, "must be a whole number ≥ 1")
        if (
            isinstance(self.grader_runs, bool)
            or not isinstance(self.grader_runs, int)
            or not 0 <= self.grader_runs <= 8
        ):
            invalid("grader_runs", self.grader_runs, "must be a whole number from 0 to 8")
        for check, seen in self.visibility.items():
            if check not in self.checks:
                invalid("visibility", check, f"unknown check; expected one of {', '.join(self.checks)}")
            if seen not in VISIBILITIES:
                invalid(f"visibility[{check!r}]", seen, f"expected one of {', '.join(VISIBILITIES)}")

    def gradient_checks(self) -> tuple[str, ...]:
        """The checks of derived gradients (where the autograd policy applies)."""
        if self.definition is None:
            return ("dE_dW1", "dE_dW2")
        grads = {c.name for c in self.definition.checks if any(v.startswith("grad.") for v in c.values)}
        return tuple(n for n in self.checks if n.split("[")[0] in grads)

    def visibility_of(self, check: str) -> str:
        """``visible``, ``hidden``, ``after_due_date`` or ``after_published`` (Gradescope's words)."""
        return self.visibility.get(check, "visible")

    def visible(self, check: str) -> bool:
        """Whether a student sees this check's details now (self-test, pytest plugin)."""
        return self.visibility_of(check) == "visible"

    def aliases(self, key: str) -> tuple[str, ...]:
        return tuple(self.names.get(key, DEFAULT_NAMES[key]))

    def tracked_names(self) -> list[str]:
        """Every global name the run stage should report."""
        seen: dict[str, None] = {}
        for key in DEFAULT_NAMES:
            for alias in self.aliases(key):
                seen[alias] = None
        return list(seen)

    def tolerance(self, dtype: str | None) -> Tolerance:
        return self.tolerances.get(dtype or "float32", self.tolerances.get("float32", DEFAULT_TOLERANCES["float32"]))

    def max_points(self, check: str) -> float:
        return float(self.points.get(check, DEFAULT_POINTS.get(check, 0.0)))

    def max_score(self) -> float:
        """The points of every check together: what a submission can score at most."""
        return sum(self.max_points(name) for name in self.checks)
