"""Stage 4, diagnose: name the mistake behind a failing check.

Placeholder ratio analysis; the mutant catalogue replaces it (issue 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from harness.check import Diagnosis, Problem, Truth


def diagnose(key: str, submitted: Tensor, problem: "Problem", truth: "Truth", **context: Any) -> "Diagnosis | None":
    from harness.check import Diagnosis

    expected = _expected(key, truth, context)
    if expected is None or submitted.shape != expected.shape:
        return None
    if torch.allclose(submitted, -expected, rtol=1e-4, atol=1e-7):
        return Diagnosis("sign-flip", f"{key} has the opposite sign: check the sign of each factor of the chain rule.")
    return None


def _expected(key: str, truth: "Truth", context: dict[str, Any]) -> Tensor | None:
    if key in ("dE_dW1", "dE_dW2"):
        value: Tensor = getattr(truth.grads, key)
        return value
    if key == "update" and "gradient" in context:
        return -float(context["lr"]) * context["gradient"]
    return None
