"""The truth of a problem: the reference computation in float64 by autograd, confirmed by finite
differences (the grader checks itself before it judges anyone).

Each problem's truth and confirmation are computed once: a batch of copies of one notebook (the
same printed weights in every copy) pays for them once, not once per student.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from torch import Tensor

import reference
from harness.gradients import check_gradients
from harness.records.problem import Problem, Truth

_REMEMBERED = 512  # problems whose truth is kept (a few KiB each at the assignment's sizes)
_truths: OrderedDict[bytes, Truth] = OrderedDict()
_confirmed: OrderedDict[bytes, bool] = OrderedDict()


def _key(p: Problem) -> bytes:
    parts = [p.X, p.Y, p.W1, p.W2]
    shapes = repr([tuple(t.shape) for t in parts]).encode()
    return shapes + b"".join(t.detach().contiguous().to("cpu").numpy().tobytes() for t in parts)


def _remember(table: OrderedDict[bytes, Any], key: bytes) -> None:
    table.move_to_end(key)
    while len(table) > _REMEMBERED:
        table.popitem(last=False)


def truth_of(p: Problem) -> Truth:
    """The reference forward pass and autograd's gradients, float64."""
    key = _key(p)
    found = _truths.get(key)
    if found is None:
        fwd = reference.forward(p.X, p.Y, p.W1, p.W2)
        grads = reference.autograd_backward(p.X, p.Y, p.W1, p.W2)
        found = _truths[key] = Truth(forward=fwd, grads=grads)
    _remember(_truths, key)
    return found


def confirm_by_finite_differences(p: Problem, truth: Truth) -> bool:
    """Autograd's gradients agree with central finite differences (the grader checks itself)."""
    key = _key(p)
    if key in _confirmed and _truths.get(key) is truth:
        _remember(_confirmed, key)
        return _confirmed[key]

    def loss(W1: Tensor, W2: Tensor) -> Tensor:
        return reference.forward(p.X, p.Y, W1, W2).E

    result = check_gradients(
        loss,
        (p.W1.clone().requires_grad_(True), p.W2.clone().requires_grad_(True)),
        lambda W1, W2: (truth.grads.dE_dW1, truth.grads.dE_dW2),
        mode="directions",
    )
    _confirmed[key] = bool(result.ok)
    _remember(_confirmed, key)
    return _confirmed[key]
