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

import functools
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from harness.records.problem import Problem, Truth
from harness.records.result import Diagnosis
from harness.truth import truth_of

__all__ = [
    "IDS",
    "Case",
    "Chain",
    "Finding",
    "Mutant",
    "catalogue",
    "diagnose",
    "explain",
    "instance_diagnosis",
    "shape_diagnosis",
    "sizes_diagnosis",
]

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


# ---------------------------------------------------------------- evidence


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


def close(a: Tensor, b: Tensor, rtol: float, atol: float = 0.0) -> bool:
    """``a`` reproduces ``b``: entry-wise, relative to each entry and (a little) to the largest one."""
    if a.numel() != b.numel():
        return False
    a = a.reshape(b.shape).to(torch.float64)
    b = b.to(torch.float64)
    if not bool(torch.isfinite(a).all()) or not bool(torch.isfinite(b).all()):
        return False
    scale = float(b.abs().max()) if b.numel() else 0.0
    return bool(((a - b).abs() <= rtol * (b.abs() + 0.01 * scale) + atol + 1e-12).all())


# ---------------------------------------------------------------- named values


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


# ---------------------------------------------------------------- the backward as a chain of factors


@dataclass(frozen=True)
class Chain:
    """``const · einsum(factors → out)``, then an optional rearrangement of the result.

    ``factors`` are (chain-rule step, named value) pairs; ``collapsed`` names
    factors summed into one number (a broadcast where an outer product
    belongs); ``post`` is ``"T"`` (transposed) or ``"reshape"`` (a transposed
    matrix reshaped, not transposed, into the right shape).
    """

    const: float
    factors: tuple[tuple[str, str], ...]
    out: str
    collapsed: frozenset[str] = frozenset()
    post: str = ""

    def value(self, env: Mapping[str, Tensor]) -> Tensor | None:
        sizes = {"i": env["X"].shape[0], "j": env["H"].shape[0], "k": env["Y_cap"].shape[0]}
        scalar = torch.tensor(self.const, dtype=torch.float64)
        operands: list[Tensor] = []
        subs: list[str] = []
        for _step, name in self.factors:
            v = env[name]
            if name in self.collapsed:
                scalar = scalar * v.sum()
            else:
                operands.append(v)
                subs.append(SIGS[name])
        present = [c for c in self.out if any(c in s for s in subs)]
        if operands:
            result = torch.einsum(",".join(subs) + "->" + "".join(present), *operands) * scalar
        else:
            result = scalar
        shape = tuple(sizes[c] for c in self.out)
        result = result.reshape([sizes[c] if c in present else 1 for c in self.out]).expand(shape)
        if self.post == "T":
            if shape[0] != shape[1]:
                return None
            return result.T.contiguous()
        if self.post == "reshape":
            if shape[0] == shape[1] or 1 in shape:
                return None
            return result.T.contiguous().reshape(shape)
        return result.contiguous()


TRUE_CHAINS: dict[str, Chain] = {
    "dE_dW2": Chain(2.0, (("dE_dY_cap", "Y_cap-Y"), ("dY_cap_dO", "Y_cap(1-Y_cap)"), ("dO_dW2", "H")), "jk"),
    "dE_dW1": Chain(
        2.0,
        (
            ("dE_dY_cap", "Y_cap-Y"),
            ("dY_cap_dO", "Y_cap(1-Y_cap)"),
            ("dO_dH", "W2"),
            ("dH_dZ", "H(1-H)"),
            ("dZ_dW1", "X"),
        ),
        "ij",
    ),
}

# Named values a student plausibly multiplies in by mistake, or puts in place of the right one.
EXTRAS = ("X", "H", "1-H", "H(1-H)", "Z", "Y_cap", "1-Y_cap", "Y_cap(1-Y_cap)", "O", "W2", "Y_cap-Y", "W1")


# ---------------------------------------------------------------- mutants


Rule = Callable[[Case], "Tensor | None"]


@dataclass(frozen=True)
class Mutant:
    """One plausible wrong derivation: evaluated on a case, it gives the numbers that mistake produces."""

    id: str
    message: str
    rule: Rule
    cost: float
    name: str  # a short, stable description for benches and tests (e.g. "drop dH_dZ")


@dataclass(frozen=True)
class Edit:
    """One change to a chain, with what it tells the student."""

    id: str
    name: str
    text: str  # a clause: "leaves out dH_dZ (...)"
    cost: float
    apply: Callable[[Chain], Chain | None]
    step: str = ""  # the chain-rule step it changes ("" for the whole chain)
    brief: str = ""  # the clause without its explanation, for the first of two edits

    def clause(self, first: bool) -> str:
        return self.brief if first and self.brief else self.text


def _chain_rule(chain: Chain) -> Rule:
    def rule(case: Case) -> Tensor | None:
        return chain.value(case.env())

    return rule


def _edits(key: str) -> list[Edit]:
    """Every single edit of ``key``'s true chain."""
    truth = TRUE_CHAINS[key]
    edits: list[Edit] = []
    indices = set("".join(SIGS[n] for _, n in truth.factors))

    def replaced(step: str, new: str) -> Callable[[Chain], Chain | None]:
        def apply(c: Chain) -> Chain | None:
            if step not in dict(c.factors):
                return None
            return Chain(c.const, tuple((s, new if s == step else n) for s, n in c.factors), c.out, c.collapsed, c.post)

        return apply

    def dropped(step: str) -> Callable[[Chain], Chain | None]:
        def apply(c: Chain) -> Chain | None:
            if step not in dict(c.factors) or len(c.factors) < 2:
                return None
            return Chain(c.const, tuple(f for f in c.factors if f[0] != step), c.out, c.collapsed, c.post)

        return apply

    def added(name: str) -> Callable[[Chain], Chain | None]:
        def apply(c: Chain) -> Chain | None:
            return Chain(c.const, c.factors + (("extra", name),), c.out, c.collapsed, c.post)

        return apply

    def collapsed(name: str) -> Callable[[Chain], Chain | None]:
        def apply(c: Chain) -> Chain | None:
            return Chain(c.const, c.factors, c.out, c.collapsed | {name}, c.post)

        return apply

    def scaled(by: float) -> Callable[[Chain], Chain | None]:
        def apply(c: Chain) -> Chain | None:
            return Chain(c.const * by, c.factors, c.out, c.collapsed, c.post)

        return apply

    def posted(post: str) -> Callable[[Chain], Chain | None]:
        def apply(c: Chain) -> Chain | None:
            return Chain(c.const, c.factors, c.out, c.collapsed, post)

        return apply

    edits.append(
        Edit(
            "sign-flip",
            "negate",
            "has the opposite sign (check the sign of each factor of the chain "
            "rule, starting with the derivative of (Y − Y_cap)²)",
            1.0,
            scaled(-1.0),
            brief="has the opposite sign",
        )
    )
    edits.append(
        Edit(
            "missing-factor",
            "drop 2",
            "is half the right size: a constant factor of dE_dY_cap is missing (differentiate the square once more)",
            1.0,
            scaled(0.5),
        )
    )
    edits.append(
        Edit(
            "constant-factor",
            "times 2",
            "is twice the right size: check the constant factor in dE_dY_cap",
            1.0,
            scaled(2.0),
        )
    )
    for step, name in truth.factors:
        if step in SIGMOID_STEPS:
            edits.append(
                Edit(
                    "missing-activation-derivative",
                    f"drop {step}",
                    f"leaves out {STEPS[step]}: every sigmoid the chain rule passes through contributes its derivative",
                    1.0,
                    dropped(step),
                    step,
                    brief=f"leaves out {STEPS[step]}",
                )
            )
            pre, pre_name, _parts = SIGMOID_STEPS[step]
            edits.append(
                Edit(
                    "derivative-on-preactivation",
                    f"{step} on {pre_name}",
                    f"evaluates {step} on {pre_name}, the value before the sigmoid; written in terms of "
                    "the sigmoid, its derivative takes the sigmoid's output",
                    1.0,
                    replaced(step, pre),
                    step,
                    brief=f"evaluates {step} on {pre_name}",
                )
            )
        else:
            edits.append(
                Edit(
                    "missing-factor",
                    f"drop {step}",
                    f"leaves out the chain-rule factor {STEPS[step]}",
                    1.0,
                    dropped(step),
                    step,
                )
            )
        for other in SIGS:
            if (
                other == name
                or SIGS[other] != SIGS[name]
                or (step in SIGMOID_STEPS and other == SIGMOID_STEPS[step][0])
            ):
                continue  # the pre-activation derivative is its own edit above
            if other == "Y" and step != "dE_dY_cap":
                continue
            if step in SIGMOID_STEPS and other in SIGMOID_STEPS[step][2]:
                edits.append(
                    Edit(
                        "missing-factor",
                        f"{step} uses {other}",
                        f"keeps only part of {STEPS[step]}",
                        1.2,
                        replaced(step, other),
                        step,
                    )
                )
            else:
                edits.append(
                    Edit(
                        "wrong-operand",
                        f"{step} uses {other}",
                        f"uses {LABELS[other]} in {step} where another value belongs",
                        1.2,
                        replaced(step, other),
                        step,
                    )
                )
        if any(c in truth.out for c in SIGS[name]) and name not in ("Y_cap-Y",):
            unit = AXES[next(c for c in SIGS[name] if c in truth.out)][0]
            edits.append(
                Edit(
                    "wrong-shape",
                    f"sum {step}",
                    f"sums {step} into one number that is broadcast; it "
                    f"needs one value per {unit}: check the shapes in that product",
                    1.5,
                    collapsed(name),
                    step,
                )
            )
    for name in EXTRAS:
        if set(SIGS[name]) <= indices:
            edits.append(
                Edit(
                    "extra-factor",
                    f"extra {name}",
                    f"has an extra factor {LABELS[name]} that the chain rule does not produce",
                    1.5,
                    added(name),
                )
            )
    edits.append(
        Edit(
            "transposed",
            "transpose",
            "is transposed: entry [a, b] holds the value of [b, a]; it must be "
            "laid out like the weights it differentiates",
            1.0,
            posted("T"),
        )
    )
    edits.append(
        Edit(
            "permuted",
            "reshape",
            "has the right numbers in the wrong places: a matrix in the transposed "
            "shape was reshaped (.reshape/.view) instead of transposed (.T)",
            1.2,
            posted("reshape"),
        )
    )
    return edits


def _lr_edit() -> Edit:
    def apply(c: Chain) -> Chain | None:
        return c  # scaled by lr in the rule (lr is a property of the case)

    return Edit(
        "constant-factor",
        "times lr",
        "is already multiplied by the learning rate: lr belongs in the update, not in the gradient",
        1.1,
        apply,
    )


@functools.cache
def catalogue(key: str) -> tuple[Mutant, ...]:
    """Every mutant the engine tries for ``key``, cheapest (most plausible) first.

    Mutants that are algebraically the same mistake (equal on generic probe
    inputs, e.g. an extra factor 1 − H and dO_dW2 = H·(1 − H)) are kept once,
    in their cheapest form; so are mutants that equal the truth.
    """
    if key in GRADIENTS:
        mutants = _gradient_catalogue(key)
    elif key in FORWARD_KEYS:
        mutants = _forward_catalogue(key)
    elif key == "E":
        mutants = _loss_catalogue()
    elif key == "sigmoid":
        mutants = _sigmoid_catalogue()
    elif key == "sigmoid_grad":
        mutants = _sigmoid_grad_catalogue()
    else:
        return ()
    return _distinct(key, mutants)


def probe_cases(
    sizes: Sequence[tuple[int, int, int]] = ((3, 4, 3), (4, 3, 1), (2, 5, 4)), seed: int = 20240611
) -> list[Case]:
    """Generic inputs (no symmetric or special values) on which mutants are told apart."""
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for n_in, n_h, n_out in sizes:

        def draw(*shape: int, low: float = -1.0, high: float = 1.0) -> Tensor:
            return low + (high - low) * torch.rand(*shape, generator=gen, dtype=torch.float64)

        p = Problem(
            X=draw(n_in, 1, low=0.1), Y=draw(1, n_out, low=0.1, high=0.9), W1=draw(n_in, n_h), W2=draw(n_h, n_out)
        )
        t = truth_of(p)
        context = {
            "lr": 0.1,
            "own_y_cap": draw(1, n_out, low=0.1, high=0.9),
            "z": draw(n_h, 1, low=-3, high=3),
            "h": draw(n_h, 1, low=0.1, high=0.9),
            "gradient": draw(n_in, n_h),
        }
        cases.append(Case(t.grads.dE_dW1, p, t, context))
    return cases


def _signature(values: Sequence[Tensor | None]) -> tuple[Any, ...]:
    """Values on the probe cases, rounded to 6 significant digits: equal signatures, the same mistake."""
    parts: list[Any] = []
    for v in values:
        if v is None:
            parts.append(None)
            continue
        flat = v.reshape(-1).to(torch.float64)
        parts.append(tuple(float(f"{x:.6g}") + 0.0 for x in flat.tolist()))
    return tuple(parts)


def _distinct(key: str, mutants: Sequence[Mutant]) -> tuple[Mutant, ...]:
    cases = probe_cases()
    truths = _signature([expected_of(key, c) for c in cases])
    seen: set[tuple[Any, ...]] = set()
    kept: list[Mutant] = []
    for m in sorted(mutants, key=lambda m: m.cost):
        values = [m.rule(c) for c in cases]
        if all(v is None for v in values):
            kept.append(m)  # applies only to other shapes (transposed: square matrices)
            continue
        signature = _signature(values)
        if all(v is None or s == t for v, s, t in zip(values, signature, truths)) or signature in seen:
            continue
        seen.add(signature)
        kept.append(m)
    return tuple(kept)


def _gradient_catalogue(key: str) -> tuple[Mutant, ...]:
    truth = TRUE_CHAINS[key]
    singles = _edits(key)
    mutants: list[Mutant] = []

    def sentence(*edits: Edit) -> str:
        last = len(edits) - 1
        return f"{key} " + "; it also ".join(e.clause(i < last) for i, e in enumerate(edits)) + "."

    for e in singles:
        chain = e.apply(truth)
        if chain is not None:
            mutants.append(Mutant(e.id, sentence(e), _chain_rule(chain), e.cost, e.name))
    lr = _lr_edit()

    def lr_rule(case: Case) -> Tensor | None:
        value = truth.value(case.env())
        return None if value is None else value * float(case.context.get("lr", _DEFAULT_LR))

    mutants.append(Mutant(lr.id, sentence(lr), lr_rule, lr.cost, lr.name))
    # Pairs a student plausibly makes together: a constant or sign on top of a structural edit,
    # two dropped factors, both sigmoid derivatives on pre-activations.
    constants = [e for e in singles if e.name in ("negate", "drop 2", "times 2")]
    structural = [e for e in singles if e not in constants]
    for c, s in itertools.product(constants, structural):
        first = c.apply(truth)
        chain = s.apply(first) if first is not None else None
        if chain is not None:
            mutants.append(Mutant(s.id, sentence(s, c), _chain_rule(chain), c.cost + s.cost, f"{s.name} + {c.name}"))
    for a, b in itertools.combinations(constants, 2):
        if {a.name, b.name} == {"negate", "drop 2"} or {a.name, b.name} == {"negate", "times 2"}:
            first = a.apply(truth)
            chain = b.apply(first) if first is not None else None
            if chain is not None:
                mutants.append(
                    Mutant("constant-factor", sentence(a, b), _chain_rule(chain), 2.0, f"{a.name} + {b.name}")
                )
    paired = [e for e in structural if e.name.startswith("drop ") or e.id == "derivative-on-preactivation"]
    for a, b in itertools.combinations(paired, 2):
        if a.step == b.step:
            continue
        first = a.apply(truth)
        chain = b.apply(first) if first is not None else None
        if chain is not None:
            edit_id = a.id if a.id == b.id else (b.id if a.id == "missing-factor" else a.id)
            mutants.append(Mutant(edit_id, sentence(a, b), _chain_rule(chain), a.cost + b.cost, f"{a.name} + {b.name}"))
    return tuple(sorted(mutants, key=lambda m: m.cost))


# ---------------------------------------------------------------- forward mutants


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "identity": lambda z: z,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid(-z)": lambda z: torch.sigmoid(-z),
}


@dataclass(frozen=True)
class ForwardModel:
    """A forward pass: the activation of each layer and what O is computed from."""

    hidden: str = "sigmoid"
    source: str = "H"  # "H" | "Z"
    output: str = "sigmoid"

    def run(self, X: Tensor, W1: Tensor, W2: Tensor) -> dict[str, Tensor]:
        Z = W1.T @ X
        H = ACTIVATIONS[self.hidden](Z)
        O = (H if self.source == "H" else Z).T @ W2
        return {"Z": Z, "H": H, "O": O, "Y_cap": ACTIVATIONS[self.output](O)}

    @property
    def deviations(self) -> int:
        return (self.hidden != "sigmoid") + (self.source != "H") + (self.output != "sigmoid")


def _activation_clause(layer: str, act: str) -> tuple[str, str]:
    where = "the hidden layer (H)" if layer == "hidden" else "the output layer (Y_cap)"
    if act == "identity":
        return "missing-activation", f"{where} leaves out its sigmoid"
    if act == "sigmoid(-z)":
        return "sign-flip", f"the sigmoid of {where} has the wrong sign inside the exponential"
    return "wrong-activation", f"{where} uses {act} where the network has a sigmoid"


def _forward_models() -> list[ForwardModel]:
    """Every forward pass one or two edits away from the network; a missing sigmoid reads before an operand swap."""
    models = [
        ForwardModel(h, s, o)
        for h in ACTIVATIONS
        for s in ("H", "Z")
        for o in ACTIVATIONS
        if ForwardModel(h, s, o).deviations in (1, 2)
    ]
    return sorted(models, key=lambda m: (m.deviations, m.source != "H"))


def _forward_describe(m: ForwardModel) -> tuple[str, str]:
    clauses: list[tuple[str, str]] = []
    if m.hidden != "sigmoid":
        clauses.append(_activation_clause("hidden", m.hidden))
    if m.source != "H":
        clauses.append(
            (
                "wrong-operand",
                "O is computed from Z, the hidden layer before its sigmoid, instead of the hidden layer's output",
            )
        )
    if m.output != "sigmoid":
        clauses.append(_activation_clause("output", m.output))
    return clauses[0][0], "; and ".join(c[1] for c in clauses)


def _forward_catalogue(key: str) -> tuple[Mutant, ...]:
    """Forward models that differ from the network where ``key`` can see it."""
    if key == "H":
        models = [ForwardModel(hidden=h) for h in ACTIVATIONS if h != "sigmoid"]
    elif key == "O":
        models = sorted(
            (ForwardModel(h, s) for h in ACTIVATIONS for s in ("H", "Z") if ForwardModel(h, s).deviations in (1, 2)),
            key=lambda m: (m.deviations, m.source != "H"),
        )
    elif key == "Y_cap":
        models = _forward_models()
    else:
        models = []
    mutants: list[Mutant] = []
    for m in models:
        edit_id, text = _forward_describe(m)

        def rule(case: Case, m: ForwardModel = m) -> Tensor | None:
            p = case.problem
            return m.run(p.X, p.W1, p.W2)[key]

        mutants.append(
            Mutant(
                edit_id,
                f"The forward pass is wrong at {key}: {text}.",
                rule,
                float(m.deviations),
                f"forward {m.hidden}/{m.source}/{m.output}",
            )
        )
    return tuple(sorted(mutants, key=lambda m: m.cost))


# ---------------------------------------------------------------- loss mutants


LOSSES: dict[str, tuple[str, str, Callable[[Tensor, Tensor], Tensor]]] = {
    "squared": ("", "", lambda y, yc: ((y - yc) ** 2).sum()),
    "absolute": (
        "loss-formula",
        "E uses the absolute difference; this assignment's error is the square of the difference",
        lambda y, yc: (y - yc).abs().sum(),
    ),
    "no square": ("loss-formula", "E is missing the square of the difference", lambda y, yc: (y - yc).sum()),
    "no square, reversed": ("loss-formula", "E is missing the square of the difference", lambda y, yc: (yc - y).sum()),
    "half": (
        "loss-formula",
        "E has an extra factor ½ (a convention of some textbooks); this assignment's E has none",
        lambda y, yc: 0.5 * ((y - yc) ** 2).sum(),
    ),
    "double": ("loss-formula", "E is twice the squared error", lambda y, yc: 2 * ((y - yc) ** 2).sum()),
    "mean": (
        "loss-formula",
        "E averages the squared error over the outputs; this assignment adds them up",
        lambda y, yc: ((y - yc) ** 2).mean(),
    ),
    "root": (
        "loss-formula",
        "E is the square root of the squared error; leave out the root",
        lambda y, yc: ((y - yc) ** 2).sum().sqrt(),
    ),
    "cross-entropy": (
        "loss-formula",
        "E is the cross-entropy; this assignment uses the squared error",
        lambda y, yc: -(y * yc.clamp(1e-12, 1).log() + (1 - y) * (1 - yc).clamp(1e-12, 1).log()).sum(),
    ),
    "negated": (
        "sign-flip",
        "E has the opposite sign: an error is never negative",
        lambda y, yc: -((y - yc) ** 2).sum(),
    ),
}


def _loss_catalogue() -> tuple[Mutant, ...]:
    mutants: list[Mutant] = []
    for name, (edit_id, text, fn) in LOSSES.items():
        if not edit_id:
            continue

        def rule(case: Case, fn: Callable[[Tensor, Tensor], Tensor] = fn) -> Tensor | None:
            yc = case.context.get("own_y_cap")
            y_cap = yc if isinstance(yc, Tensor) else case.truth.forward.Y_cap
            return fn(case.problem.Y, y_cap)

        mutants.append(Mutant(edit_id, text + ".", rule, 1.0, f"loss {name}"))

    def on_o(case: Case) -> Tensor | None:
        return ((case.problem.Y - case.truth.forward.O) ** 2).sum()

    mutants.append(
        Mutant(
            "wrong-operand",
            "E is computed from O, the output before its sigmoid; the error compares Y with the prediction Y_cap.",
            on_o,
            1.2,
            "loss on O",
        )
    )
    return tuple(mutants)


# ---------------------------------------------------------------- helper mutants


def _helper_catalogue(
    name: str, arg: str, table: Sequence[tuple[str, str, str, Callable[[Tensor], Tensor]]]
) -> tuple[Mutant, ...]:
    mutants = []
    for edit_id, label, text, fn in table:

        def rule(case: Case, fn: Callable[[Tensor], Tensor] = fn) -> Tensor | None:
            x = case.context.get(arg)
            return fn(x) if isinstance(x, Tensor) else None

        mutants.append(Mutant(edit_id, f"{name}() {text}.", rule, 1.0, f"{name} {label}"))
    return tuple(mutants)


def _sigmoid_catalogue() -> tuple[Mutant, ...]:
    return _helper_catalogue(
        "sigmoid",
        "z",
        [
            ("sign-flip", "σ(−z)", "has the wrong sign inside the exponential", lambda z: torch.sigmoid(-z)),
            ("sign-flip", "1/(1−e^−z)", "has a wrong sign in the denominator", lambda z: 1 / (1 - torch.exp(-z))),
            ("wrong-activation", "tanh", "computes tanh, not the sigmoid", torch.tanh),
            ("missing-activation", "identity", "returns its input unchanged", lambda z: z),
            (
                "wrong-activation",
                "derivative",
                "returns the sigmoid's derivative, not the sigmoid",
                lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
            ),
        ],
    )


def _sigmoid_grad_catalogue() -> tuple[Mutant, ...]:
    return _helper_catalogue(
        "sigmoid_grad",
        "h",
        [
            (
                "wrong-operand",
                "σ(h)(1−σ(h))",
                "applies the sigmoid to h again: h is already the sigmoid's output",
                lambda h: torch.sigmoid(h) * (1 - torch.sigmoid(h)),
            ),
            ("sign-flip", "negated", "has the opposite sign", lambda h: -h * (1 - h)),
            ("missing-factor", "h", "keeps only part of the derivative", lambda h: h),
            ("missing-factor", "1−h", "keeps only part of the derivative", lambda h: 1 - h),
            ("constant-factor", "twice", "is twice the right size", lambda h: 2 * h * (1 - h)),
        ],
    )


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
        and close(primary.submitted, first, rtol * 1e-2)
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


def label(key: str, fn: str | None = None) -> str:
    """How a message names the value: ``dE_dW1``, ``The update``, ``dE_dW1 from backward()``, ``loss()``."""
    if fn:
        return f"{key} from {fn}()" if key in GRADIENTS else f"{fn}()"
    return {"update": "The update", "sigmoid": "sigmoid()", "sigmoid_grad": "sigmoid_grad()"}.get(key, key)


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


def instance_diagnosis(fn: str) -> Diagnosis:
    """A function right on the notebook's own inputs and wrong on generic others."""
    return Diagnosis(
        "instance-only",
        f"{fn}() is right on your notebook's own X, W1, W2 but wrong on other "
        "inputs: it must compute everything from its arguments, not from global variables, cached "
        "results or hard-coded numbers.",
    )


def _instance_only(key: str, name: str, cases: list[Case], context: Mapping[str, Any], rtol: float) -> Finding | None:
    """``instance``: (its value, the right value) on the submission's own inputs, given only when it also
    failed on generic inputs (a mistake that shows at special inputs only is no sign of cached values)."""
    instance = context.get("instance")
    if not (isinstance(instance, tuple) and len(instance) == 2):
        return None
    own, expected = instance
    if isinstance(own, Tensor) and isinstance(expected, Tensor) and close(own, expected, rtol):
        return Finding(instance_diagnosis(str(context.get("fn") or key)))
    return None


def sizes_diagnosis(fn: str, good: str, bad: str) -> Diagnosis:
    """A function right at the assignment's sizes, wrong (or raising) at others the assignment allows."""
    return Diagnosis(
        "fixed-sizes",
        f"{fn}() is right for a {good} network but not for a {bad} one: this "
        "assignment asks for any sizes; take the sizes from the arguments' shapes instead of "
        "fixed numbers.",
    )


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
        if close(case.submitted, g, tol) and not close(g, right, tol):
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
        if chained is not None and close(case.submitted, chained, rtol) and not close(chained, right, rtol):
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
        if not all(close(values[k], run[k], 1e-3) for k in FORWARD_KEYS if k in values):
            continue
        y_cap = run["Y_cap"]
        for loss_name, (_, _, fn) in LOSSES.items():
            if "E" in values and not close(values["E"], fn(p.Y, y_cap), 1e-3):
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
        if not close(case.submitted, value, rtol):
            return False
        distinct = distinct or not close(value, expected, rtol)
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
        if not close(step, -c * g, rtol, atol):
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
    if close(s, t, 1e-2):
        return Finding(
            Diagnosis(
                "imprecise",
                f"{name} is within 1% of the right values but not within the "
                "tolerance: rounded or copied numbers, or a low-precision dtype, are the usual cause.",
            )
        )
    if s.numel() > 1 and close(torch.sort(s.reshape(-1)).values, torch.sort(t.reshape(-1)).values, rtol):
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
            if close(vec, v, rtol):
                return Finding(
                    Diagnosis(
                        "extra-factor",
                        f"every {line} of {name} (one per {unit}) is off by the "
                        f"factor {LABELS[named]}: the chain rule does not produce that factor here.",
                    )
                )
            if bool((v.abs() > 1e-9).all()) and close(vec, 1 / v, rtol):
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


def shape_diagnosis(key: str, got: Sequence[int], want: Sequence[int], fn: str | None = None) -> Diagnosis:
    """A value of the wrong shape (that no reshape or transpose can fit)."""
    name = f"{fn}()'s {key}" if fn else key
    got_t, want_t = tuple(got), tuple(want)
    if math.prod(got_t) < math.prod(want_t):
        hint = "a sum, a dot product or a product with the wrong shapes collapsed it"
    elif math.prod(got_t) > math.prod(want_t):
        hint = "a broadcast made it larger: an operand has the wrong orientation (a row where a column belongs)"
    else:
        hint = "check which operand is transposed"
    if key in GRADIENTS:
        what = f"the shape of {'W1' if key == 'dE_dW1' else 'W2'} {want_t}"
    elif key.endswith("_new"):
        what = f"the shape of {key[:-4]} {want_t}"
    elif key == "E":
        what = "a single number"
    else:
        what = f"the shape {want_t}"
    return Diagnosis("wrong-shape", f"{name} has shape {got_t}; it needs {what}: {hint}.")
