"""The assignment: which names the contract reads, sizes, learning rate, tolerances, points.

The default is the ``mlp-4-3-1`` assignment of ``CONTRACT.md``.  Every check
the grader knows is listed in :data:`CHECKS`; a spec may change the points of
any of them, the names each contract value may be bound to, the sizes and the
tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from harness.errors import invalid
from harness.sandbox import Limits

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

    def __post_init__(self) -> None:
        if len(self.sizes) != 3 or not all(isinstance(n, int) and n >= 1 for n in self.sizes):
            invalid("sizes", self.sizes, "must be three whole numbers ≥ 1 (n_in, n_hidden, n_out)")
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            invalid("lr", self.lr, "must be a number > 0")
        if self.autograd not in ("report", "forbid"):
            invalid("autograd", self.autograd, "expected 'report' or 'forbid'")
        for check in self.points:
            if check not in CHECKS:
                invalid("points", check, f"unknown check; expected one of {', '.join(CHECKS)}")
        for key in self.names:
            if key not in DEFAULT_NAMES:
                invalid("names", key, f"unknown contract name; expected one of {', '.join(DEFAULT_NAMES)}")
        if not isinstance(self.examples, int) or self.examples < 1:
            invalid("examples", self.examples, "must be a whole number ≥ 1")

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
