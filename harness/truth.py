"""The truth of a problem: the reference computation in float64 by autograd, confirmed by finite
differences (the grader checks itself before it judges anyone)."""

from __future__ import annotations

from torch import Tensor

import reference
from harness.gradients import check_gradients
from harness.records.problem import Problem, Truth


def truth_of(p: Problem) -> Truth:
    """The reference forward pass and autograd's gradients, float64."""
    fwd = reference.forward(p.X, p.Y, p.W1, p.W2)
    grads = reference.autograd_backward(p.X, p.Y, p.W1, p.W2)
    return Truth(forward=fwd, grads=grads)


def confirm_by_finite_differences(p: Problem, truth: Truth) -> bool:
    """Autograd's gradients agree with central finite differences (the grader checks itself)."""

    def loss(W1: Tensor, W2: Tensor) -> Tensor:
        return reference.forward(p.X, p.Y, W1, W2).E

    result = check_gradients(
        loss,
        (p.W1.clone().requires_grad_(True), p.W2.clone().requires_grad_(True)),
        lambda W1, W2: (truth.grads.dE_dW1, truth.grads.dE_dW2),
        mode="directions",
    )
    return bool(result.ok)
