"""What the diagnose stage reasons about: a :class:`Case` (what the submission gave for one input,
and that input), the named values of the reference computation on it (in the notebook's own
vocabulary), and the ids every diagnosis may carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from harness.records.problem import Problem, Truth

# Every id the engine can give (``uses-autograd`` is the policy's, see harness/grade.py).
IDS = (
    "sign-flip",
    "constant-factor",
    "missing-factor",
    "extra-factor",
    "missing-activation-derivative",
    "derivative-on-preactivation",
    "wrong-operand",
    "transposed",
    "permuted",
    "wrong-shape",
    "consistent-with-own-forward",
    "instance-only",
    "update-sign",
    "learning-rate",
    "no-update",
    "loss-formula",
    "missing-activation",
    "wrong-activation",
    "wrong-factor",
    "fixed-sizes",
    "imprecise",
    "non-finite",
    "uses-autograd",
)


GRADIENTS = ("dE_dW1", "dE_dW2")


FORWARD_KEYS = ("Z", "H", "O", "Y_cap")


@dataclass
class Case:
    """One piece of evidence: what the submission gave for one input, and that input.

    ``submitted`` is in the canonical shape of the expected value (the check
    already fitted it); ``context`` carries what the key needs besides the
    problem: ``own_y_cap`` (loss), ``gradient`` and ``lr`` (update), ``z`` and
    ``h`` (helpers).
    """

    submitted: Tensor
    problem: Problem
    truth: Truth
    context: Mapping[str, Any] = field(default_factory=dict)
    _env: dict[str, Tensor] | None = field(default=None, repr=False)

    def env(self) -> dict[str, Tensor]:
        if self._env is None:
            self._env = _env(self.problem, self.truth, float(self.context.get("lr", _DEFAULT_LR)))
        return self._env


_DEFAULT_LR = 0.1


def expected_of(key: str, case: Case) -> Tensor | None:
    """The right value of ``key`` for this case (what the check compared with)."""
    c, t, p = case.context, case.truth, case.problem
    if key in GRADIENTS:
        value: Tensor = getattr(t.grads, key)
        return value
    if key in FORWARD_KEYS:
        value = getattr(t.forward, key)
        return value
    if key == "E":
        y_cap = c.get("own_y_cap")
        return ((p.Y - y_cap) ** 2).sum() if isinstance(y_cap, Tensor) else t.forward.E
    gradient = c.get("gradient")
    if key == "update" and isinstance(gradient, Tensor):
        return -float(c.get("lr", _DEFAULT_LR)) * gradient
    if key == "sigmoid" and isinstance(c.get("z"), Tensor):
        return torch.sigmoid(c["z"])
    if key == "sigmoid_grad" and isinstance(c.get("h"), Tensor):
        h: Tensor = c["h"]
        return h * (1 - h)
    return None


def _match_rtol(dtype: str) -> float:
    return 3e-2 if dtype in ("float16", "bfloat16") else 1e-3


def matches(a: Tensor, b: Tensor, rtol: float, atol: float = 0.0) -> bool:
    """``a`` reproduces ``b``: entry-wise, relative to each entry and (a little) to the largest one."""
    if a.numel() != b.numel():
        return False
    a = a.reshape(b.shape).to(torch.float64)
    b = b.to(torch.float64)
    if not bool(torch.isfinite(a).all()) or not bool(torch.isfinite(b).all()):
        return False
    scale = float(b.abs().max()) if b.numel() else 0.0
    return bool(((a - b).abs() <= rtol * (b.abs() + 0.01 * scale) + atol + 1e-12).all())


# index signature: i = input unit, j = hidden unit, k = output unit
SIGS: dict[str, str] = {
    "X": "i",
    "W1": "ij",
    "W1_new": "ij",
    "W2": "jk",
    "W2_new": "jk",
    "Y": "k",
    "Z": "j",
    "H": "j",
    "1-H": "j",
    "H(1-H)": "j",
    "Z(1-Z)": "j",
    "s(H)(1-s(H))": "j",
    "O": "k",
    "Y_cap": "k",
    "1-Y_cap": "k",
    "Y_cap(1-Y_cap)": "k",
    "O(1-O)": "k",
    "s(Y_cap)(1-s(Y_cap))": "k",
    "Y_cap-Y": "k",
}


# How a value is named to the student.
LABELS: dict[str, str] = {
    "X": "X",
    "W1": "W1",
    "W2": "W2",
    "Y": "Y",
    "W1_new": "W1_new (the weights after the update)",
    "W2_new": "W2_new (the weights after the update)",
    "Z": "Z (the hidden layer before its sigmoid)",
    "H": "H",
    "1-H": "1 − H",
    "H(1-H)": "H·(1 − H)",
    "Z(1-Z)": "Z·(1 − Z)",
    "s(H)(1-s(H))": "the sigmoid's derivative evaluated at H (H is already a sigmoid's output)",
    "O": "O (the output before its sigmoid)",
    "Y_cap": "Y_cap",
    "1-Y_cap": "1 − Y_cap",
    "Y_cap(1-Y_cap)": "Y_cap·(1 − Y_cap)",
    "O(1-O)": "O·(1 − O)",
    "s(Y_cap)(1-s(Y_cap))": "the sigmoid's derivative evaluated at Y_cap (Y_cap is already a sigmoid's output)",
    "Y_cap-Y": "Y_cap − Y",
}


# The chain-rule steps, in the notebook's vocabulary.
STEPS: dict[str, str] = {
    "dE_dY_cap": "dE_dY_cap (the derivative of the error with respect to Y_cap)",
    "dY_cap_dO": "dY_cap_dO (the derivative of the output layer's sigmoid)",
    "dO_dW2": "dO_dW2 (how O depends on W2)",
    "dO_dH": "dO_dH (how O depends on H)",
    "dH_dZ": "dH_dZ (the derivative of the hidden layer's sigmoid)",
    "dZ_dW1": "dZ_dW1 (how Z depends on W1)",
}


# The steps through a sigmoid: (its derivative written on the pre-activation, the pre-activation, the parts
# of the derivative a student may keep alone).
SIGMOID_STEPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "dY_cap_dO": ("O(1-O)", "O", ("Y_cap", "1-Y_cap")),
    "dH_dZ": ("Z(1-Z)", "Z", ("H", "1-H")),
}


# What a row or column of a gradient belongs to, and where to look for a mistake that depends on it.
AXES: dict[str, tuple[str, str]] = {
    "i": ("input i", "dZ_dW1"),
    "j": ("hidden unit j", "the factors that belong to the hidden layer (dO_dH, dH_dZ, dO_dW2)"),
    "k": ("output k", "the factors that belong to the output (dE_dY_cap, dY_cap_dO)"),
}


def _env(p: Problem, truth: Truth, lr: float, own: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
    """Every named value of one (single-sample) forward pass as a vector or matrix over i, j, k."""
    f = truth.forward
    X = p.X[:, 0]
    Z = f.Z[:, 0]
    H = f.H[:, 0]
    O = f.O[0]
    Yc = f.Y_cap[0]
    if own:
        if own.get("Z") is not None:
            Z = own["Z"].reshape(-1)
        if own.get("H") is not None:
            H = own["H"].reshape(-1)
        elif own.get("Z") is not None:
            H = torch.sigmoid(Z)
        if own.get("O") is not None:
            O = own["O"].reshape(-1)
        if own.get("Y_cap") is not None:
            Yc = own["Y_cap"].reshape(-1)
    Y = p.Y[0]
    s = torch.sigmoid
    return {
        "X": X,
        "W1": p.W1,
        "W2": p.W2,
        "Y": Y,
        "W1_new": p.W1 - lr * truth.grads.dE_dW1,
        "W2_new": p.W2 - lr * truth.grads.dE_dW2,
        "Z": Z,
        "H": H,
        "1-H": 1 - H,
        "H(1-H)": H * (1 - H),
        "Z(1-Z)": Z * (1 - Z),
        "s(H)(1-s(H))": s(H) * (1 - s(H)),
        "O": O,
        "Y_cap": Yc,
        "1-Y_cap": 1 - Yc,
        "Y_cap(1-Y_cap)": Yc * (1 - Yc),
        "O(1-O)": O * (1 - O),
        "s(Y_cap)(1-s(Y_cap))": s(Yc) * (1 - s(Yc)),
        "Y_cap-Y": Yc - Y,
    }


def label(key: str, fn: str | None = None) -> str:
    """How a message names the value: ``dE_dW1``, ``The update``, ``dE_dW1 from backward()``, ``loss()``."""
    if fn:
        return f"{key} from {fn}()" if key in GRADIENTS else f"{fn}()"
    return {"update": "The update", "sigmoid": "sigmoid()", "sigmoid_grad": "sigmoid_grad()"}.get(key, key)
