"""Stage 3, check: compare what a submission produced with the truth, in float64.

The truth is recomputed here, never taken from the submission: by autograd
through the reference forward pass, confirmed by finite differences
(:mod:`harness.gradients`).  Script style reads the history of the contract's
names; function style calls the submission's functions on generated inputs.
A wrong answer is a :class:`CheckResult`; only misuse of this module raises.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

import reference
from harness.check.compare import NON_FINITE, _judged, _result, agrees, compare, fit, update_tolerance
from harness.diagnose.messages import shape_diagnosis
from harness.records.assignment import Assignment, Tolerance
from harness.records.outcome import Binding, Outcome, Value
from harness.records.problem import Problem, Truth
from harness.records.result import CheckResult, Diagnosis, Evidence
from harness.truth import confirm_by_finite_differences, truth_of

GRADIENTS = ("dE_dW1", "dE_dW2")


# ---------------------------------------------------------------- records


# ---------------------------------------------------------------- the problem and its truth


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
        if b.value.tensor is not None and agrees(b.value.tensor, expected, tol):
            return b
    for b in bindings:
        if b.value.tensor is not None and not any(agrees(b.value.tensor, alt, tol) for alt in alternatives):
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
            return _with_evidence(
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
    return _with_evidence(result, "Y_cap", fitted, problem, truth)


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
    return _with_evidence(result, "E", chosen.value.tensor.reshape(()), problem, truth, own_y_cap=own)


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
    return _with_evidence(result, name, fitted, problem, truth, **(context or {})), fitted


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
    step_tol = update_tolerance(tol, torch.cat([problem.W1.reshape(-1), problem.W2.reshape(-1)]))
    for key, step, expected, gradient in pairs:
        cmp = compare(step, expected, step_tol)
        if not cmp.ok:
            result = _judged("update", assignment, step, expected, step_tol, f"The update of {key} (W_new − W)")
            return _with_evidence(result, "update", step, problem, truth, gradient=gradient, lr=lr)
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


def _with_evidence(
    result: CheckResult, key: str, submitted: Tensor, problem: Problem, truth: Truth, **context: Any
) -> CheckResult:
    """A failing check carries the evidence the diagnose stage reads (a passing one never does)."""
    if result.status != "fail" or result.diagnosis is not None:
        return result
    return replace(result, evidence=Evidence(key, submitted, problem, truth, context))


def _shape_diagnosis(key: str, got: tuple[int, ...], want: tuple[int, ...]) -> Diagnosis:
    return shape_diagnosis(key, got, want)


# ---------------------------------------------------------------- function style
