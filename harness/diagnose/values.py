"""Diagnosis for a course's own assignment: rules about values and the reference's graph, not about
one network.

- the first wrong link: a gradient is wrong while every gradient it is computed from (the
  gradients of the values made directly from it, that the submission exposes) is right — so the
  mistake is in that one step; or one of those is already wrong (fix that first);
- the value is the truth times a constant (the opposite sign, ×2, ½, the batch size or its
  inverse), its transpose, zero everywhere, not summed over the batch, or another quantity.

A rule is only given when it reproduces the submitted numbers within the check's tolerance.
"""

from __future__ import annotations

import torch
from torch import Tensor

from harness.records.definition import GRAD
from harness.records.result import Diagnosis, ValueEvidence


def _close(a: Tensor, b: Tensor, ev: ValueEvidence) -> bool:
    if a.shape != b.shape:
        return False
    return bool(((a - b).abs() <= ev.atol + ev.rtol * b.abs()).all())


def _name(ev: ValueEvidence, quantity: str) -> str:
    return ev.names.get(quantity, quantity)


def _base(quantity: str) -> str | None:
    return quantity[len(GRAD) :] if quantity.startswith(GRAD) else None


def _link(ev: ValueEvidence) -> tuple[Diagnosis | None, bool]:
    """(a first-wrong-link or upstream-wrong diagnosis, whether this value is the first wrong one)."""
    base = _base(ev.quantity)
    if base is None:
        return None, False
    upstream = [c for c in ev.consumers.get(base, ()) if GRAD + c in ev.read and GRAD + c in ev.truths]
    if not upstream:
        return None, False
    wrong = [c for c in upstream if not _agrees(ev.read[GRAD + c], ev.truths[GRAD + c], ev)]
    mine = _name(ev, ev.quantity)
    if wrong:
        first = _name(ev, GRAD + wrong[0])
        return (
            Diagnosis(
                "upstream-wrong",
                f"{mine} is computed from {first}, which is already wrong: fix {first} first.",
            ),
            False,
        )
    right = " and ".join(_name(ev, GRAD + c) for c in upstream)
    steps = " and ".join(f"{base} to {c}" for c in upstream)
    return (
        Diagnosis(
            "first-wrong-link",
            f"{mine} is the first wrong gradient: {right} {'is' if len(upstream) == 1 else 'are'} right, "
            f"so look at the step from {steps}.",
        ),
        True,
    )


def _agrees(submitted: Tensor, expected: Tensor, ev: ValueEvidence) -> bool:
    s = submitted.to(torch.float64)
    if s.shape != expected.shape:  # a gradient of the wrong shape is not right, whatever its numbers
        return False
    return bool(((s - expected).abs() <= ev.atol + ev.rtol * expected.abs()).all())


_FACTORS = ((-1.0, "has the opposite sign"), (2.0, "is twice"), (0.5, "is half"), (-2.0, "is minus twice"))


def _local(ev: ValueEvidence) -> Diagnosis | None:
    s, e = ev.submitted.to(torch.float64), ev.expected.to(torch.float64)
    mine = _name(ev, ev.quantity)
    if not bool(torch.isfinite(s).all()):
        return Diagnosis(
            "non-finite", f"{mine} holds NaN or infinite values: look for a division by zero or an overflow."
        )
    if bool((e.abs() > 0).any()) and bool((s == 0).all()):
        return Diagnosis("zero", f"{mine} is zero everywhere: is it ever filled in?")
    for factor, words in _FACTORS:
        if _close(s, factor * e, ev):
            what = f"{words} the right value" if factor != -1.0 else words
            return Diagnosis(f"scale-{factor:g}", f"{mine} {what}: check the constant factors and signs.")
    batch = _batch(ev)
    if batch and batch > 1:
        for factor, words in ((float(batch), f"{batch} (the batch size) times"), (1.0 / batch, f"1/{batch} of")):
            if _close(s, factor * e, ev):
                return Diagnosis(
                    "scale-batch",
                    f"{mine} is {words} the right value: a mean over the batch is divided once, not twice (or not at all).",
                )
    if e.dim() == 2 and e.shape[0] == e.shape[1] and _close(s.T, e, ev):
        return Diagnosis(
            "transposed", f"{mine} is the transpose of the right value: check the order of a matrix product."
        )
    for other, value in ev.truths.items():
        if (
            other != ev.quantity
            and value.shape == e.shape
            and value.dtype.is_floating_point
            and _close(s, value.to(torch.float64), ev)
        ):
            if not _close(value.to(torch.float64), e, ev):
                return Diagnosis(
                    "other-value",
                    f"{mine} equals {_name(ev, other)}, not the value it should be: a wrong operand or a name mixed up.",
                )
    return None


def _batch(ev: ValueEvidence) -> int | None:
    """The leading size most inputs share (rows as samples), if any."""
    sizes = [t.shape[0] for t in ev.truths.values() if t.dim() >= 1]
    return max(set(sizes), key=sizes.count) if sizes else None


def diagnose_value(ev: ValueEvidence) -> Diagnosis | None:
    """The diagnosis ``ev`` supports, or ``None``."""
    link, first = _link(ev)
    local = _local(ev)
    if link is not None and not first:
        return link
    if link is not None and local is not None:
        return Diagnosis(link.id, f"{link.message} {local.message}")
    return link or local
