"""The catalogue of plausible wrong derivations (*mutants*), per checked value.

The gradient mutants are generated from the backward pass written as a chain of named factors
(drop, replace, add, sum, change the constant, transpose or reshape, and plausible pairs); forward,
loss, update and helper mutants from small tables.  A new mutation rule is one more edit here, with a
planted-bug test in ``tests/test_diagnose.py``."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from harness.diagnose.evidence import (
    _DEFAULT_LR,
    AXES,
    FORWARD_KEYS,
    GRADIENTS,
    LABELS,
    SIGMOID_STEPS,
    SIGS,
    STEPS,
    Case,
    expected_of,
)
from harness.records.problem import Problem
from harness.truth import truth_of


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


# The steps whose factor is an operand of a product (a weight, an input, a hidden value), and the values
# of another shape a student puts there, where broadcasting makes the product fit anyway
# (``dO_dH = W1.t()``: (3,1) * (3,4)).
OPERAND_STEPS = ("dO_dH", "dO_dW2", "dZ_dW1")
BROADCAST_OPERANDS = ("W1", "W2", "X", "H", "W1_new", "W2_new")

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
        if step in OPERAND_STEPS:  # a weight or input of another shape that only fits by broadcasting
            for other in BROADCAST_OPERANDS:
                if other != name and SIGS[other] != SIGS[name] and set(SIGS[other]) <= indices:
                    edits.append(
                        Edit(
                            "wrong-operand",
                            f"{step} uses {other} (broadcast)",
                            f"uses {LABELS[other]} in {step} where another value belongs (it fits only by "
                            "broadcasting, which hides the shape mismatch)",
                            1.3,
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
