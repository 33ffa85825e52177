"""Stage 3, check: compare what a submission produced with the truth, in float64.

The truth is recomputed here, never taken from the submission: by autograd
through the reference forward pass, confirmed by finite differences
(:mod:`harness.gradients`).  Script style reads the history of the contract's
names; function style calls the submission's functions on generated inputs.
A wrong answer is a :class:`CheckResult`; only misuse of this module raises.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch
from torch import Tensor

import reference
from harness.assignment import Assignment, Tolerance
from harness.run import Binding, CallResult, Outcome, Session, Value, encode_argument

Status = Literal["pass", "fail", "missing", "error"]
GRADIENTS = ("dE_dW1", "dE_dW2")


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Diagnosis:
    """The mistake a failing check most likely comes from, in one sentence for the student."""

    id: str
    message: str


@dataclass(frozen=True)
class Entry:
    """One entry of a compared value."""

    index: tuple[int, ...]
    submitted: float
    expected: float
    abs_error: float
    rel_error: float


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    score: float
    max_score: float
    message: str
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    diagnosis: Diagnosis | None = None
    worst: tuple[Entry, ...] = ()
    notes: tuple[str, ...] = ()
    tolerance: str = ""
    counterexample: dict[str, Any] | None = None
    errors: tuple[tuple[float, ...], ...] | None = None  # per-entry abs error (2-D), for heat maps


@dataclass(frozen=True)
class Comparison:
    ok: bool
    max_abs: float
    max_rel: float
    worst: tuple[Entry, ...]
    errors: Tensor


def compare(submitted: Tensor, expected: Tensor, tol: Tolerance, keep: int = 3) -> Comparison:
    """Entry-wise ``|s − e| ≤ atol + rtol·|e|``; non-finite submitted entries never pass."""
    s = submitted.to(torch.float64).reshape(expected.shape)
    e = expected.to(torch.float64)
    diff = (s - e).abs()
    diff = torch.where(torch.isfinite(s), diff, torch.full_like(diff, math.inf))
    rel = diff / e.abs().clamp_min(1e-12)
    ok = bool((diff <= tol.atol + tol.rtol * e.abs()).all()) and bool(torch.isfinite(s).all())
    order = torch.argsort(diff.reshape(-1), descending=True)[:keep]
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


# ---------------------------------------------------------------- the problem and its truth


@dataclass(frozen=True)
class Problem:
    """The submission's own inputs in canonical orientation, float64."""

    X: Tensor  # (n_in, 1)
    Y: Tensor  # (1, n_out)
    W1: Tensor  # (n_in, n_hidden)
    W2: Tensor  # (n_hidden, n_out)
    dtype: str = "float32"
    notes: tuple[str, ...] = ()

    @property
    def sizes(self) -> tuple[int, int, int]:
        return (self.X.shape[0], self.W1.shape[1], self.W2.shape[1])


@dataclass(frozen=True)
class Truth:
    forward: reference.Forward
    grads: reference.Gradients


def truth_of(p: Problem) -> Truth:
    """The reference forward pass and autograd's gradients, float64."""
    fwd = reference.forward(p.X, p.Y, p.W1, p.W2)
    grads = reference.autograd_backward(p.X, p.Y, p.W1, p.W2)
    return Truth(forward=fwd, grads=grads)


def confirm_by_finite_differences(p: Problem, truth: Truth) -> bool:
    """Autograd's gradients agree with central finite differences (the grader checks itself)."""
    from harness.gradients import check_gradients

    def loss(W1: Tensor, W2: Tensor) -> Tensor:
        return reference.forward(p.X, p.Y, W1, W2).E

    result = check_gradients(
        loss,
        (p.W1.clone().requires_grad_(True), p.W2.clone().requires_grad_(True)),
        lambda W1, W2: (truth.grads.dE_dW1, truth.grads.dE_dW2),
        mode="directions",
    )
    return bool(result.ok)


NON_FINITE = "holds NaN or infinite values"


def problem_from(values: dict[str, Value | None]) -> tuple[Problem | None, str]:
    """Canonical X, Y, W1, W2 from a submission's values, or why they cannot be read."""
    tensors: dict[str, Tensor] = {}
    for key in ("X", "W1", "W2"):
        value = values.get(key)
        if value is None:
            return None, f"it never defined {key}"
        if value.tensor is None:
            return None, f"{key} is not an array of numbers ({value.kind} {value.description})".strip()
        if not bool(torch.isfinite(value.tensor).all()):
            return None, f"{key} {NON_FINITE}"
        tensors[key] = value.tensor
    X = tensors["X"].reshape(-1, 1)
    W1, W2 = tensors["W1"], tensors["W2"]
    notes: list[str] = []
    n_in = X.shape[0]
    if W1.dim() != 2 or W2.dim() not in (1, 2):
        return None, f"W1 {tuple(W1.shape)} and W2 {tuple(W2.shape)} are not matrices"
    if W1.shape[0] != n_in and W1.shape[1] == n_in:
        W1 = W1.T
        notes.append(f"W1 is stored as (n_hidden, n_in) = {tuple(tensors['W1'].shape)}; read as its transpose")
    if W1.shape[0] != n_in:
        return None, f"the shapes of X {tuple(tensors['X'].shape)} and W1 {tuple(W1.shape)} do not fit"
    n_hidden = W1.shape[1]
    if W2.dim() == 1:
        W2 = W2.reshape(-1, 1)
    if W2.shape[0] != n_hidden and W2.shape[1] == n_hidden:
        W2 = W2.T
    if W2.shape[0] != n_hidden:
        return None, f"the shapes of W1 {tuple(W1.shape)} and W2 {tuple(W2.shape)} do not fit"
    n_out = W2.shape[1]
    y = values.get("Y")
    if y is None or y.tensor is None:
        Y = torch.zeros(1, n_out, dtype=torch.float64)
        notes.append("Y is not defined; the target 0 of the notebook is used")
    elif not bool(torch.isfinite(y.tensor).all()):
        return None, f"Y {NON_FINITE}"
    elif y.tensor.numel() == n_out:
        Y = y.tensor.reshape(1, n_out)
    elif y.tensor.numel() == 1:
        Y = y.tensor.reshape(1, 1).expand(1, n_out).clone()
    else:
        return None, f"Y has {y.tensor.numel()} entries for {n_out} outputs"
    w1 = values["W1"]
    dtype = (w1.dtype if w1 is not None else None) or "float32"
    return Problem(X=X, Y=Y, W1=W1, W2=W2, dtype=dtype, notes=tuple(notes)), ""


# ---------------------------------------------------------------- results


def _result(name: str, status: Status, assignment: Assignment, message: str, **kw: Any) -> CheckResult:
    max_score = assignment.max_points(name)
    return CheckResult(
        name=name,
        status=status,
        score=max_score if status == "pass" else 0.0,
        max_score=max_score,
        message=message,
        **kw,
    )


def _judged(
    name: str,
    assignment: Assignment,
    submitted: Tensor,
    expected: Tensor,
    tol: Tolerance,
    what: str,
    notes: Sequence[str] = (),
    diagnosis: Diagnosis | None = None,
    counterexample: dict[str, Any] | None = None,
) -> CheckResult:
    cmp = compare(submitted, expected, tol)
    errors = (
        tuple(tuple(float(v) for v in row) for row in cmp.errors.reshape(cmp.errors.shape[0], -1).tolist())
        if cmp.errors.dim()
        else None
    )
    if cmp.ok:
        return _result(
            name,
            "pass",
            assignment,
            f"{what} is correct.",
            max_abs_error=cmp.max_abs,
            max_rel_error=cmp.max_rel,
            notes=tuple(notes),
            tolerance=str(tol),
        )
    worst = cmp.worst[0]
    where = f" at {list(worst.index)}" if worst.index else ""
    message = (
        f"{what} is wrong: the largest error is {worst.abs_error:.3g}{where} "
        f"(yours {worst.submitted:.6g}, expected {worst.expected:.6g})."
    )
    return _result(
        name,
        "fail",
        assignment,
        message,
        max_abs_error=cmp.max_abs,
        max_rel_error=cmp.max_rel,
        worst=cmp.worst,
        notes=tuple(notes),
        tolerance=str(tol),
        diagnosis=diagnosis,
        counterexample=counterexample,
        errors=errors,
    )


def close(submitted: Tensor, expected: Tensor, tol: Tolerance) -> bool:
    fitted, _ = fit(submitted, expected)
    return fitted is not None and compare(fitted, expected, tol).ok


# ---------------------------------------------------------------- script style


class History:
    """The values a script-style submission bound, statement by statement, by contract key."""

    def __init__(self, outcome: Outcome, assignment: Assignment) -> None:
        self.assignment = assignment
        self.by_key: dict[str, list[Binding]] = {}
        for binding in outcome.history:
            for key in (
                "X",
                "Y",
                "W1",
                "W2",
                "Z",
                "H",
                "O",
                "Y_cap",
                "E",
                "dE_dW2",
                "dE_dW1",
                "W1_new",
                "W2_new",
                "lr",
            ):
                if binding.name in assignment.aliases(key):
                    self.by_key.setdefault(key, []).append(binding)

    def numeric(self, key: str) -> list[Binding]:
        return [b for b in self.by_key.get(key, []) if b.value.tensor is not None]

    def first(self, key: str) -> Value | None:
        found = self.numeric(key)
        return found[0].value if found else self.any(key)

    def last(self, key: str) -> Value | None:
        bindings = self.by_key.get(key, [])
        if not bindings or bindings[-1].value.kind == "unbound":
            return None
        return bindings[-1].value

    def any(self, key: str) -> Value | None:
        bindings = [b for b in self.by_key.get(key, []) if b.value.kind != "unbound"]
        return bindings[0].value if bindings else None

    def first_change(self, key: str) -> Value | None:
        """The first value of ``key`` that differs from its first one: one update of the
        weights, also when a training loop updated them many times."""
        found = self.numeric(key)
        for binding in found[1:]:
            first, later = found[0].value.tensor, binding.value.tensor
            assert first is not None and later is not None
            if first.shape != later.shape or not torch.equal(first, later):
                return binding.value
        return None

    def at(self, key: str, statement: int) -> Value | None:
        """The value ``key`` held just after ``statement``."""
        current: Value | None = None
        for b in self.by_key.get(key, []):
            if b.statement > statement:
                break
            current = b.value
        return current


def check_script(outcome: Outcome, assignment: Assignment) -> list[CheckResult]:
    """Judge a script-style submission from the history of its globals."""
    history = History(outcome, assignment)
    values = {key: history.first(key) for key in ("X", "Y", "W1", "W2")}
    problem, why = problem_from(values)
    stop = f" ({outcome.error})" if outcome.error else ""
    checks = ("forward", "loss", "dE_dW2", "dE_dW1", "update")
    if problem is None:
        if outcome.error is not None:
            found = [
                _result(name, "error", assignment, f"cannot be judged: {why}; the submission stopped{stop}.")
                for name in checks
            ]
        else:
            found = [_unjudgeable(name, history, assignment, f"cannot be judged: {why}.") for name in checks]
        if why.endswith(NON_FINITE):
            bad = why.split()[0]
            diagnosis = Diagnosis(
                "non-finite",
                f"{bad} holds NaN or infinite values, so nothing after it can be "
                f"checked: look at how {bad} is built (a division by zero, an overflowing exp, "
                "an uninitialised array such as torch.empty).",
            )
            found = [replace(r, diagnosis=diagnosis) if r.status != "missing" else r for r in found]
        return found
    truth = truth_of(problem)
    tol = assignment.tolerance(problem.dtype)
    if not confirm_by_finite_differences(problem, truth):
        return [
            _result(
                name,
                "error",
                assignment,
                "cannot be judged: the network saturates at these weights (finite differences and autograd disagree).",
            )
            for name in checks
        ]
    lr_value = history.last("lr")
    lr = (
        float(lr_value.tensor)
        if lr_value is not None and lr_value.tensor is not None and lr_value.tensor.numel() == 1
        else assignment.lr
    )
    others = _other_problems(history, problem)
    results = [
        _check_forward(history, problem, truth, others, tol, assignment, stop),
        _check_loss(history, problem, truth, others, tol, assignment, stop),
    ]
    own: dict[str, Tensor | None] = {}
    context: dict[str, Any] = {
        "own": _own_forward(history, truth, others, tol),
        "forward_ok": results[0].status == "pass",
        "loss_ok": results[1].status in ("pass", "missing"),
        "lr": lr,
    }
    for name in ("dE_dW2", "dE_dW1"):
        result, used = _check_gradient(name, history, problem, truth, others, tol, assignment, stop, context)
        results.append(result)
        own[name] = used
    results.append(_check_update(history, problem, truth, own, lr, tol, assignment, stop))
    return results


def _unjudgeable(name: str, history: History, assignment: Assignment, message: str) -> CheckResult:
    keys = {"forward": "Y_cap", "loss": "E", "update": "W1_new"}.get(name, name)
    if name != "update" and not history.by_key.get(keys):
        return _result(name, "missing", assignment, f"{keys} is never defined; {message}")
    return _result(name, "error", assignment, f"{keys} {message}")


def _other_problems(history: History, problem: Problem) -> list[Problem]:
    """Weights a later forward pass may belong to: the updated ones (W_new, or W re-bound)."""
    found: list[Problem] = []
    for w1_key, w2_key in (("W1_new", "W2_new"), ("W1", "W2")):
        w1 = history.last(w1_key) or history.last("W1")
        w2 = history.last(w2_key) or history.last("W2")
        p, _ = problem_from({"X": history.first("X"), "Y": history.first("Y"), "W1": w1, "W2": w2})
        if p is not None and not (torch.equal(p.W1, problem.W1) and torch.equal(p.W2, problem.W2)):
            found.append(p)
    return found


def _pick(bindings: list[Binding], expected: Tensor, alternatives: list[Tensor], tol: Tolerance) -> Binding | None:
    """The binding to grade: one that is right, else the first not explained by other weights."""
    for b in bindings:
        if b.value.tensor is not None and close(b.value.tensor, expected, tol):
            return b
    for b in bindings:
        if b.value.tensor is not None and not any(close(b.value.tensor, alt, tol) for alt in alternatives):
            return b
    return bindings[0] if bindings else None


def _own_forward(history: History, truth: Truth, others: list[Problem], tol: Tolerance) -> dict[str, Tensor]:
    """The submission's own forward values (the bindings the checks grade), in canonical shapes."""
    own: dict[str, Tensor] = {}
    for key in ("Z", "H", "O", "Y_cap", "E"):
        bindings = history.numeric(key)
        if not bindings:
            continue
        expected: Tensor = getattr(truth.forward, key)
        alternatives = [getattr(reference.forward(p.X, p.Y, p.W1, p.W2), key) for p in others]
        chosen = _pick(bindings, expected, alternatives, tol)
        if chosen is None or chosen.value.tensor is None:
            continue
        fitted, _ = fit(chosen.value.tensor, expected)
        if fitted is None and key == "E" and chosen.value.tensor.numel() == 1:
            fitted = chosen.value.tensor.reshape(())
        if fitted is not None:
            own[key] = fitted
    return own


def _notes_for(problem: Problem) -> list[str]:
    return list(problem.notes)


def _check_forward(
    history: History,
    problem: Problem,
    truth: Truth,
    others: list[Problem],
    tol: Tolerance,
    assignment: Assignment,
    stop: str,
) -> CheckResult:
    bindings = history.numeric("Y_cap")
    if not bindings:
        return _missing_or_error("forward", "Y_cap", history, assignment, stop)
    alternatives = [reference.forward(p.X, p.Y, p.W1, p.W2).Y_cap for p in others]
    chosen = _pick(bindings, truth.forward.Y_cap, alternatives, tol)
    assert chosen is not None and chosen.value.tensor is not None
    notes = _notes_for(problem)
    if chosen is not bindings[-1]:
        notes.append("Y_cap was re-bound later (a forward pass with other weights); the first forward pass is graded")
    for key in ("Z", "H", "O"):  # intermediates that are present must be right too
        found = history.numeric(key)
        if not found:
            continue
        expected = getattr(truth.forward, key)
        alts = [getattr(reference.forward(p.X, p.Y, p.W1, p.W2), key) for p in others]
        b = _pick(found, expected, alts, tol)
        assert b is not None and b.value.tensor is not None
        fitted, note = fit(b.value.tensor, expected)
        if fitted is None:
            return _result(
                "forward",
                "fail",
                assignment,
                f"{key} has shape {tuple(b.value.tensor.shape)}; expected {tuple(expected.shape)}.",
                diagnosis=_shape_diagnosis(key, tuple(b.value.tensor.shape), tuple(expected.shape)),
            )
        if not compare(fitted, expected, tol).ok:
            return _with_diagnosis(
                _judged("forward", assignment, fitted, expected, tol, f"The forward pass ({key})", notes),
                key,
                fitted,
                problem,
                truth,
            )
    fitted, note = fit(chosen.value.tensor, truth.forward.Y_cap)
    if fitted is None:
        return _result(
            "forward",
            "fail",
            assignment,
            f"Y_cap has shape {tuple(chosen.value.tensor.shape)}; expected {tuple(truth.forward.Y_cap.shape)}.",
            diagnosis=_shape_diagnosis("Y_cap", tuple(chosen.value.tensor.shape), tuple(truth.forward.Y_cap.shape)),
        )
    result = _judged(
        "forward",
        assignment,
        fitted,
        truth.forward.Y_cap,
        tol,
        "The forward pass (Y_cap)",
        notes + ([note] if note else []),
    )
    return _with_diagnosis(result, "Y_cap", fitted, problem, truth)


def _missing_or_error(name: str, key: str, history: History, assignment: Assignment, stop: str) -> CheckResult:
    value = history.any(key)
    if value is not None:
        return _result(
            name,
            "fail",
            assignment,
            f"{key} is not an array of numbers ({value.kind} {value.description}).".replace(" )", ")"),
        )
    if stop:
        return _result(name, "error", assignment, f"{key} was never defined: the submission stopped before it{stop}.")
    return _result(name, "missing", assignment, f"{key} is never defined.")


def _check_loss(
    history: History,
    problem: Problem,
    truth: Truth,
    others: list[Problem],
    tol: Tolerance,
    assignment: Assignment,
    stop: str,
) -> CheckResult:
    bindings = history.numeric("E")
    if not bindings:
        return _missing_or_error("loss", "E", history, assignment, stop)
    y_cap = _pick(history.numeric("Y_cap"), truth.forward.Y_cap, [], tol)
    own = None
    if y_cap is not None and y_cap.value.tensor is not None:
        own, _ = fit(y_cap.value.tensor, truth.forward.Y_cap)
    # The loss is judged as a rule on the submission's own Y_cap: a wrong forward pass is charged once.
    expected = ((problem.Y - own) ** 2).sum() if own is not None else truth.forward.E
    alternatives = [reference.forward(p.X, p.Y, p.W1, p.W2).E for p in others]
    chosen = _pick(bindings, expected, alternatives, tol)
    assert chosen is not None and chosen.value.tensor is not None
    if chosen.value.tensor.numel() != 1:
        return _result(
            "loss",
            "fail",
            assignment,
            f"E has shape {tuple(chosen.value.tensor.shape)}; the error is one number.",
            diagnosis=_shape_diagnosis("E", tuple(chosen.value.tensor.shape), ()),
        )
    result = _judged("loss", assignment, chosen.value.tensor.reshape(()), expected.reshape(()), tol, "The error E")
    return _with_diagnosis(result, "E", chosen.value.tensor.reshape(()), problem, truth, own_y_cap=own)


def _check_gradient(
    name: str,
    history: History,
    problem: Problem,
    truth: Truth,
    others: list[Problem],
    tol: Tolerance,
    assignment: Assignment,
    stop: str,
    context: dict[str, Any] | None = None,
) -> tuple[CheckResult, Tensor | None]:
    bindings = history.numeric(name)
    if not bindings:
        return _missing_or_error(name, name, history, assignment, stop), None
    expected: Tensor = getattr(truth.grads, name)
    alternatives = [getattr(reference.autograd_backward(p.X, p.Y, p.W1, p.W2), name) for p in others]
    chosen = _pick(bindings, expected, alternatives, tol)
    assert chosen is not None and chosen.value.tensor is not None
    fitted, note = fit(chosen.value.tensor, expected)
    if fitted is None:
        shape = tuple(chosen.value.tensor.shape)
        return _result(
            name,
            "fail",
            assignment,
            f"{name} has shape {shape}; expected {tuple(expected.shape)} (the shape of the weights).",
            diagnosis=_shape_diagnosis(name, shape, tuple(expected.shape)),
        ), None
    notes = _notes_for(problem) + ([note] if note else [])
    result = _judged(name, assignment, fitted, expected, tol, f"The gradient {name}", notes)
    return _with_diagnosis(result, name, fitted, problem, truth, **(context or {})), fitted


def _check_update(
    history: History,
    problem: Problem,
    truth: Truth,
    own: dict[str, Tensor | None],
    lr: float,
    tol: Tolerance,
    assignment: Assignment,
    stop: str,
) -> CheckResult:
    """The update as a rule: W_new − W against −lr · (the submission's own gradient)."""
    pairs = []
    for key, new_key, grad in (("W1", "W1_new", "dE_dW1"), ("W2", "W2_new", "dE_dW2")):
        # W_new, or W itself updated in place or re-bound (W = W − lr·dE_dW); in a training
        # loop, the first step: the one the first gradient belongs to.
        new = history.first(new_key) if history.numeric(new_key) else history.last(new_key)
        if new is None:
            new = history.first_change(key)
        if new is None:
            continue
        if new.tensor is None:
            return _result("update", "fail", assignment, f"{new_key} is not an array of numbers.")
        weights: Tensor = getattr(problem, key)
        fitted, _note = fit(new.tensor, weights)
        if fitted is None:
            return _result(
                "update",
                "fail",
                assignment,
                f"{new_key} has shape {tuple(new.tensor.shape)}; expected {tuple(weights.shape)}.",
                diagnosis=_shape_diagnosis(new_key, tuple(new.tensor.shape), tuple(weights.shape)),
            )
        gradient = own.get(grad)
        if gradient is None:
            gradient = _broadcast_gradient(history, grad, weights)
        if gradient is None:
            gradient = getattr(truth.grads, grad)
        pairs.append((key, fitted - weights, -lr * gradient, gradient))
    if not pairs:
        return _missing_or_error("update", "W1_new", history, assignment, stop)
    # The difference is compared, not the new weights: a wrong lr hides at 1e-4 in W_new.
    step_tol = Tolerance(rtol=tol.rtol * 10, atol=tol.atol + tol.rtol * 10 * float(problem.W1.abs().max()))
    for key, step, expected, gradient in pairs:
        cmp = compare(step, expected, step_tol)
        if not cmp.ok:
            result = _judged("update", assignment, step, expected, step_tol, f"The update of {key} (W_new − W)")
            return _with_diagnosis(result, "update", step, problem, truth, gradient=gradient, lr=lr)
    return _result("update", "pass", assignment, f"The update rule is correct (lr = {lr:g}).", tolerance=str(step_tol))


def _broadcast_gradient(history: History, grad: str, weights: Tensor) -> Tensor | None:
    """A gradient of the wrong shape that still broadcasts onto the weights (the update then applies it so)."""
    bindings = history.numeric(grad)
    if not bindings or bindings[0].value.tensor is None:
        return None
    try:
        return torch.broadcast_to(bindings[0].value.tensor, weights.shape).clone()
    except RuntimeError:
        return None


def _with_diagnosis(
    result: CheckResult, key: str, submitted: Tensor, problem: Problem, truth: Truth, **context: Any
) -> CheckResult:
    """A failing check gets the diagnosis of :mod:`harness.diagnose`, where one can be made (never a passing one)."""
    if result.status != "fail" or result.diagnosis is not None:
        return result
    from harness.diagnose import diagnose

    try:
        diagnosis = diagnose(key, submitted, problem, truth, **context)
    except Exception as exc:  # a diagnosis is advice: it never costs the verdict
        return replace(
            result, notes=result.notes + (f"(the grader could not diagnose this check: {type(exc).__name__}: {exc})",)
        )
    return replace(result, diagnosis=diagnosis) if diagnosis else result


def _shape_diagnosis(key: str, got: tuple[int, ...], want: tuple[int, ...]) -> Diagnosis:
    from harness.diagnose import shape_diagnosis

    return shape_diagnosis(key, got, want)


# ---------------------------------------------------------------- function style


@dataclass
class Calls:
    """Calls the submission's functions on the grader's inputs; each distinct call is made once."""

    session: Session
    dtype: str
    as_numpy: bool
    log: list[CallResult] = field(default_factory=list)
    cache: dict[str, CallResult] = field(default_factory=dict)

    def __call__(self, fn: str, *args: Tensor | float) -> CallResult:
        encoded = [
            encode_argument(a, self.dtype, self.as_numpy) if isinstance(a, Tensor) else {"t": "number", "v": a}
            for a in args
        ]
        key = json.dumps([fn, encoded])
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        result = self.session.call(fn, encoded)
        self.log.append(result)
        self.cache[key] = result
        return result

    def round(self, t: Tensor) -> Tensor:
        """The value the child will really see, so that the truth is computed from it."""
        dtype = getattr(torch, self.dtype)
        return t.to(dtype).to(torch.float64)


def generated_problems(assignment: Assignment, seed: int, count: int) -> list[Problem]:
    """Generic inputs for function-style checks: seeded, well away from sigmoid saturation."""
    sizes = [assignment.sizes]
    if assignment.general_sizes:
        sizes += [(2, 5, 1), (3, 2, 2), (6, 4, 3)]
    problems = []
    gen = torch.Generator().manual_seed(seed)
    for i in range(count):
        n_in, n_hidden, n_out = sizes[i % len(sizes)]

        def draw(*shape: int, low: float = -1.0, high: float = 1.0) -> Tensor:
            return low + (high - low) * torch.rand(*shape, generator=gen, dtype=torch.float64)

        problems.append(
            Problem(
                X=draw(n_in, 1, low=0.0), Y=draw(1, n_out, low=0.0), W1=draw(n_in, n_hidden), W2=draw(n_hidden, n_out)
            )
        )
    return problems


def _own_problem(outcome: Outcome, assignment: Assignment) -> Problem | None:
    """The X, Y, W1, W2 a function-style submission also left in its globals (for ``instance-only``)."""
    history = History(outcome, assignment)
    values = {key: history.first(key) for key in ("X", "Y", "W1", "W2")}
    if any(values[k] is None for k in ("X", "W1", "W2")):
        return None
    problem, _ = problem_from(values)
    return problem


def check_functions(
    session: Session, outcome: Outcome, assignment: Assignment, dtype: str, as_numpy: bool, seed: int
) -> list[CheckResult]:
    """Judge a function-style submission: properties over generated inputs (:mod:`harness.properties`)."""
    from harness.properties import Runner

    runner = Runner(
        Calls(session, dtype, as_numpy), assignment, set(outcome.functions), seed, own=_own_problem(outcome, assignment)
    )
    order = ("forward", "loss", "dE_dW2", "dE_dW1", "update", "sigmoid", "sigmoid_grad")
    for name in ("forward", "loss", "dE_dW1", "dE_dW2", "update", "sigmoid", "sigmoid_grad"):
        runner.check(name)
    return [runner.results[name] for name in order]


def check_helpers(
    session: Session, outcome: Outcome, assignment: Assignment, dtype: str, as_numpy: bool, seed: int
) -> list[CheckResult]:
    """``sigmoid`` and ``sigmoid_grad`` of a script-style submission, checked where defined."""
    from harness.properties import Runner

    runner = Runner(Calls(session, dtype, as_numpy), assignment, set(outcome.functions), seed)
    return [runner.check(name) for name in ("sigmoid", "sigmoid_grad") if name in runner.defined]
