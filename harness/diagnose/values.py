"""Diagnosis for a course's own assignment: rules about values and the reference's graph, not about
one network.

- about the submission: right on its own inputs only (``instance-only``); non-finite numbers;
- the first wrong link: a gradient is wrong while every gradient it is computed from (the
  gradients of the values made directly from it, that the submission exposes) is right — so the
  mistake is in that one step; or one of those is already wrong (fix that first);
- the value is the truth times a constant (the opposite sign, ×2, ½, the batch size or its
  inverse), its transpose, or zero everywhere;
- a wrong step of the backward pass (:mod:`harness.diagnose.graph`: the reference's own graph, rules
  per operation), alone or with a constant factor; for an update: its sign, its learning rate, no
  update, the gradient of the updated weights;
- the value equals another quantity.

A rule is only given when it reproduces the submitted numbers within the check's tolerance on every
failing run, and the simplest rule that does wins.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from itertools import combinations
from typing import Any, TypeVar

import torch
from torch import Tensor

from harness.computation import Truth, call_reference, learning_rate, leaves_of, truth_at_own
from harness.computation import truth_of as _truth_of
from harness.diagnose.forward import Forward
from harness.diagnose.forward import mutants as forward_mutants
from harness.diagnose.graph import ACTIVATION_OPS, Mutant, Trace, _rules, broadcast
from harness.records.definition import GRAD, NEW, Definition
from harness.records.result import Diagnosis, ValueEvidence, ValueRun


def _close(a: Tensor, b: Tensor, ev: ValueEvidence) -> bool:
    if a.shape != b.shape:
        return False
    return torch.allclose(a.to(b.dtype), b, rtol=ev.rtol, atol=ev.atol)  # |a - b| <= atol + rtol |b|


def _name(ev: ValueEvidence, quantity: str) -> str:
    return ev.names.get(quantity, quantity)


def _base(quantity: str) -> str | None:
    return quantity[len(GRAD) :] if quantity.startswith(GRAD) else None


def _link(ev: ValueEvidence) -> tuple[Diagnosis | None, bool, list[str]]:
    """(a first-wrong-link or upstream-wrong diagnosis, whether this value is the first wrong one, the
    values it is computed from whose gradients the submission exposes)."""
    base = _base(ev.quantity)
    if base is None:
        return None, False, []
    upstream = [c for c in ev.consumers.get(base, ()) if GRAD + c in ev.read and GRAD + c in ev.truths]
    if not upstream:
        return None, False, []
    wrong = [c for c in upstream if not _close(ev.read[GRAD + c], ev.truths[GRAD + c], ev)]
    mine = _name(ev, ev.quantity)
    if wrong:
        first = _name(ev, GRAD + wrong[0])
        return (
            Diagnosis(
                "upstream-wrong",
                f"{mine} is computed from {first}, which is already wrong: fix {first} first.",
            ),
            False,
            upstream,
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
        upstream,
    )


_FACTORS = ((-1.0, "has the opposite sign"), (2.0, "is twice"), (0.5, "is half"), (-2.0, "is minus twice"))


def _local(ev: ValueEvidence) -> Diagnosis | None:
    """A rule about the value alone (zero, a constant factor, its transpose, ...) that holds on every
    failing run."""
    found = _local_one(ev.submitted, ev.expected, ev)
    if found is None or ev.definition is None:
        return found
    for run in ev.runs[1:]:
        truth = truth_of(ev.definition, run.inputs, run.cell)
        expected = truth.values.get(ev.quantity)
        if expected is None:
            return None
        if _local_one(run.submitted, expected, replace(ev, truths=truth.values), found.id) is None:
            return None
    return found


def _local_one(submitted: Tensor, expected: Tensor, ev: ValueEvidence, only: str | None = None) -> Diagnosis | None:
    """The first value rule that explains ``submitted`` (of id ``only``, if given)."""
    return next((d for d in _local_rules(submitted, expected, ev) if only is None or d.id == only), None)


def _local_rules(submitted: Tensor, expected: Tensor, ev: ValueEvidence) -> Iterator[Diagnosis]:
    s, e = submitted.to(torch.float64), expected.to(torch.float64)
    mine = _name(ev, ev.quantity)
    if not bool(torch.isfinite(s).all()):
        yield Diagnosis(
            "non-finite", f"{mine} holds NaN or infinite values: look for a division by zero or an overflow."
        )
    if bool((e.abs() > 0).any()) and bool((s == 0).all()):
        yield Diagnosis("zero", f"{mine} is zero everywhere: is it ever filled in?")
    for factor, words in _FACTORS:
        if _close(s, factor * e, ev):
            what = f"{words} the right value" if factor != -1.0 else words
            yield Diagnosis(f"scale-{factor:g}", f"{mine} {what}: check the constant factors and signs.")
    batch = _batch(ev)
    if batch and batch > 1:
        for factor, words in ((float(batch), f"{batch} (the batch size) times"), (1.0 / batch, f"1/{batch} of")):
            if _close(s, factor * e, ev):
                yield Diagnosis(
                    "scale-batch",
                    f"{mine} is {words} the right value: a mean over the batch is divided once, not twice (or not at all).",
                )
    for base, words in ((10.0, "10"), (2.0, "2")):  # a logarithm in another base
        for factor in (1 / math.log(base), math.log(base)):
            if _close(s, factor * e, ev):
                yield Diagnosis(
                    "wrong-constant",
                    f"{mine} is off by a factor ln {words} (or its inverse): a logarithm in base {words}, not the natural one?",
                )
    if batch and batch > 2:
        for factor in (batch / (batch - 1), (batch - 1) / batch):
            if _close(s, factor * e, ev):
                yield Diagnosis(
                    "wrong-constant",
                    f"{mine} is off by a factor {batch}/{batch - 1} (or its inverse): is it n or n-1 somewhere?",
                )
    if e.dim() == 2 and e.shape[0] == e.shape[1] and _close(s.T, e, ev):
        yield Diagnosis(
            "transposed", f"{mine} is the transpose of the right value: check the order of a matrix product."
        )
    if e.dim() == 2 and min(e.shape) > 1 and e.shape[0] != e.shape[1] and _close(s, e.T.reshape(e.shape), ev):
        yield Diagnosis(
            "missing-transpose",
            f"{mine} holds the right numbers in the wrong places: it is reshaped where it should be transposed.",
        )


def _scaled(ev: ValueEvidence) -> Diagnosis | None:
    """The right value times one constant, the same on every failing run (a gradient multiplied by
    the learning rate, a constant written twice): after the rules that name the constant."""
    if ev.definition is None or not ev.runs or ev.expected.numel() < 2:
        return None
    expected = [ev.expected.to(torch.float64)]
    for run in ev.runs[1:]:
        value = truth_of(ev.definition, run.inputs, run.cell).values.get(ev.quantity)
        if value is None:
            return None
        expected.append(value.to(torch.float64))
    e = expected[0].reshape(-1)
    norm = float(e @ e)
    if norm == 0.0:
        return None
    c = float(ev.runs[0].submitted.to(torch.float64).reshape(-1) @ e) / norm
    if abs(c) < 1e-6 or abs(c - 1.0) < 1e-6:
        return None
    if not all(_close(r.submitted.to(torch.float64), c * x, ev) for r, x in zip(ev.runs, expected)):
        return None
    return Diagnosis(
        "constant-factor", f"{_name(ev, ev.quantity)} is {c:.3g} times the right value: check the constant factors."
    )


def _swapped_factor(ev: ValueEvidence) -> Diagnosis | None:
    """A factor of the right gradient replaced by another named value that fits it only by
    broadcasting (``W1.T`` where ``W2`` belongs: ``(3, 4) * (1, 1)`` is a (3, 4) where a (3, 1)
    belongs, and the rest of the chain, written elementwise, broadcasts on): the submitted value
    times the right factor is the right value times the other, on every failing run."""
    definition = ev.definition
    if definition is None or not ev.runs or not ev.quantity.startswith(GRAD) or ev.expected.dim() != 2:
        return None
    shape = tuple(ev.expected.shape)

    def factors(run: ValueRun) -> dict[str, Tensor]:
        assert definition is not None
        pool = _pool(trace_of(definition, run.inputs, run.cell), ev.names)
        return {k: v for k, v in pool.items() if v.dim() <= 2 and broadcast(tuple(v.shape), shape) == shape}

    def swapped(run: ValueRun, right: Tensor, u: Tensor, v: Tensor) -> bool:
        s, e = run.submitted.to(torch.float64), right.to(torch.float64)
        return _close(s, (e * v / u).expand(shape), ev) and not _close(s, e, ev)

    first = factors(ev.runs[0])
    pairs = _swap_screen(ev.runs[0].submitted.to(torch.float64), ev.expected.to(torch.float64), first, ev)
    if not pairs:
        return None
    expected = [ev.expected] + [truth_of(definition, r.inputs, r.cell).values[ev.quantity] for r in ev.runs[1:]]
    others = [factors(r) for r in ev.runs[1:]]
    for right, wrong in pairs:
        u, v = first[right], first[wrong]
        ratio = v.expand(shape) / u.expand(shape)
        if bool(torch.allclose(ratio, ratio.reshape(-1)[0].expand(shape))):  # a constant: the scale rules'
            continue
        if not swapped(ev.runs[0], ev.expected, u, v):
            continue
        if all(
            right in f and wrong in f and swapped(r, x, f[right], f[wrong])
            for r, x, f in zip(ev.runs[1:], expected[1:], others)
        ):
            return Diagnosis(
                "wrong-operand",
                f"{_name(ev, ev.quantity)} uses {_base_name(wrong)} where {_base_name(right)} belongs: the shapes "
                "only fit by broadcasting, so the mistake does not raise.",
            )
    return None


def _swap_screen(s: Tensor, e: Tensor, factors: Mapping[str, Tensor], ev: ValueEvidence) -> list[tuple[str, str]]:
    """The (right, wrong) pairs of ``factors`` that may explain ``s = e · wrong / right``: the
    tolerance's own condition at the two largest entries of ``e``, for every pair at once (a
    necessary condition: the full check follows for those only)."""
    shape = tuple(e.shape)
    flat = e.reshape(-1)
    at = torch.topk(flat.abs(), min(2, flat.numel())).indices
    if float(flat.abs().max()) == 0.0:
        return []
    names = list(factors)
    values = torch.stack([factors[n].to(torch.float64).expand(shape).reshape(-1)[at] for n in names])  # (P, k)
    size = torch.stack([factors[n].to(torch.float64).abs().max() for n in names])
    low = torch.stack([factors[n].to(torch.float64).abs().min() for n in names])
    spread = torch.stack([factors[n].max() != factors[n].min() for n in names])  # a constant tells nothing apart
    usable = (size >= 1e-8) & (low >= 1e-6 * size) & spread
    target = s.reshape(-1)[at] * values / flat[at]  # (P, k): what ``wrong`` must be there, for each ``right``
    gap = (target[:, None, :] - values[None, :, :]).abs()
    room = 2 * (ev.atol * (values / flat[at]).abs()[:, None, :] + ev.rtol * values.abs()[None, :, :])
    fits = (gap <= room).all(-1) & usable[:, None]
    shapes = [tuple(factors[n].shape) for n in names]
    return [
        (names[i], names[j])
        for i, j in fits.nonzero().tolist()
        if shapes[i] != shapes[j] and _base_name(names[i]) != _base_name(names[j])
    ]


def _base_name(label: str) -> str:
    return label[:-2] if label.endswith(".T") else label


def _other(ev: ValueEvidence) -> Diagnosis | None:
    """The value is another quantity of the computation."""
    s, e = ev.submitted.to(torch.float64), ev.expected.to(torch.float64)
    mine = _name(ev, ev.quantity)
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


def _forward(ev: ValueEvidence) -> Diagnosis | None:
    """A value of the forward pass that is the reference's with one step changed (an activation applied
    twice, a product fed another named value: :mod:`harness.diagnose.forward`), on every failing run.
    At the loss only a square written as an absolute value (``loss-formula``): its other mistakes are
    its formula's (the value rules'), and a mistake in a step before it is named at the forward values
    checked (each mutant runs the whole reference again)."""
    definition = ev.definition
    if definition is None or not ev.runs or _base(ev.quantity) is not None or ev.quantity.startswith(NEW):
        return None
    at_loss = ev.quantity == definition.loss

    def forward_of(run: ValueRun) -> Forward:
        assert definition is not None
        return _per_run("forward", definition, run.inputs, run.cell, lambda: Forward(definition, run.inputs, run.cell))

    first = forward_of(ev.runs[0])
    truth = first.values.get(ev.quantity)
    submitted = ev.runs[0].submitted.to(torch.float64)
    if truth is None or truth.shape != submitted.shape:
        return None
    truth = truth.to(torch.float64)
    for kind, detail, at, edit, words in forward_mutants(first):
        if at_loss and kind != "loss-formula":
            continue
        got = first.value(ev.quantity, at, edit)
        if got is None or not _close(submitted, got, ev) or _close(got, truth, ev):
            continue
        if all(_forward_reproduces(forward_of(run), detail, run, ev) for run in ev.runs[1:]):
            return Diagnosis(kind, f"{_name(ev, ev.quantity)}: {words}.")
    return None


def _forward_reproduces(forward: Forward, detail: str, run: ValueRun, ev: ValueEvidence) -> bool:
    same = next((m for m in forward_mutants(forward) if m[1] == detail), None)
    got = forward.value(ev.quantity, same[2], same[3]) if same is not None else None
    return got is not None and _close(run.submitted.to(torch.float64), got, ev)


def _picked(ev: ValueEvidence) -> Diagnosis | None:
    """A number that is a named vector's entry at a label, or minus it (a loss without its log, a
    score not normalised), on every failing run."""
    definition = ev.definition
    if definition is None or not ev.runs or ev.expected.numel() != 1:
        return None
    found: set[tuple[str, str, float]] | None = None
    for run in ev.runs:
        trace = trace_of(definition, run.inputs, run.cell)
        values, picks = trace.values, trace.picks()
        s = run.submitted.to(torch.float64).reshape(())
        here = {
            (name, label, sign)
            for name, value in values.items()
            if value.dim() == 1 and value.dtype.is_floating_point and name != _base(ev.quantity)
            for label, at in picks.items()
            if 0 <= at < value.numel()
            for sign in (1.0, -1.0)
            if _close(s, sign * value[at].to(torch.float64), ev)
        }
        found = here if found is None else found & here
        if not found:
            return None
    assert found is not None
    name, label, sign = sorted(found)[0]
    return Diagnosis(
        "other-value",
        f"{_name(ev, ev.quantity)} equals {'minus ' if sign < 0 else ''}{name}[{label}]: a step of the formula "
        "(a logarithm, a normalisation) is missing.",
    )


def _batch(ev: ValueEvidence) -> int | None:
    """The leading size most inputs share (rows as samples), if any."""
    sizes = [t.shape[0] for t in ev.truths.values() if t.dim() >= 1]
    return max(set(sizes), key=sizes.count) if sizes else None


def summed_over_wrong_axis(
    got: Sequence[int], want: Sequence[int], shapes: Iterable[Sequence[int]]
) -> tuple[int, ...] | None:
    """The broadcast shape S (one of ``shapes``, the run's values: ``want`` broadcasts to it) that a value
    of shape ``got`` is a sum of, over dimensions other than the ones ``want`` is summed over: with or
    without keepdim, or over every dimension (to ``()``); ``None`` if there is none."""
    got, want = tuple(got), tuple(want)
    if got == want:
        return None
    for shape in sorted({tuple(s) for s in shapes}, key=len):
        if shape == want or len(shape) < len(want) or len(shape) == 0:
            continue
        if broadcast(want, shape) != shape:
            continue
        if not got:
            return shape
        if len(got) == len(shape):  # keepdim: some sizes set to 1, at least one
            if got != shape and all(g == s or g == 1 for g, s in zip(got, shape)):
                return shape
            continue
        if len(got) < len(shape) and any(
            tuple(shape[i] for i in kept) == got for kept in combinations(range(len(shape)), len(got))
        ):
            return shape
    return None


# ---------------------------------------------------------------- the graph's mutants

# Simplest first: when several mutants reproduce the numbers, the first kind here is named.
KINDS = (
    "missing-local-derivative",
    "scale--1",
    "scale-2",
    "scale-0.5",
    "missing-branch",
    "scale-batch",
    "derivative-at-wrong-tensor",
    "other-activation-derivative",
    "softmax-no-onehot",
    "missing-transpose",
    "wrong-operand",
    "elementwise-vs-matmul",
    "double-count",
    "wrong-constant",
)
_COMBINED = ((-1.0, "with the opposite sign"), (2.0, "twice over"), (0.5, "halved"))


_T = TypeVar("_T")
_KEPT = 16  # runs whose trace and truth are kept: every check of one submission reads the same few runs
_kept: OrderedDict[tuple[str, int, int, str], tuple[Definition, Mapping[str, Tensor], Any]] = OrderedDict()


def _per_run(
    what: str, definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, object], make: Callable[[], _T]
) -> _T:
    """``make()``, once per run: the failing checks of one submission are judged on the same runs (the
    same ``inputs`` object), and each check's diagnosis replays the reference on every one of them."""
    key = (what, id(definition), id(inputs), repr(sorted(cell.items())))
    hit = _kept.get(key)
    if hit is not None and hit[0] is definition and hit[1] is inputs:
        _kept.move_to_end(key)
        found: _T = hit[2]
        return found
    made = make()
    _kept[key] = (definition, inputs, made)  # holding both keeps their ids from being reused
    while len(_kept) > _KEPT:
        _kept.popitem(last=False)
    return made


def _traced(definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, object]) -> Trace:
    with torch.enable_grad():  # the forward recorded; the replay itself needs no graph
        leaves = leaves_of(definition, inputs)
        result = call_reference(definition, leaves, cell)
    named = {k: v for k, v in result.items() if isinstance(v, Tensor)}
    return Trace(named[definition.loss], named, leaves)


def _truth(definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, object]) -> Truth:
    with torch.enable_grad():
        return _truth_of(definition, inputs, cell)


def trace_of(definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, object]) -> Trace:
    """The reference's backward pass on one run, step by step (read-only: kept for the run's next
    checks)."""
    return _per_run("trace", definition, inputs, cell, lambda: _traced(definition, inputs, cell))


def truth_of(definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, object]) -> Truth:
    """The reference's truth on one run (read-only: kept for the run's next checks)."""
    return _per_run("truth", definition, inputs, cell, lambda: _truth(definition, inputs, cell))


def _pool_key(names: Mapping[str, str]) -> Hashable:
    return ("pool", tuple(sorted(names.items())))


def _pool(trace: Trace, names: Mapping[str, str]) -> dict[str, Tensor]:
    """The values a wrong operand may be, under the names the assignment uses (made once per trace)."""
    key = _pool_key(names)
    found = trace.pools.get(key)
    if found is None:
        found = trace.pools[key] = _pool_of(trace, names)
    return found


def _pool_of(trace: Trace, names: Mapping[str, str]) -> dict[str, Tensor]:
    pool: dict[str, Tensor] = {}
    for name, value in trace.values.items():
        if not value.dtype.is_floating_point:
            continue
        pool[name] = value
        grad = trace.grad(name)
        if grad is not None:
            pool[names.get(GRAD + name, GRAD + name)] = grad
    picks = trace.picks()
    for label, value in list(pool.items()):
        if value.dim() == 2 and value.shape[0] != value.shape[1]:
            pool[f"{label}.T"] = value.T
        for index, at in picks.items():  # a row picked by a label input (the outside word's vector)
            if value.dim() == 2 and 0 <= at < value.shape[0]:
                pool[f"{label}[{index}]"] = value[at]
    return pool


def _same_mutant(trace: Trace, mutant: Mutant, ev: ValueEvidence) -> Mutant | None:
    """The mutant of another run's trace that is ``mutant`` (same step, same rule, same operand)."""
    if mutant.node >= len(trace.nodes) or (mutant.node, 0) not in trace.grads:
        return None
    found = trace.rules_at(mutant.node, _pool(trace, ev.names), _pool_key(ev.names))
    return next((m for m in found if m.kind == mutant.kind and m.detail == mutant.detail), None)


_SYSTEMATIC = ("missing-local-derivative", "derivative-at-wrong-tensor", "other-activation-derivative", "double-count")


def _graph(ev: ValueEvidence, upstream: list[str], beyond: bool = False) -> Diagnosis | None:
    """A wrong step of the backward pass (or the same wrong rule at every activation) that gives the
    submitted numbers on every failing run, alone or with a constant factor.

    ``upstream``: the values made from this one whose gradients are read right; the wrong step is then
    one between them and this value.  ``beyond``: the steps above them instead, for a value computed in
    one closed form that does not go through those (right) gradients."""
    base = _base(ev.quantity)
    definition = ev.definition
    if base is None or definition is None or not ev.runs:
        return None
    first = trace_of(definition, ev.runs[0].inputs, ev.runs[0].cell)

    def others() -> Iterator[tuple[Trace, ValueRun]]:  # the other runs' traces, made when a candidate needs them
        return ((trace_of(definition, r.inputs, r.cell), r) for r in ev.runs[1:])

    target = first.of_name.get(base)
    truth = first.grads.get((target, 0)) if target is not None else None
    if target is None or truth is None:
        return None
    tops = [first.of_name[c] for c in upstream if c in first.of_name]
    if beyond and not tops:
        return None
    region = first.between(tops, target) if tops else first.reaches(target) - {target}
    if beyond:
        region = first.reaches(target) - region - {target}
    submitted = ev.runs[0].submitted.to(torch.float64)

    if _close(submitted, truth, ev):
        return None
    factors = (1.0, *dict(_COMBINED))
    scaled = torch.tensor(factors, dtype=torch.float64).reshape(-1, *([1] * submitted.dim()))

    def near(a: Tensor, b: Tensor) -> list[bool]:
        """``_close(a, f * b)`` for each of ``factors``, in a few operations (a search tries hundreds)."""
        fb = scaled * b
        return ((a - fb).abs() <= ev.atol + ev.rtol * fb.abs()).reshape(len(factors), -1).all(1).tolist()

    def factor_of(predicted: Tensor | None) -> float | None:
        if predicted is None or predicted.shape != submitted.shape:
            return None
        found = next((f for f, hit in zip(factors, near(submitted, predicted)) if hit), None)
        if found is None or (predicted.shape == truth.shape and any(near(predicted, truth))):  # the value rules'
            return None
        return found

    found: list[tuple[int, float, Mutant, list[int]]] = []  # (rank, factor, mutant, the steps it is made at)
    # a closed form's slips: the derivation's, not an operand's
    pool, key = ({}, "bare") if beyond else (_pool(first, ev.names), _pool_key(ev.names))
    singles = sorted(first.mutants(region, pool, key), key=lambda m: _rank(first, m))
    may_fit = _screen(first, target, submitted, truth, ev, factors, singles)
    for mutant, fits in zip(singles, may_fit):  # simplest first: the first that holds on every run is the answer
        if not fits:
            continue
        factor = factor_of(first.effect(mutant, target))
        if factor is not None and not beyond and not _keeps(first, mutant, tops):
            continue
        if factor == 1.0 and all(_reproduces(t, mutant, [], r, 1.0, ev) for t, r in others()):
            return _say(ev, mutant, 1.0)
        if factor is not None and factor != 1.0:
            found.append((KINDS.index(mutant.kind) + 2 * len(KINDS), factor, mutant, []))
    for (kind, detail), steps in _groups(first, region).items() if not beyond else ():
        factor = factor_of(_replay(first, kind, detail, steps, target))
        if factor is not None:
            mutant = next(m for m in _rules(first, steps[0], {}) if (m.kind, m.detail) == (kind, detail))
            found.append((KINDS.index(kind) + len(KINDS) * (1 if factor == 1.0 else 3), factor, mutant, steps))
    for _, factor, mutant, steps in sorted(found, key=lambda f: f[0]):
        if all(_reproduces(t, mutant, steps, r, factor, ev) for t, r in others()):
            return _say(ev, mutant, factor, len(steps))
    return None


def _screen(
    trace: Trace,
    target: int,
    submitted: Tensor,
    truth: Tensor,
    ev: ValueEvidence,
    factors: Sequence[float],
    mutants: Sequence[Mutant],
) -> list[bool]:
    """For each of ``mutants``, a necessary condition for it to give ``submitted`` (times one of
    ``factors``) at ``target``, read from one projection of its change (:meth:`Trace.projections`),
    without replaying it: a search replays only the few mutants that pass.  Where ``f · p`` is within
    tolerance of ``submitted`` entry by entry, ``|r · (submitted - f · p)| <= Σ |r| (atol + rtol
    |submitted|) / (1 - rtol)``."""
    found = trace.adjoints(target) if submitted.shape == truth.shape and ev.rtol < 0.5 else None
    if found is None:
        return [True] * len(mutants)
    r = found[0]
    rs, rt = float((r * submitted).sum()), float((r * truth).sum())
    bound = float((r.abs() * (ev.atol + ev.rtol * submitted.abs())).sum()) / (1 - ev.rtol)
    size = float((r.abs() * (submitted.abs() + truth.abs())).sum())

    def may_fit(pr: float | None) -> bool:
        if pr is None:
            return True  # the replay decides
        return any(
            abs(rs - f * (rt + pr)) <= bound + 1e-7 * (abs(rs) + abs(f) * (abs(rt) + abs(pr) + size)) for f in factors
        )

    return [may_fit(pr) for pr in trace.projections(mutants, target)]


def _closed_form(ev: ValueEvidence, upstream: list[str]) -> Diagnosis | None:
    """The first wrong gradient, whose every upstream gradient is right, explained by a wrong step
    *above* those: the student computed it in one closed form (the fused softmax and cross-entropy, the
    batchnorm backward in one line) that does not go through them, with a mistake in that derivation."""
    found = _graph(ev, upstream, beyond=True)
    if found is None:
        return None
    mine = _name(ev, ev.quantity)
    right = " and ".join(_name(ev, GRAD + c) for c in upstream)
    words = found.message[len(mine) + 2 :] if found.message.startswith(f"{mine}: ") else found.message
    return Diagnosis(
        found.id,
        f"{mine} is wrong though {right} {'is' if len(upstream) == 1 else 'are'} right, so it is not computed "
        f"from {'it' if len(upstream) == 1 else 'them'} (a closed form, in one expression?): it is what the "
        f"chain rule gives when {words}",
    )


def _keeps(trace: Trace, mutant: Mutant, tops: list[int]) -> bool:
    """Whether ``mutant`` leaves the gradients of ``tops`` (read right) as they are."""
    for top in tops:
        right = trace.grads.get((top, 0))
        if top > mutant.node and right is not None:
            changed = trace.effect(mutant, top)
            if changed is None or not torch.allclose(changed, right, rtol=1e-9, atol=1e-12):
                return False
    return True


def _rank(trace: Trace, mutant: Mutant) -> float:
    """How simple ``mutant`` is (lower first): its kind's place in :data:`KINDS`, except that a power's
    own constant mistakes (the exponent or its factor) come before a generic constant factor that gives
    the same numbers."""
    if mutant.kind == "wrong-constant" and trace.nodes[mutant.node].op == "Pow":
        return KINDS.index("scale--1") - 0.5
    return float(KINDS.index(mutant.kind))


def _groups(trace: Trace, region: set[int]) -> dict[tuple[str, str], list[int]]:
    """The activation rules that apply at two or more steps of ``region``: a student's misconception
    about a derivative is usually applied at every layer."""
    groups: dict[tuple[str, str], list[int]] = {}
    for k in sorted(region):
        if trace.nodes[k].op in ACTIVATION_OPS and (k, 0) in trace.grads:
            for m in _rules(trace, k, {}):
                if m.kind in _SYSTEMATIC and k not in groups.get((m.kind, m.detail), []):
                    groups.setdefault((m.kind, m.detail), []).append(k)
    return {key: steps for key, steps in groups.items() if len(steps) >= 2}


def _replay(trace: Trace, kind: str, detail: str, steps: list[int], target: int) -> Tensor | None:
    def edit(k: int, g: Tensor) -> Mapping[int, Tensor] | None:
        if k not in steps:
            return None
        m = next((m for m in _rules(trace, k, {}, g) if (m.kind, m.detail) == (kind, detail)), None)
        return m.replaced if m is not None else None

    return trace.replay(edit, target, min(steps))


def _reproduces(
    trace: Trace, mutant: Mutant, steps: list[int], run: ValueRun, factor: float, ev: ValueEvidence
) -> bool:
    target = trace.of_name.get(_base(ev.quantity) or "")
    if target is None:
        return False
    if steps:
        predicted = _replay(trace, mutant.kind, mutant.detail, steps, target)
    else:
        same = _same_mutant(trace, mutant, ev)
        predicted = trace.effect(same, target) if same is not None else None
    return predicted is not None and _close(run.submitted.to(torch.float64), factor * predicted, ev)


def _say(ev: ValueEvidence, mutant: Mutant, factor: float, steps: int = 0) -> Diagnosis:
    mine = _name(ev, ev.quantity)
    if steps:
        mutant = replace(mutant, words=f"{mutant.words} (and the same at every such step: {steps} of them)")
    words = dict(_COMBINED).get(factor)
    if words is None:
        return Diagnosis(mutant.kind, f"{mine}: {mutant.words}.")
    return Diagnosis(f"{mutant.kind}+scale-{factor:g}", f"{mine}: {mutant.words}, and the result {words}.")


# ---------------------------------------------------------------- updates


def _update(ev: ValueEvidence) -> Diagnosis | None:
    """An update ``new.<p>`` with the wrong sign, rate or gradient, or no update at all."""
    if not ev.quantity.startswith(NEW) or ev.definition is None or not ev.runs:
        return None
    p = ev.quantity[len(NEW) :]
    mine = _name(ev, ev.quantity)
    for kind, words, explains in _update_rules(ev, p):
        if all(_close(run.submitted.to(torch.float64), value, ev) for run, value in zip(ev.runs, explains)):
            return Diagnosis(kind, f"{mine} {words}.")
    return None


def _update_rules(ev: ValueEvidence, p: str) -> Iterator[tuple[str, str, list[Tensor]]]:
    """The update's mistakes, each as the new weights it leaves on every run.  The step is built from
    the gradient the check judged it by: the submission's own ``grad.<p>`` where every run exposes
    one of the weights' shape, else the true one."""
    definition = ev.definition
    assert definition is not None
    runs = ev.runs
    before = [r.inputs[p].to(torch.float64) for r in runs]
    traces = [trace_of(definition, r.inputs, r.cell) for r in runs]
    grads = [t.grad(p) for t in traces]
    lrs = [learning_rate(definition, r.inputs) or 0.0 for r in runs]
    if any(g is None for g in grads) or not any(lrs):
        return
    gs = [g for g in grads if g is not None]
    own = [r.read.get(GRAD + p) for r in runs]
    if all(g is not None and g.numel() == w.numel() for g, w in zip(own, before)):
        gs = [g.to(torch.float64).reshape(w.shape) for g, w in zip(own, before) if g is not None]
    yield "no-update", "is the weights before the update: the step is never taken", before
    yield (
        "update-sign",
        "moves up the gradient, not down it: check the sign of the step",
        [w + lr * g for w, lr, g in zip(before, lrs, gs)],
    )
    fixed = _fixed_step(runs[0].submitted.to(torch.float64), before[0], gs[0])
    if fixed is not None and len(set(lrs)) > 1:  # the same step where the lr differs: a literal
        yield (
            "update-lr",
            f"takes a step of the same size {fixed:.3g} on every run, not the learning rate: use lr",
            [w - fixed * g for w, g in zip(before, gs)],
        )
    for c in (1.0 / lrs[0], 10.0, 0.1, 2.0, 0.5):
        yield (
            "update-lr",
            "takes a step of the wrong size: check the learning rate",
            [w - c * lr * g for w, lr, g in zip(before, lrs, gs)],
        )
    shown = _name(ev, GRAD + p)
    after = [dict(r.inputs, **{p: w - lr * g}) for r, w, lr, g in zip(runs, before, lrs, gs)]
    moved = [_traced(definition, a, r.cell).grad(p) for a, r in zip(after, runs)]
    if all(m is not None for m in moved):
        yield (
            "gradient-of-updated",
            f"uses the gradient at the updated weights: compute {shown} before the update",
            [w - lr * m for w, lr, m in zip(before, lrs, moved) if m is not None],
        )


def _fixed_step(new: Tensor, before: Tensor, gradient: Tensor) -> float | None:
    """The step size ``s`` with ``new ≈ before − s · gradient`` (least squares), or ``None``."""
    g = gradient.detach().reshape(-1).to(torch.float64)
    norm = float(g @ g)
    if norm == 0.0 or new.numel() != before.numel():
        return None
    return float((before.detach().reshape(-1) - new.detach().reshape(-1)) @ g) / norm


_NOT_A_SECOND_MISTAKE = ("first-wrong-link", "instance-only", "transposed")


def diagnose_value(ev: ValueEvidence) -> Diagnosis | None:
    """The diagnosis ``ev`` supports, or ``None`` (its fallback, if it has one)."""
    with torch.no_grad():  # the search's arithmetic on saved tensors that require grad would record graphs
        if ev.transposed:
            return _transposed(ev)
        return _diagnose(ev) or ev.fallback


def _transposed(ev: ValueEvidence) -> Diagnosis | None:
    """A value submitted transposed: the transpose alone (its transpose is right on every run), or the
    transpose and a second mistake that a value rule names in its transpose."""
    alone = ev.fallback or Diagnosis(
        "transposed",
        f"{_name(ev, ev.quantity)} is the transpose of the right value: check the order of a matrix product.",
    )
    if _close(ev.submitted.to(torch.float64), ev.expected.to(torch.float64), ev):
        return alone
    found = _diagnose(replace(ev, transposed=False, fallback=None))
    if found is None or found.id in _NOT_A_SECOND_MISTAKE:
        return alone
    mine = _name(ev, ev.quantity)
    words = found.message
    if words.startswith(f"{mine}: "):
        words = words[len(mine) + 2 :]
    elif words.startswith(f"{mine} "):
        words = f"it {words[len(mine) + 1 :]}"
    return Diagnosis(f"transposed+{found.id}", f"{alone.message} Transposed back, {words}")


def _filled_runs(ev: ValueEvidence) -> ValueEvidence:
    """``ev`` without the runs where the value is zero everywhere, when it is not on others: the code
    that fills it in did not run there (it raised at those sizes, say), and the numbers of the other
    runs tell what it computes."""
    unfilled = [bool((r.submitted == 0).all()) for r in ev.runs]
    if ev.definition is None or not any(unfilled) or all(unfilled):
        return ev
    runs = tuple(r for r, u in zip(ev.runs, unfilled) if not u)
    truth = truth_of(ev.definition, runs[0].inputs, runs[0].cell)
    expected = truth.values.get(ev.quantity)
    if expected is None or tuple(expected.shape) != tuple(runs[0].submitted.shape):
        return ev
    return replace(
        ev, submitted=runs[0].submitted, expected=expected, truths=truth.values, read=runs[0].read or ev.read, runs=runs
    )


# ---------------------------------------------------------------- a wrong forward pass


def _shaped(value: Tensor, like: Tensor) -> Tensor | None:
    if value.numel() != like.numel():
        return None
    return value.to(torch.float64).reshape(like.shape)


def _own_forward(ev: ValueEvidence) -> Diagnosis | None:
    """A gradient that is right for the submission's own wrong forward pass: the wrong forward values
    it exposes are those of the reference with one step changed, and so is the gradient (autograd on
    the changed reference)."""
    definition = ev.definition
    if definition is None or not ev.runs or not ev.quantity.startswith(GRAD):
        return None
    forward = [q for q in ev.runs[0].read if definition.is_forward(q) and q in ev.truths]
    wrong = [
        q
        for q in forward
        if (shaped := _shaped(ev.runs[0].read[q], ev.truths[q])) is not None and not _close(shaped, ev.truths[q], ev)
    ]
    if not wrong:
        return None

    def forward_of(run: ValueRun) -> Forward:
        assert definition is not None
        return _per_run("forward", definition, run.inputs, run.cell, lambda: Forward(definition, run.inputs, run.cell))

    others = [(run, forward_of(run)) for run in ev.runs[1:]]
    first = forward_of(ev.runs[0])
    for kind, detail, at, edit, words in forward_mutants(first):
        del kind
        values = first.values_at(at, edit)  # the screen, before autograd: the forward values alone
        if values is None or not _forward_fits(ev.runs[0], values, wrong, ev):
            continue
        if not _agrees_with(ev.runs[0], first.truth(at, edit), wrong, ev):
            continue
        same = [next((m for m in forward_mutants(f) if m[1] == detail), None) for _, f in others]
        if all(
            m is not None and _agrees_with(run, f.truth(m[2], m[3]), wrong, ev) for (run, f), m in zip(others, same)
        ):
            return Diagnosis(
                "consistent-with-own-forward",
                f"{_name(ev, ev.quantity)} is the right gradient of your own forward pass, but that forward pass "
                f"is wrong ({words}): fix it first; the backward pass must follow the network's forward pass.",
            )
    return _at_own_values(ev, wrong)


def _at_own_values(ev: ValueEvidence, wrong: Sequence[str]) -> Diagnosis | None:
    """A gradient that is the right backward steps fed with the submission's own wrong forward values
    (``wrong``): a sigmoid's derivative written ``y(1 − y)`` of its own ``y``, which is not the
    sigmoid's output (:func:`~harness.computation.truth_at_own`), on every run."""
    definition = ev.definition
    assert definition is not None
    for run in ev.runs:
        truth = _own_truth(definition, run, wrong)
        grad = truth.values.get(ev.quantity) if truth is not None else None
        right = truth_of(definition, run.inputs, run.cell).values.get(ev.quantity)
        if grad is None or right is None or grad.shape != right.shape:
            return None
        if not _close(run.submitted.to(torch.float64), grad, ev) or _close(grad, right, ev):
            return None
    order = truth_of(definition, ev.runs[0].inputs, ev.runs[0].cell).order
    first = min(wrong, key=lambda q: order.index(q) if q in order else len(order))
    return Diagnosis(
        "consistent-with-own-forward",
        f"{_name(ev, ev.quantity)} applies the right backward steps to your own forward values, but those are "
        f"wrong from {_name(ev, first)} on: fix the forward pass first.",
    )


def _own_truth(definition: Definition, run: ValueRun, wrong: Sequence[str]) -> Truth | None:
    """The reference's truth with the run's own values of ``wrong`` in place (once per run: every
    failing gradient of the submission asks it)."""
    given = {q: run.read[q] for q in wrong if q in run.read}

    def make() -> tuple[tuple[Tensor, ...], Truth | None]:
        return tuple(given.values()), truth_at_own(definition, run.inputs, run.cell, given)

    kept = _per_run("own:" + ",".join(given), definition, run.inputs, run.cell, make)
    if len(kept[0]) != len(given) or any(a is not b for a, b in zip(kept[0], given.values())):
        kept = make()  # another submission's values on the same inputs
    return kept[1]


def _agrees_with(run: ValueRun, truth: Truth | None, forward: Sequence[str], ev: ValueEvidence) -> bool:
    """The run's wrong forward values (``forward``) and the judged gradient are the changed reference's.
    (The right ones are not asked: after steps, each function was given the true values, so the
    values of one run need not be one forward pass.)"""
    if truth is None:
        return False
    grad = truth.values.get(ev.quantity)
    if grad is None or not _close(run.submitted.to(torch.float64), grad, ev):
        return False
    return _forward_fits(run, truth.values, forward, ev)


def _forward_fits(run: ValueRun, values: Mapping[str, Tensor], forward: Sequence[str], ev: ValueEvidence) -> bool:
    """The run's values of ``forward`` are those in ``values`` (a name either side lacks is not asked)."""
    for q in forward:
        want = values.get(q)
        mine = run.read.get(q)
        if want is None or mine is None:
            continue
        shaped = _shaped(mine, want)
        if shaped is None or not _close(shaped, want, ev):
            return False
    return True


def _diagnose(ev: ValueEvidence) -> Diagnosis | None:
    mine = _name(ev, ev.quantity)
    if ev.own_right and ev.runs:
        update = _update(ev)  # a literal step size: right where the lr is the notebook's own
        return (
            update
            if update is not None
            else Diagnosis(
                "instance-only",
                f"{mine} is right on your own inputs but wrong on the grader's: does it depend on numbers "
                "written into the code?",
            )
        )
    ev = _filled_runs(ev)
    own = _own_forward(ev)
    if own is not None:
        return own
    link, first, upstream = _link(ev)
    if link is not None and not first:
        return link
    local = (
        _local(ev)
        or _update(ev)
        or _graph(ev, upstream if first else [])
        or _swapped_factor(ev)
        or _other(ev)
        or _picked(ev)
        or _forward(ev)
        or _scaled(ev)
    )
    if local is None and first:
        closed = _closed_form(ev, upstream)
        if closed is not None:
            return closed
    if link is not None and local is not None:
        words = local.message[len(mine) + 2 :] if local.message.startswith(f"{mine}: ") else local.message
        return Diagnosis(local.id, f"{link.message[:-1]}: {words}")
    return link or local


# ---------------------------------------------------------------- a wrong operand that changes the shape


def wrong_shaped_operand(
    definition: Definition,
    quantity: str,
    runs: Sequence[tuple[Mapping[str, Tensor], Mapping[str, object], Tensor]],
    names: Mapping[str, str],
    atol: float,
    rtol: float,
) -> Diagnosis | None:
    """A gradient of the wrong shape that is the step into it computed with another operand (``z1`` where
    ``z2`` belongs, ``db2`` copied for ``db1``) or as a matrix product where the step is elementwise:
    the same on every run (``runs``: inputs, variant cell, the value submitted as it is)."""
    base = quantity[len(GRAD) :] if quantity.startswith(GRAD) else None
    if base is None or not runs:
        return None
    found: dict[tuple[str, str], str] | None = None
    for inputs, cell, submitted in runs:
        trace = trace_of(definition, inputs, cell)
        target = trace.of_name.get(base)
        if target is None:
            return None
        s = submitted.to(torch.float64)
        here = {
            key: words
            for key, words, value in _operand_forms(trace, target, _pool(trace, names))
            if value.shape == s.shape and torch.allclose(value, s, rtol=rtol, atol=atol)
        }
        found = here if found is None else {k: w for k, w in found.items() if k in here}
        if not found:
            return None
    assert found is not None
    (kind, _), words = next(iter(found.items()))
    return Diagnosis(
        kind, f"{names.get(quantity, quantity)}: {words}, and so has the wrong shape {tuple(runs[0][2].shape)}."
    )


def _operand_forms(
    trace: Trace, target: int, pool: Mapping[str, Tensor]
) -> Iterator[tuple[tuple[str, str], str, Tensor]]:
    """Each step into ``target`` (through a transpose, too) computed with every other operand."""
    steps = [(k, False) for k in trace.nodes[target].parents]
    for p in trace.nodes[target].parents:
        if trace.nodes[p].op in ("T", "Permute", "Transpose"):
            steps += [(k, True) for k in trace.nodes[p].parents]
    right = trace.grads.get((target, 0))
    for k, flipped in steps:
        node = trace.nodes[k]
        g = trace.grads.get((k, 0))
        if g is None or right is None:
            continue
        into = {target} if not flipped else set(trace.nodes[target].parents)
        own = [g, right] + [x.T for x in (g, right) if x.dim() == 2]
        others = {
            label: c for label, c in pool.items() if not any(c.shape == x.shape and torch.allclose(c, x) for x in own)
        }
        for e, edge in enumerate(node.edges):
            if edge is None or edge[0] not in into:
                continue
            step = f"the step from {trace.above(k)} back to {trace.below(k, e)}"

            def post(x: Tensor, flipped: bool = flipped) -> Tensor:
                return x.T if flipped and x.dim() == 2 else x

            if node.op == "Mm":
                for label, c in others.items():
                    if c.dim() != 2:
                        continue
                    for form in ("bT", "b"):
                        try:
                            if e == 0:
                                value = g @ (c.T if form == "bT" else c)
                            else:
                                value = (c.T if form == "bT" else c) @ g
                        except RuntimeError:
                            continue
                        yield (
                            ("wrong-operand", f"mm:{label}:{form}"),
                            f"the product in {step} uses {label}",
                            post(value),
                        )
            elif node.op in ("Add", "Sub"):
                for label, c in others.items():
                    if c.dim() >= 1:
                        yield ("wrong-operand", f"sum:{label}"), f"{step} sums {label}", post(c.sum(0))
            elif node.op == "Mv" and e == 1:
                a = getattr(node.fn, "_saved_self", None)
                if isinstance(a, Tensor) and a.dim() == 2 and g.dim() == 1:
                    for n, value in enumerate((a.T * g, (a * g[:, None]).T, a * g[:, None])):
                        yield (
                            ("elementwise-vs-matmul", f"mv{n}"),
                            f"{step} multiplies elementwise where it is a matrix product",
                            value,
                        )
            elif node.op == "Mul":
                other = getattr(node.fn, "_saved_other" if e == 0 else "_saved_self", None)
                if isinstance(other, Tensor) and other.dim() == 2 and g.dim() == 2:
                    for n, (a, b) in enumerate(((other.T, g), (g.T, other), (g, other.T), (other, g.T))):
                        try:
                            value = a @ b
                        except RuntimeError:
                            continue
                        yield (
                            ("elementwise-vs-matmul", f"mm{n}"),
                            f"{step} is a matrix product where it multiplies elementwise",
                            post(value),
                        )
