"""Stage 4, diagnose: name the mistake behind a failing check, in one sentence a student can act on.

The engine is a catalogue of *mutants*: plausible wrong derivations of the
reference computation, each evaluated on the very inputs the submission was
judged on.  A mutant that reproduces the submission's numbers (on every failing
input the checker saw) names the mistake.  The gradient mutants are not written
one by one: the backward pass is a product of named factors, one per step of
the chain rule, contracted by ``einsum``::

    dE_dW2[j,k] = 2 · (Y_cap−Y)[k] · Y_cap(1−Y_cap)[k] · H[j]
    dE_dW1[i,j] = Σ_k 2 · (Y_cap−Y)[k] · Y_cap(1−Y_cap)[k] · W2[j,k] · H(1−H)[j] · X[i]

and the catalogue is generated from that chain: drop a factor, replace a factor
by another named intermediate of the same index signature (Z for H, O(1−O) for
Y_cap(1−Y_cap), W2_new for W2, ...), add a named intermediate as an extra
factor, sum a factor into a broadcast scalar, change the constant (sign, 2,
½, lr), transpose or reshape the result; and the pairs of such edits that a
student plausibly makes together.  Forward, loss, update and helper mutants
are generated the same way from small tables (activation × operand, loss
formulas, step sizes).

Before the catalogue, three questions that are about the submission rather than
the formula: are its numbers finite (``non-finite``); is the function right on
the submission's own inputs but not on generated ones (``instance-only``); is
its backward the right gradient of its *own* (wrong) forward pass
(``consistent-with-own-forward``).  After the catalogue, general fallbacks:
ratio analysis (the submission / the truth is constant, or constant along rows
or columns and then perhaps a named intermediate), a permutation of the right
values, and a near miss (``imprecise``).

Messages name the variable, what is off and where to look, in the notebook's
own vocabulary (dE_dY_cap, dY_cap_dO, dO_dW2, dO_dH, dH_dZ, dZ_dW1), never the
reference formula of a gradient.  :func:`diagnose` is only ever called on a
failing check, and a mutant that cannot be told apart from the truth on the
inputs at hand is never reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from harness.diagnose.catalogue import LOSSES, TRUE_CHAINS, ForwardModel, Mutant, _forward_models, catalogue
from harness.diagnose.evidence import (
    _DEFAULT_LR,
    AXES,
    FORWARD_KEYS,
    GRADIENTS,
    LABELS,
    SIGS,
    Case,
    _env,
    _match_rtol,
    expected_of,
    label,
    matches,
)
from harness.diagnose.messages import instance_diagnosis
from harness.records.problem import Problem, Truth
from harness.records.result import Diagnosis

__all__ = ["Finding", "diagnose", "explain"]


# ---------------------------------------------------------------- evidence


# ---------------------------------------------------------------- named values


# ---------------------------------------------------------------- the backward as a chain of factors


# ---------------------------------------------------------------- mutants


# ---------------------------------------------------------------- forward mutants


# ---------------------------------------------------------------- loss mutants


# ---------------------------------------------------------------- helper mutants


# ---------------------------------------------------------------- the engine


@dataclass(frozen=True)
class Finding:
    """What :func:`explain` concluded: the diagnosis and, when a mutant matched, which one."""

    diagnosis: Diagnosis
    mutant: str = ""  # the matching mutant's name; "" for the general checks


def diagnose(key: str, submitted: Tensor, problem: Problem, truth: Truth, **context: Any) -> Diagnosis | None:
    """The most likely mistake behind a failing check of ``key``, or ``None`` when nothing explains it.

    ``key`` is the value checked: ``dE_dW1``, ``dE_dW2``, ``Y_cap``, ``Z``, ``H``,
    ``O``, ``E``, ``update``, ``sigmoid`` or ``sigmoid_grad``.  ``submitted`` is
    the submission's value in the expected (canonical) shape, for ``update`` the
    step ``W_new − W``.  Optional ``context``:

    * ``lr``, ``gradient`` (update); ``own_y_cap`` (loss); ``z``, ``h`` (helpers);
    * ``evidence``: more failing :class:`Case`\\ s of the same check (function
      style: the first failing and the shrunk input); a mutant must explain them all;
    * ``instance``: ``(submitted, expected)`` on the submission's own inputs;
    * ``own``: the submission's own forward values (``Z``, ``H``, ``O``,
      ``Y_cap``, ``E``) and ``forward_ok``/``loss_ok``: whether its forward pass and
      loss were right (script style); ``own_gradients``: a function giving the
      gradients of the submission's own forward and loss at a problem (function style);
    * ``fn``: the function's name for messages (function style).
    """
    finding = explain(key, submitted, problem, truth, **context)
    return finding.diagnosis if finding else None


def explain(key: str, submitted: Tensor, problem: Problem, truth: Truth, **context: Any) -> Finding | None:
    """:func:`diagnose`, telling also which mutant matched."""
    evidence = context.pop("evidence", ())
    primary = Case(submitted.to(torch.float64), problem, truth, context)
    cases = [primary] + [e for e in evidence if isinstance(e, Case)]
    rtol = _match_rtol(problem.dtype)
    name = label(key, context.get("fn"))
    first = expected_of(key, primary)
    if (
        first is not None
        and bool(torch.isfinite(primary.submitted).all())
        and matches(primary.submitted, first, rtol * 1e-2)
        and len(cases) == 1
    ):
        return None  # nothing to explain: a value this close is never blamed
    for step in (_non_finite, _instance_only, _consistent):
        found = step(key, name, cases, context, rtol)
        if found is not None:
            return found
    expected = [expected_of(key, c) for c in cases]
    if any(e is None for e in expected):
        return None
    pairs = [(c, e) for c, e in zip(cases, expected) if e is not None]
    if key == "update":
        return _update(name, pairs, rtol)
    for subset in (pairs, pairs[:1]) if len(pairs) > 1 else (pairs,):
        found = _mutants(key, subset, rtol)
        if found is not None:
            return found
    return _fallbacks(key, name, pairs[0][0], pairs[0][1], rtol)


def _non_finite(key: str, name: str, cases: list[Case], context: Mapping[str, Any], rtol: float) -> Finding | None:
    for case in cases:
        s = case.submitted
        bad = ~torch.isfinite(s)
        if bool(bad.any()):
            where = torch.nonzero(bad)[0].tolist() if s.dim() else []
            at = f" at {where}" if where else ""
            if bool(torch.isnan(s).any()):
                what, hint = (
                    "NaN (not a number)",
                    "look for 0/0, a log or square root of a negative number, or inf − inf",
                )
            else:
                what, hint = "an infinite value", "look for a division by zero or the exp of a large number"
            gradient = case.context.get("gradient")
            if key == "update" and isinstance(gradient, Tensor) and not bool(torch.isfinite(gradient).all()):
                return Finding(
                    Diagnosis(
                        "non-finite",
                        f"{name} holds {what}{at} because the gradient it applies does: fix the gradient first.",
                    )
                )
            return Finding(Diagnosis("non-finite", f"{name} holds {what}{at}: {hint}."))
    return None


def _instance_only(key: str, name: str, cases: list[Case], context: Mapping[str, Any], rtol: float) -> Finding | None:
    """``instance``: (its value, the right value) on the submission's own inputs, given only when it also
    failed on generic inputs (a mistake that shows at special inputs only is no sign of cached values)."""
    instance = context.get("instance")
    if not (isinstance(instance, tuple) and len(instance) == 2):
        return None
    own, expected = instance
    if isinstance(own, Tensor) and isinstance(expected, Tensor) and matches(own, expected, rtol):
        return Finding(instance_diagnosis(str(context.get("fn") or key)))
    return None


def _consistent(key: str, name: str, cases: list[Case], context: Mapping[str, Any], rtol: float) -> Finding | None:
    """Is the failing gradient right for the submission's own (wrong) forward pass or loss?

    Two lessons, one id: the backward is the gradient of the submission's own
    forward (finite differences of its functions, or autograd of the forward
    model its values fit), or the right backward formula fed with its own wrong
    forward values.
    """
    if key not in GRADIENTS or (context.get("forward_ok", True) and context.get("loss_ok", True)):
        return None
    case = cases[0]
    right: Tensor = getattr(case.truth.grads, key)
    part = "forward pass" if not context.get("forward_ok", True) else "error E"
    check = "forward" if part == "forward pass" else "loss"
    own_gradients = context.get("own_gradients")
    candidates: list[tuple[Tensor, float]] = []
    if callable(own_gradients):
        grads = own_gradients(case.problem)
        if grads is not None:
            candidates.append(
                (
                    grads[0] if key == "dE_dW1" else grads[1],
                    max(rtol, 2e-2 if case.problem.dtype != "float64" else 1e-3),
                )
            )
    own = context.get("own")
    values = {k: v for k, v in own.items() if isinstance(v, Tensor)} if isinstance(own, Mapping) else {}
    candidates += [(g, rtol) for g in _own_model_gradients(key, case, values)]
    for g, tol in candidates:
        if matches(case.submitted, g, tol) and not matches(g, right, tol):
            return Finding(
                Diagnosis(
                    "consistent-with-own-forward",
                    f"{name} is the right gradient of your own "
                    f"{part}, but that {part} is wrong (see the {check} check): fix it first; the "
                    "backward pass must follow the network's forward pass.",
                )
            )
    if values:
        env = _env(case.problem, case.truth, float(case.context.get("lr", _DEFAULT_LR)), values)
        chained = TRUE_CHAINS[key].value(env)
        if chained is not None and matches(case.submitted, chained, rtol) and not matches(chained, right, rtol):
            return Finding(
                Diagnosis(
                    "consistent-with-own-forward",
                    f"{name} applies the right backward steps to "
                    f"your own forward values, but those are wrong (see the {check} check): fix the "
                    f"{part} first.",
                )
            )
    return None


def _own_model_gradients(key: str, case: Case, values: Mapping[str, Tensor]) -> list[Tensor]:
    """Autograd of the forward model and loss that reproduce the submission's own forward values."""
    found: list[Tensor] = []
    if not values:
        return found
    p = case.problem
    for model in [ForwardModel()] + _forward_models():
        run = model.run(p.X, p.W1, p.W2)
        if not all(matches(values[k], run[k], 1e-3) for k in FORWARD_KEYS if k in values):
            continue
        y_cap = run["Y_cap"]
        for loss_name, (_, _, fn) in LOSSES.items():
            if "E" in values and not matches(values["E"], fn(p.Y, y_cap), 1e-3):
                continue
            if model == ForwardModel() and loss_name == "squared":
                continue
            W1 = p.W1.clone().requires_grad_(True)
            W2 = p.W2.clone().requires_grad_(True)
            E = fn(p.Y, model.run(p.X, W1, W2)["Y_cap"])
            g1, g2 = torch.autograd.grad(E, (W1, W2), allow_unused=True)
            g = g1 if key == "dE_dW1" else g2
            if g is not None:
                found.append(g)
        break
    return found


def _mutants(key: str, pairs: Sequence[tuple[Case, Tensor]], rtol: float) -> Finding | None:
    """The cheapest mutant that reproduces the submission on every case (and is not the truth on all of them)."""
    table = catalogue(key)
    case, _expected = pairs[0]
    s = case.submitted.reshape(-1).to(torch.float64)
    index: list[int] = []
    rows: list[Tensor] = []
    for i, m in enumerate(table):
        v = m.rule(case)
        if v is not None and v.numel() == s.numel():
            index.append(i)
            rows.append(v.reshape(-1).to(torch.float64))
    if not rows:
        return None
    V = torch.stack(rows)  # every mutant's numbers on the first case, compared at once
    slack = rtol * (V.abs() + 0.01 * V.abs().amax(dim=1, keepdim=True)) + 1e-12
    finite = torch.isfinite(V).all(dim=1)
    reproduces = ((V - s).abs() <= slack).all(dim=1) & finite
    for row in torch.nonzero(reproduces).reshape(-1).tolist():
        mutant = table[index[row]]
        if _explains(mutant, pairs, rtol):
            return Finding(Diagnosis(mutant.id, mutant.message), mutant.name)
    return None


def _explains(mutant: Mutant, pairs: Sequence[tuple[Case, Tensor]], rtol: float) -> bool:
    distinct = False
    for case, expected in pairs:
        value = mutant.rule(case)
        if value is None or value.numel() != expected.numel() or not bool(torch.isfinite(value).all()):
            return False
        value = value.reshape(expected.shape)
        if not matches(case.submitted, value, rtol):
            return False
        distinct = distinct or not matches(value, expected, rtol)
    return distinct  # a mutant that equals the truth on every case explains nothing


# ---------------------------------------------------------------- the update


def _update(name: str, pairs: Sequence[tuple[Case, Tensor]], rtol: float) -> Finding | None:
    """The update as a step ``W_new − W``: proportional to the gradient with which factor?"""
    factors: list[float] = []
    lrs: list[float] = []
    for case, _expected in pairs:
        g = case.context.get("gradient")
        lr = float(case.context.get("lr", _DEFAULT_LR))
        if not isinstance(g, Tensor):
            return None
        step = case.submitted.reshape(-1)
        g = g.reshape(-1).to(torch.float64)
        # W_new − W carries the rounding of W_new: a few ulps of the weights, whatever the step
        eps = torch.finfo(getattr(torch, case.problem.dtype, torch.float32)).eps
        atol = 8 * eps * max(float(case.problem.W1.abs().max()), float(case.problem.W2.abs().max()), 1e-30)
        if float(step.abs().max()) <= 1e-12 and float(g.abs().max()) > 1e-9:
            return Finding(
                Diagnosis(
                    "no-update",
                    f"{name}: the weights do not change; the update step was not "
                    "applied (or its result was not stored).",
                )
            )
        gg = float(g @ g)
        if gg <= 0:
            return None
        c = -float(step @ g) / gg
        if not matches(step, -c * g, rtol, atol):
            return None
        factors.append(c)
        lrs.append(lr)
    if not factors:
        return None
    c, lr = factors[0], lrs[0]

    def same(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-3 * max(abs(a), abs(b))

    if all(same(f, r) for f, r in zip(factors, lrs)):
        return None
    if c < 0:
        size = "" if same(-c, lr) else f", and with a step size of {-c:.4g} instead of lr = {lr:g}"
        return Finding(
            Diagnosis(
                "update-sign",
                f"{name} moves the weights up the gradient{size}: gradient descent steps against the gradient.",
            )
        )
    if all(same(f, c) for f in factors) and any(not same(r, lr) for r in lrs):
        return Finding(
            Diagnosis(
                "learning-rate",
                f"{name} always steps with a learning rate of {c:.4g}, whatever lr it is given: use the lr argument.",
            )
        )
    if same(c, 1.0):
        text = f"does not multiply the gradient by the learning rate (lr = {lr:g})."
    elif same(c, 2 * lr):
        text = f"steps twice as far as lr = {lr:g}: is the update applied twice?"
    else:
        text = f"steps with a learning rate of {c:.4g}; the learning rate is {lr:g}."
    return Finding(Diagnosis("learning-rate", f"{name} {text}"))


# ---------------------------------------------------------------- general fallbacks


def _fallbacks(key: str, name: str, case: Case, expected: Tensor, rtol: float) -> Finding | None:
    s = case.submitted.reshape(expected.shape).to(torch.float64)
    t = expected.to(torch.float64)
    if s.numel() == 0:
        return None
    scale = float(t.abs().max())
    mask = t.abs() > 1e-6 * max(scale, 1e-300)
    if bool(mask.any()):
        ratio = torch.where(mask, s / torch.where(mask, t, torch.ones_like(t)), torch.full_like(t, math.nan))
        found = _ratio(key, name, case, s, t, ratio, mask, rtol)
        if found is not None:
            return found
    if matches(s, t, 1e-2):
        return Finding(
            Diagnosis(
                "imprecise",
                f"{name} is within 1% of the right values but not within the "
                "tolerance: rounded or copied numbers, or a low-precision dtype, are the usual cause.",
            )
        )
    if s.numel() > 1 and matches(torch.sort(s.reshape(-1)).values, torch.sort(t.reshape(-1)).values, rtol):
        return Finding(
            Diagnosis(
                "permuted",
                f"{name} holds the right numbers in the wrong places: check the order "
                "of the operands of each product and every transpose or reshape.",
            )
        )
    return None


def _constant(values: Tensor, rtol: float) -> float | None:
    v = values[~torch.isnan(values)]
    if v.numel() == 0:
        return None
    c = float(v.median())
    return c if bool(((v - c).abs() <= 2 * rtol * (abs(c) + 1e-12)).all()) else None


def _ratio(
    key: str, name: str, case: Case, s: Tensor, t: Tensor, ratio: Tensor, mask: Tensor, rtol: float
) -> Finding | None:
    """The submission / the truth: constant, or constant along each row or column (perhaps a named value)."""
    if bool((~mask).any()) and not bool((s[~mask].abs() <= 1e-6 * float(s.abs().max()) + 1e-12).all()):
        return None  # where the truth is zero the submission is not: no factor explains that
    c = _constant(ratio, rtol)
    if c is not None:
        if abs(c - 1) <= 1e-2:
            return None
        if abs(c + 1) <= 1e-2:
            return Finding(
                Diagnosis(
                    "sign-flip",
                    f"{name} has the opposite sign: check the sign of each factor "
                    "(start with the derivative of the error).",
                )
            )
        sign = "; it also has the opposite sign" if c < 0 else ""
        return Finding(
            Diagnosis(
                "constant-factor",
                f"{name} is off by a constant factor of about {abs(c):.4g}{sign}: "
                "look for a missing, extra or wrong constant.",
            )
        )
    if key not in GRADIENTS or s.dim() != 2:
        return None
    out = TRUE_CHAINS[key].out
    env = case.env()
    for axis in (0, 1):
        other = 1 - axis
        if ratio.shape[axis] < 2:
            continue
        per: list[float] = []
        for a in range(ratio.shape[axis]):
            value = _constant(ratio.select(axis, a), rtol)
            if value is None:
                break
            per.append(value)
        if len(per) != ratio.shape[axis]:
            continue
        vec = torch.tensor(per, dtype=torch.float64)
        index = out[axis]
        unit, where = AXES[index]
        line = "row" if axis == 0 else "column"
        for named, sig in SIGS.items():
            if sig != index:
                continue
            v = env[named]
            if matches(vec, v, rtol):
                return Finding(
                    Diagnosis(
                        "extra-factor",
                        f"every {line} of {name} (one per {unit}) is off by the "
                        f"factor {LABELS[named]}: the chain rule does not produce that factor here.",
                    )
                )
            if bool((v.abs() > 1e-9).all()) and matches(vec, 1 / v, rtol):
                return Finding(
                    Diagnosis(
                        "missing-factor",
                        f"every {line} of {name} (one per {unit}) is missing "
                        f"the factor {LABELS[named]}: look at {where}.",
                    )
                )
        if s.shape[other] > 1:
            return Finding(
                Diagnosis(
                    "wrong-factor",
                    f"every {line} of {name} is off by its own factor, which "
                    f"depends only on the {unit}: the mistake is in {where}.",
                )
            )
    return None


# ---------------------------------------------------------------- shapes
