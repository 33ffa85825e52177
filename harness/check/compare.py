"""Comparing a submitted value with the truth, entry by entry, within a tolerance."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from harness.records.assignment import Tolerance
from harness.records.result import Entry


@dataclass(frozen=True)
class Comparison:
    ok: bool
    max_abs: float
    max_rel: float
    worst: tuple[Entry, ...]
    errors: Tensor


SMALL = 16  # up to this many entries a comparison runs on Python floats (see compare)


def compare(submitted: Tensor, expected: Tensor, tol: Tolerance, keep: int = 3) -> Comparison:
    """Entry-wise ``|s − e| ≤ atol + rtol·|e|``; non-finite submitted entries never pass.

    ``worst`` is the entries out of tolerance, the largest error first, then the others: a large
    value can be off by more than a small one and still be within its tolerance (a float32 sum of
    a thousand products), and the entry a message names must be one that is wrong.

    Up to :data:`SMALL` entries (every value of a small network) the arithmetic runs on Python
    floats, the same IEEE doubles in the same order as the tensors' (a dozen tensor operations
    cost more than the work); the worst entries come in the order ``torch.argsort`` gives them
    there (out of tolerance first, then the largest error, ties by position)."""
    if expected.numel() <= SMALL:
        found = _compare_small(submitted, expected, tol, keep)
        if found is not None:
            return found
    return _compare_tensors(submitted, expected, tol, keep)


def _compare_small(submitted: Tensor, expected: Tensor, tol: Tolerance, keep: int) -> Comparison | None:
    """:func:`compare` on Python floats; ``None`` for an expected value that is not finite."""
    shape = tuple(expected.shape)
    s = submitted.to(torch.float64).reshape(expected.shape).reshape(-1).tolist()
    e = expected.to(torch.float64).reshape(-1).tolist()
    if not all(math.isfinite(b) for b in e):
        return None
    inf, atol, rtol = math.inf, tol.atol, tol.rtol
    diff = [abs(a - b) if math.isfinite(a) else inf for a, b in zip(s, e)]
    rel = [d / max(abs(b), 1e-12) for d, b in zip(diff, e)]
    wrong = [not d <= atol + rtol * abs(b) for d, b in zip(diff, e)]
    ok = not any(wrong) and all(math.isfinite(a) for a in s)
    order = sorted(range(len(diff)), key=lambda k: (not wrong[k], -diff[k]))[:keep]
    worst = tuple(
        Entry(index=_unravel(k, shape), submitted=s[k], expected=e[k], abs_error=diff[k], rel_error=rel[k])
        for k in order
    )
    errors = torch.tensor(diff, dtype=torch.float64).reshape(shape)
    return Comparison(
        ok=ok, max_abs=max(diff) if diff else 0.0, max_rel=max(rel) if rel else 0.0, worst=worst, errors=errors
    )


def _compare_tensors(submitted: Tensor, expected: Tensor, tol: Tolerance, keep: int) -> Comparison:
    """:func:`compare` in tensor operations."""
    s = submitted.to(torch.float64).reshape(expected.shape)
    e = expected.to(torch.float64)
    diff = (s - e).abs()
    diff = torch.where(torch.isfinite(s), diff, torch.full_like(diff, math.inf))
    rel = diff / e.abs().clamp_min(1e-12)
    wrong = ~(diff <= tol.atol + tol.rtol * e.abs())
    ok = not bool(wrong.any()) and bool(torch.isfinite(s).all())
    by_error = torch.argsort(diff.reshape(-1), descending=True)
    order = by_error[torch.argsort(wrong.reshape(-1)[by_error].to(torch.int8), descending=True, stable=True)][:keep]
    worst = tuple(
        Entry(
            index=_unravel(k, tuple(e.shape)),
            submitted=float(s.reshape(-1)[k]),
            expected=float(e.reshape(-1)[k]),
            abs_error=float(diff.reshape(-1)[k]),
            rel_error=float(rel.reshape(-1)[k]),
        )
        for k in order.tolist()
    )
    max_abs = float(diff.max()) if diff.numel() else 0.0
    max_rel = float(rel.max()) if rel.numel() else 0.0
    return Comparison(ok=ok, max_abs=max_abs, max_rel=max_rel, worst=worst, errors=diff)


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index: list[int] = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return tuple(reversed(index))


def fit(submitted: Tensor, expected: Tensor) -> tuple[Tensor | None, str | None]:
    """``submitted`` in ``expected``'s shape: as it is, reshaped vector, or a transposed matrix (noted)."""
    if tuple(submitted.shape) == tuple(expected.shape):
        return submitted, None
    if submitted.numel() != expected.numel():
        return None, None
    squeezed_s = [n for n in submitted.shape if n != 1]
    squeezed_e = [n for n in expected.shape if n != 1]
    if squeezed_s == squeezed_e:  # (3,) for (3, 1), (1, 1) for a scalar
        return submitted.reshape(expected.shape), None
    if submitted.dim() == 2 and expected.dim() == 2 and tuple(submitted.T.shape) == tuple(expected.shape):
        return (
            submitted.T,
            f"stored as {tuple(submitted.shape)}, the transpose of {tuple(expected.shape)}; read as its transpose",
        )
    return None, None


UPDATE_FACTOR = 10.0


def update_tolerance(tol: Tolerance, weights: Tensor, eps: float) -> Tolerance:
    """The one tolerance of an update, in every style: its step ``W_new − W`` against ``−lr·dE_dW``.

    The step is the difference of two numbers of the weights' size, rounded in the submission's
    dtype (machine epsilon ``eps``), so its rounding error scales with ``max|W|·eps``, not with the
    step itself: ``atol`` grows by ``10·eps·max|W|`` (over every weight updated) and ``rtol`` is ten
    times the value checks'.  Comparing the step, not ``W_new``, keeps a wrong learning rate from
    hiding in ``W_new``'s rounding: ``0.1`` where the run's ``lr`` is ``0.05`` shows even where the
    step is a thousandth of the weights.
    """
    scale = float(weights.abs().max()) if weights.numel() else 0.0
    return Tolerance(rtol=tol.rtol * UPDATE_FACTOR, atol=tol.atol + eps * UPDATE_FACTOR * scale)
