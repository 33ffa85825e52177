"""Stage 3, check: compare what a submission produced with the truth, in float64.

The truth is recomputed here, never taken from the submission: by autograd
through the reference forward pass, confirmed by finite differences
(:mod:`harness.gradients`).  Script style reads the history of the contract's
names; function style calls the submission's functions on generated inputs.
A wrong answer is a :class:`CheckResult`; only misuse of this module raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

import harness.wire as wire
from harness.check.compare import NON_FINITE, _judged, _result, compare, fit, update_tolerance
from harness.diagnose.messages import shape_diagnosis
from harness.records.assignment import Assignment, Tolerance
from harness.records.outcome import Binding, Outcome, Run, Value
from harness.records.problem import Problem, Truth
from harness.records.report import RunData
from harness.records.result import CheckResult, Diagnosis, Evidence
from harness.truth import confirm_by_finite_differences, confirm_together, truth_of

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


# A script may build its network at other sizes than the assignment's (a random 3-3-1 to test a
# transpose), up to this many units per layer: the grader's truth stays cheap whatever it binds.
MAX_SCRIPT_SIZE = 64
STEP_KEYS = ("Z", "H", "O", "Y_cap", "E", "dE_dW2", "dE_dW1")


class History:
    """The values a script-style submission bound, statement by statement, by contract key."""

    KEYS = ("X", "Y", "W1", "W2", "Z", "H", "O", "Y_cap", "E", "dE_dW2", "dE_dW1", "W1_new", "W2_new", "lr")

    def __init__(self, outcome: Outcome, assignment: Assignment) -> None:
        self.assignment = assignment
        self.by_key: dict[str, list[Binding]] = {}
        keys_of: dict[str, list[str]] = {}
        for key in self.KEYS:
            for alias in assignment.aliases(key):
                keys_of.setdefault(alias, []).append(key)
        for binding in outcome.history:
            for key in keys_of.get(binding.name, ()):
                self.by_key.setdefault(key, []).append(binding)
        self._numeric = {key: [b for b in found if b.value.tensor is not None] for key, found in self.by_key.items()}
        self._memo: dict[str, int | None] = {}

    def numeric(self, key: str) -> list[Binding]:
        return self._numeric.get(key, [])

    def first(self, key: str) -> Value | None:
        found = self.numeric(key)
        return found[0].value if found else self.any(key)

    def last(self, key: str) -> Value | None:
        binding = self.last_binding(key)
        return binding.value if binding else None

    def last_binding(self, key: str) -> Binding | None:
        """The last binding of ``key`` (``None`` if it was never bound or was deleted)."""
        bindings = self.by_key.get(key, [])
        if not bindings or bindings[-1].value.kind == "unbound":
            return None
        return bindings[-1]

    def any(self, key: str) -> Value | None:
        binding = self.any_binding(key)
        return binding.value if binding else None

    def any_binding(self, key: str) -> Binding | None:
        """The first binding of ``key`` to anything (numeric or not)."""
        return next((b for b in self.by_key.get(key, []) if b.value.kind != "unbound"), None)

    # ------------------------------------------------ which binding is judged (README: "Which value is judged")

    def _once(self, name: str, compute: Callable[[], int | None]) -> int | None:
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    def update_statement(self) -> int | None:
        return self._once("update", self._update_statement)

    def _update_statement(self) -> int | None:
        """The statement of the first update: where ``W_new`` first differs from the weights the
        computation started from, or ``W`` itself first changes after it started (in place or
        re-bound); ``None`` where nothing is updated.  A change before the first forward value is
        the input's preparation (``W1 = W1 * 0.5``), not an update."""
        found: list[int] = []
        start = self.start()
        for key in ("W1", "W2"):
            weights = self.numeric(key)
            value = self.input(key)
            if not weights or value is None or value.tensor is None:
                continue
            initial = value.tensor
            later = [b for b in weights if start is not None and b.statement > start]
            for b in sorted(self.numeric(f"{key}_new") + later, key=lambda b: b.statement):
                t = b.value.tensor
                assert t is not None
                if t.shape != initial.shape or not torch.equal(t, initial):
                    found.append(b.statement)
                    break
        return min(found) if found else None

    def step_end(self) -> int | None:
        return self._once("step_end", self._step_end)

    def _step_end(self) -> int | None:
        """Where a second step begins: the first statement after the first update that binds a forward
        or gradient value again (``None``: the submission takes one step)."""
        update = self.update_statement()
        if update is None:
            return None
        later = [b.statement for key in STEP_KEYS for b in self.numeric(key) if b.statement > update]
        return min(later) if later else None

    def judged(self, key: str) -> Binding | None:
        """The one binding of ``key`` that is judged, never "whichever is right".

        * a forward value or a gradient: its last binding at or before the first update (the one the
          update uses); where it is only bound after the update, its first binding there (judged
          against the updated weights); where nothing is updated, its last binding;
        * an updated weight (``W_new``, or ``W`` changed in place): its last binding before a second
          step begins, so that an in-place update (``W_new = W.clone(); W_new.sub_(...)``) is judged
          after it, and a training loop on its first step.
        """
        bindings = self.numeric(key)
        if not bindings:
            return None
        if key in ("W1", "W2", "W1_new", "W2_new"):
            end = self.step_end()
            before = [b for b in bindings if end is None or b.statement < end]
            return before[-1] if before else bindings[0]
        update = self.update_statement()
        if update is None:
            return bindings[-1]
        before = [b for b in bindings if b.statement <= update]
        return before[-1] if before else bindings[0]

    def input(self, key: str) -> Value | None:
        """An input's value as the computation used it: its last binding before the first forward or
        gradient value (``X = X / X.max()`` after ``X = ...``), else its first."""
        bindings = self.numeric(key)
        if not bindings:
            return self.any(key)
        start = self.start()
        before = [b for b in bindings if start is None or b.statement < start]
        return (before[-1] if before else bindings[0]).value

    def start(self) -> int | None:
        return self._once("start", self._start)

    def _start(self) -> int | None:
        """The statement of the first forward or gradient value: where the computation starts."""
        starts = [b.statement for k in STEP_KEYS for b in self.numeric(k)]
        return min(starts) if starts else None

    def after_update(self, binding: Binding) -> bool:
        update = self.update_statement()
        return update is not None and binding.statement > update

    def at(self, key: str, statement: int) -> Value | None:
        """The value ``key`` held just after ``statement``."""
        current: Value | None = None
        for b in self.by_key.get(key, []):
            if b.statement > statement:
                break
            current = b.value
        return current


def check_script(outcome: Outcome, assignment: Assignment, history: History | None = None) -> list[CheckResult]:
    """Judge a script-style submission from the history of its globals (``history``: read from
    ``outcome`` already)."""
    history = history or History(outcome, assignment)
    values = {key: history.input(key) for key in ("X", "Y", "W1", "W2")}
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
    if any(n > max(MAX_SCRIPT_SIZE, want) for n, want in zip(problem.sizes, assignment.sizes)):
        return _wrong_sizes(problem, assignment, checks)  # before any truth: a 10000-5-10000 network costs nothing
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
        "own": _own_forward(history, truth),
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


def _wrong_sizes(problem: Problem, assignment: Assignment, checks: tuple[str, ...]) -> list[CheckResult]:
    """Every check fails on a network of other sizes than the assignment's (n_in, n_hidden, n_out)."""
    got, want = "-".join(map(str, problem.sizes)), "-".join(map(str, assignment.sizes))
    message = (
        f"cannot be judged: X, W1 and W2 make a {got} network; this assignment is a {want} network "
        f"(other sizes are graded up to {MAX_SCRIPT_SIZE} per layer)."
    )
    diagnosis = Diagnosis(
        "wrong-shape",
        f"Your X, W1 and W2 make a {got} network (inputs-hidden-outputs); the assignment asks for {want}: "
        "check the shapes you create them with.",
    )
    return [_result(name, "fail", assignment, message, diagnosis=diagnosis) for name in checks]


# ---------------------------------------------------------------- the runs a script is judged on

GRADER_NOTE = "checked on inputs the grader chose"
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def substitutions(assignment: Assignment, seed: int) -> dict[str, wire.Substitution]:
    """What a run with the grader's inputs replaces: every name of every input role."""
    return {
        name: wire.Substitution(seed, kind)
        for key, kind in assignment.input_roles().items()
        for name in assignment.aliases(key)
    }


def check_runs(runs: Sequence[Run], assignment: Assignment) -> list[CheckResult]:
    """Judge a script on every run: a check passes only if it is right on each one.

    The first run is the submission's own (what the student saw); the others ran on inputs the
    grader drew.  A failing check reports the run it first failed on; where the submission's own
    inputs are degenerate (a truth that is zero everywhere cannot tell a formula from another),
    the report says that the grader's runs decided.
    """
    histories = [History(run.outcome, assignment) for run in runs]  # each run read once
    own, *others = runs
    confirm_together([p for p in (_judged_problem(h, assignment) for h in histories) if p is not None])
    own_results = check_script(own.outcome, assignment, histories[0])
    if not others:
        return own_results
    judged: list[tuple[Run, list[CheckResult]]] = []
    for run, history in zip(others, histories[1:]):
        assert run.seed is not None
        problem = _not_the_graders(history, run.seed, histories[0], assignment)
        if problem is not None:
            message = f"this run did not use the inputs the grader chose ({problem}); nothing it gave is trusted."
            results = [_result(r.name, "error", assignment, message) for r in own_results]
        else:
            results = check_script(run.outcome, assignment, history)
        judged.append((run, results))
    data = tuple(_run_data(run, history, assignment) for run, history in zip(runs, histories))
    degenerate = _degenerate(histories[0])
    combined = []
    for i, mine in enumerate(own_results):
        failed = next(((run, results[i]) for run, results in judged if results[i].status != "pass"), None)
        notes = mine.notes
        if mine.name in degenerate:
            notes += (degenerate[mine.name],)
        if mine.status != "pass" or failed is None:
            combined.append(replace(mine, runs=data, notes=notes))
            continue
        run, theirs = failed
        message = f"Right on your own inputs, but {GRADER_NOTE} (seed {run.seed}) it is not: {theirs.message}"
        fallback = Diagnosis(
            "instance-only",
            f"{_value_name(mine.name)} is right for your own inputs only: on inputs the grader chose it is wrong, so it "
            "does not follow from the formula for every input (check it with other numbers than yours).",
        )
        evidence = replace(theirs.evidence, fallback=fallback) if isinstance(theirs.evidence, Evidence) else None
        diagnosis = theirs.diagnosis or (fallback if evidence is None else None)
        combined.append(
            replace(
                theirs,
                status="fail",
                score=0.0,
                message=message,
                diagnosis=diagnosis,
                evidence=evidence,
                notes=notes + theirs.notes,
                runs=data,
                cell=theirs.cell or mine.cell,
            )
        )
    return combined


def _judged_problem(history: History, assignment: Assignment) -> Problem | None:
    """The problem :func:`check_script` confirms the truth of for this run, if it gets that far."""
    problem, _ = problem_from({key: history.input(key) for key in ("X", "Y", "W1", "W2")})
    if problem is None or any(n > max(MAX_SCRIPT_SIZE, want) for n, want in zip(problem.sizes, assignment.sizes)):
        return None
    return problem


def _value_name(check: str) -> str:
    return {"forward": "Your forward pass", "loss": "Your error E", "update": "Your update"}.get(check, f"Your {check}")


def _not_the_graders(theirs: History, seed: int, mine: History, assignment: Assignment) -> str | None:
    """Why the run read into ``theirs`` did not use the grader's inputs (drawn from ``seed``), or
    ``None``: every input the submission's own run (``mine``) bound as floats must have been bound,
    first, to exactly the value the grader drew for it."""
    for key, kind in assignment.input_roles().items():
        first = mine.numeric(key)
        if not first or not _replaceable(first[0].value):
            continue
        got = theirs.numeric(key)
        if not got or got[0].value.tensor is None:
            return f"{key} was never bound"
        value, like = got[0].value, first[0].value
        assert value.tensor is not None and like.tensor is not None
        shape = () if like.kind == "number" else tuple(like.tensor.shape)
        drawn = torch.tensor(wire.draw_entries(wire.Substitution(seed, kind), shape), dtype=torch.float64)
        if drawn.numel() != value.tensor.numel() or not torch.allclose(
            value.tensor.reshape(-1).to(torch.float64), drawn.reshape(-1), rtol=1e-2, atol=0.0
        ):
            return f"{key} is not the value the grader drew"
    return None


def _replaceable(value: Value) -> bool:
    """What the child replaces: a float array, or a number."""
    return value.tensor is not None and (value.kind == "number" or value.dtype in FLOAT_DTYPES)


def _run_data(run: Run, history: History, assignment: Assignment) -> RunData:
    values: dict[str, Any] = {}
    for key in assignment.input_roles():
        first = history.numeric(key)
        if first and first[0].value.tensor is not None:
            values[key] = first[0].value.tensor.tolist()
    return {"source": run.source, "seed": run.seed, "values": values}


def _degenerate(history: History) -> dict[str, str]:
    """The checks the submission's own inputs (read into ``history``) cannot fail (their truth is zero
    everywhere), with a note."""
    problem, _ = problem_from({key: history.input(key) for key in ("X", "Y", "W1", "W2")})
    if problem is None or any(n > MAX_SCRIPT_SIZE for n in problem.sizes):
        return {}
    truth = truth_of(problem)
    notes = {}
    for name in ("dE_dW2", "dE_dW1"):
        if not bool(getattr(truth.grads, name).abs().gt(0).any()):
            notes[name] = (
                f"on your own inputs the true {name} is zero everywhere, so any formula that gives zero passes "
                f"there: it is judged on the grader's runs ({GRADER_NOTE})"
            )
    return notes


def _unjudgeable(name: str, history: History, assignment: Assignment, message: str) -> CheckResult:
    keys = {"forward": "Y_cap", "loss": "E", "update": "W1_new"}.get(name, name)
    if name != "update" and not history.by_key.get(keys):
        return _result(name, "missing", assignment, f"{keys} is never defined; {message}")
    return _result(name, "error", assignment, f"{keys} {message}")


def _other_problems(history: History, problem: Problem) -> list[Problem]:
    """Weights a later forward pass may belong to: the updated ones (W_new, or W re-bound)."""
    found: list[Problem] = []
    for w1_key, w2_key in (("W1_new", "W2_new"), ("W1", "W2")):
        w1 = history.judged(w1_key) or history.judged("W1")
        w2 = history.judged(w2_key) or history.judged("W2")
        values = {"X": history.input("X"), "Y": history.input("Y")}
        values |= {"W1": w1.value if w1 else None, "W2": w2.value if w2 else None}
        p, _ = problem_from(values)
        if p is not None and not (torch.equal(p.W1, problem.W1) and torch.equal(p.W2, problem.W2)):
            found.append(p)
    return found


def _in_force(
    history: History, binding: Binding, problem: Problem, truth: Truth, others: list[Problem]
) -> tuple[Problem, Truth]:
    """The weights ``binding`` is judged at: the initial ones, or, for a value bound only after the
    update (a forward pass re-run with the new weights), the updated ones."""
    if history.after_update(binding) and others:
        return others[0], truth_of(others[0])
    return problem, truth


def _own_forward(history: History, truth: Truth) -> dict[str, Tensor]:
    """The submission's own forward values (the bindings the checks judge), in canonical shapes."""
    own: dict[str, Tensor] = {}
    for key in ("Z", "H", "O", "Y_cap", "E"):
        chosen = history.judged(key)
        expected: Tensor = getattr(truth.forward, key)
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
    chosen = history.judged("Y_cap")
    if chosen is None:
        return _missing_or_error("forward", "Y_cap", history, assignment, stop)
    assert chosen.value.tensor is not None
    notes = _notes_for(problem)
    if chosen is not bindings[-1]:
        notes.append(
            "Y_cap was re-bound after the update (a forward pass with the new weights); "
            "the forward pass before the update is judged"
        )
    for key in ("Z", "H", "O"):  # intermediates that are present must be right too
        b = history.judged(key)
        if b is None:
            continue
        p_key, t_key = _in_force(history, b, problem, truth, others)
        expected = getattr(t_key.forward, key)
        assert b.value.tensor is not None
        fitted, note = fit(b.value.tensor, expected)
        if fitted is None:
            return _at(
                _result(
                    "forward",
                    "fail",
                    assignment,
                    f"{key} has shape {tuple(b.value.tensor.shape)}; expected {tuple(expected.shape)}.",
                    diagnosis=_shape_diagnosis(key, tuple(b.value.tensor.shape), tuple(expected.shape)),
                ),
                b,
            )
        if not compare(fitted, expected, tol).ok:
            result = _judged("forward", assignment, fitted, expected, tol, f"The forward pass ({key})", notes)
            return _at(_with_evidence(result, key, fitted, p_key, t_key), b)
    problem, truth = _in_force(history, chosen, problem, truth, others)
    fitted, note = fit(chosen.value.tensor, truth.forward.Y_cap)
    if fitted is None:
        return _at(
            _result(
                "forward",
                "fail",
                assignment,
                f"Y_cap has shape {tuple(chosen.value.tensor.shape)}; expected {tuple(truth.forward.Y_cap.shape)}.",
                diagnosis=_shape_diagnosis("Y_cap", tuple(chosen.value.tensor.shape), tuple(truth.forward.Y_cap.shape)),
            ),
            chosen,
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
    return _at(_with_evidence(result, "Y_cap", fitted, problem, truth), chosen)


def _missing_or_error(name: str, key: str, history: History, assignment: Assignment, stop: str) -> CheckResult:
    binding = history.any_binding(key)
    if binding is not None:
        value = binding.value
        message = f"{key} is not an array of numbers ({value.kind} {value.description}).".replace(" )", ")")
        return _at(_result(name, "fail", assignment, message), binding)
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
    chosen = history.judged("E")
    if chosen is None:
        return _missing_or_error("loss", "E", history, assignment, stop)
    assert chosen.value.tensor is not None
    problem, truth = _in_force(history, chosen, problem, truth, others)
    y_cap = history.judged("Y_cap")
    own = None
    if y_cap is not None and y_cap.value.tensor is not None:
        own, _ = fit(y_cap.value.tensor, truth.forward.Y_cap)
    # The loss is judged as a rule on the submission's own Y_cap: a wrong forward pass is charged once.
    expected = ((problem.Y - own) ** 2).sum() if own is not None else truth.forward.E
    if chosen.value.tensor.numel() != 1:
        return _at(
            _result(
                "loss",
                "fail",
                assignment,
                f"E has shape {tuple(chosen.value.tensor.shape)}; the error is one number.",
                diagnosis=_shape_diagnosis("E", tuple(chosen.value.tensor.shape), ()),
            ),
            chosen,
        )
    result = _judged("loss", assignment, chosen.value.tensor.reshape(()), expected.reshape(()), tol, "The error E")
    return _at(_with_evidence(result, "E", chosen.value.tensor.reshape(()), problem, truth, own_y_cap=own), chosen)


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
    chosen = history.judged(name)
    if chosen is None:
        return _missing_or_error(name, name, history, assignment, stop), None
    assert chosen.value.tensor is not None
    problem, truth = _in_force(history, chosen, problem, truth, others)
    expected: Tensor = getattr(truth.grads, name)
    fitted, note = fit(chosen.value.tensor, expected)
    if fitted is None:
        shape = tuple(chosen.value.tensor.shape)
        return _at(
            _result(
                name,
                "fail",
                assignment,
                f"{name} has shape {shape}; expected {tuple(expected.shape)} (the shape of the weights).",
                diagnosis=_shape_diagnosis(name, shape, tuple(expected.shape)),
            ),
            chosen,
        ), None
    notes = _notes_for(problem) + ([note] if note else [])
    result = _judged(name, assignment, fitted, expected, tol, f"The gradient {name}", notes)
    return _at(_with_evidence(result, name, fitted, problem, truth, **(context or {})), chosen), fitted


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
    """The update as a rule: W_new − W against −lr · (the submission's own gradient).

    Its cell is that of the updated weights judged: the failing ones, else the later of the two."""
    pairs = []
    for key, new_key, grad in (("W1", "W1_new", "dE_dW1"), ("W2", "W2_new", "dE_dW2")):
        # W_new, or W itself updated in place or re-bound (W = W − lr·dE_dW); in a training
        # loop, the first step: the one the first gradient belongs to.
        binding = history.judged(new_key) or history.last_binding(new_key)
        if binding is None:
            moved = history.judged(key)  # W itself, updated in place or re-bound
            start = history.input(key)
            binding = moved
            if moved is not None and moved.value.tensor is not None and start is not None and start.tensor is not None:
                t, t0 = moved.value.tensor, start.tensor
                binding = moved if t.shape != t0.shape or not torch.equal(t, t0) else None
        if binding is None:
            continue
        new = binding.value
        if new.tensor is None:
            return _at(_result("update", "fail", assignment, f"{new_key} is not an array of numbers."), binding)
        weights: Tensor = getattr(problem, key)
        fitted, _note = fit(new.tensor, weights)
        if fitted is None:
            result = _result(
                "update",
                "fail",
                assignment,
                f"{new_key} has shape {tuple(new.tensor.shape)}; expected {tuple(weights.shape)}.",
                diagnosis=_shape_diagnosis(new_key, tuple(new.tensor.shape), tuple(weights.shape)),
            )
            return _at(result, binding)
        gradient = own.get(grad)
        if gradient is None:
            gradient = _broadcast_gradient(history, grad, weights)
        if gradient is None:
            gradient = getattr(truth.grads, grad)
        pairs.append((key, fitted - weights, -lr * gradient, gradient, binding))
    if not pairs:
        return _missing_or_error("update", "W1_new", history, assignment, stop)
    # The difference is compared, not the new weights: a wrong lr hides at 1e-4 in W_new.
    step_tol = update_tolerance(tol, torch.cat([problem.W1.reshape(-1), problem.W2.reshape(-1)]))
    for key, step, expected, gradient, binding in pairs:
        cmp = compare(step, expected, step_tol)
        if not cmp.ok:
            result = _judged("update", assignment, step, expected, step_tol, f"The update of {key} (W_new − W)")
            return _at(_with_evidence(result, "update", step, problem, truth, gradient=gradient, lr=lr), binding)
    last = max((pair[-1] for pair in pairs), key=lambda b: b.statement)
    message = f"The update rule is correct (lr = {lr:g})."
    return _at(_result("update", "pass", assignment, message, tolerance=str(step_tol)), last)


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


def _at(result: CheckResult, binding: Binding | None) -> CheckResult:
    """``result`` placed at the cell whose statement bound the value it judged."""
    return replace(result, cell=binding.label or None) if binding is not None else result


def _shape_diagnosis(key: str, got: tuple[int, ...], want: tuple[int, ...]) -> Diagnosis:
    return shape_diagnosis(key, got, want)


# ---------------------------------------------------------------- function style
