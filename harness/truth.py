"""The truth of a problem: the reference computation in float64 by autograd, confirmed by finite
differences (the grader checks itself before it judges anyone).

Each problem's truth and confirmation are computed once: a batch of copies of one notebook (the
same printed weights in every copy) pays for them once, not once per student.  The problems of one
submission's runs (its own and the grader's) are confirmed together (:func:`confirm_together`):
one finite-difference check of the sum of their errors, in one batched forward pass per
evaluation, instead of one check each.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
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


def confirm_together(problems: Sequence[Problem]) -> None:
    """Confirm the truths of several problems by one finite-difference check, ahead of
    :func:`confirm_by_finite_differences` (which then finds them confirmed).

    The check is of ``Σ E_r`` over the problems, each with its own weights (stacked: one
    batched forward pass per evaluation for problems of the same shapes), against the stacked
    autograd gradients: the gradient of a sum of independent terms is each term's own.  Only a
    pass is recorded; where it fails (a problem that saturates, say), nothing is, and each
    problem is confirmed on its own as before, which says which one.
    """
    todo: dict[bytes, Problem] = {}
    for p in problems:
        key = _key(p)
        if key not in _confirmed and key not in todo:
            todo[key] = p
    if len(todo) < 2:
        return  # one problem: its own check is the same work
    groups: dict[tuple[Any, ...], list[bytes]] = {}
    for key, p in todo.items():
        parts = (p.X, p.Y, p.W1, p.W2)
        groups.setdefault(tuple((tuple(t.shape), t.dtype) for t in parts), []).append(key)
    truths = {key: truth_of(p) for key, p in todo.items()}
    stacked = [
        tuple(torch.stack([getattr(todo[k], name) for k in keys]) for name in ("X", "Y", "W1", "W2"))
        for keys in groups.values()
    ]
    weights = [w.clone().requires_grad_(True) for _, _, W1, W2 in stacked for w in (W1, W2)]
    grads = [
        torch.stack([getattr(truths[k].grads, name) for k in keys])
        for keys in groups.values()
        for name in ("dE_dW1", "dE_dW2")
    ]

    def loss(*ws: Tensor) -> Tensor:
        total = reference.forward(stacked[0][0], stacked[0][1], ws[0], ws[1]).E
        for g in range(1, len(stacked)):
            total = total + reference.forward(stacked[g][0], stacked[g][1], ws[2 * g], ws[2 * g + 1]).E
        return total

    result = check_gradients(loss, weights, lambda *ws: tuple(grads), mode="directions")
    if not result.ok:
        return
    for key in todo:
        _confirmed[key] = True
        _remember(_confirmed, key)
