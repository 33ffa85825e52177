"""Checks of an assignment a course defines: read what the submission computed on each run (its
history, or the results of the steps the grader ran), and compare every quantity a check names
with the reference's truth on that run's inputs.

A run is the submission's own (script style: its own inputs) or one the grader chose the inputs
of.  A check passes only if every value it names is right on every run, in every variant cell
(``per_variant``: one check per cell); otherwise it reports the first run it failed on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

import harness.wire as wire
from harness.check.compare import Comparison, compare, fit, update_tolerance
from harness.computation import (
    Truth,
    draw_inputs,
    learning_rate,
    recomputed,
    run_seeds,
    substitution_of,
    truth_of,
)
from harness.diagnose.values import summed_over_wrong_axis, wrong_shaped_operand
from harness.errors import SpecError
from harness.load import defined_in
from harness.records.assignment import Assignment, Tolerance
from harness.records.definition import GRAD, NEW, Definition, root_of
from harness.records.outcome import Binding, Outcome, Value
from harness.records.report import RunData
from harness.records.result import CheckResult, Diagnosis, ValueEvidence, ValueRun
from harness.records.submission import Cell
from harness.run.pool import Session
from harness.run.values import encode_argument

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


@dataclass
class Observed:
    """What one run (in one variant cell) of a submission computed, read as the assignment says."""

    source: str  # "own" | "grader"
    seed: int | None
    cell: Mapping[str, Any]
    inputs: dict[str, Tensor]
    values: dict[str, Value] = field(default_factory=dict)  # quantity -> the value read
    why: dict[str, str] = field(default_factory=dict)  # quantity -> why nothing could be read
    cells: dict[str, str] = field(default_factory=dict)  # quantity -> the cell that bound it (script)
    truth: Truth | None = None
    not_judged: str | None = None  # why this run cannot judge the submission (it did not use the inputs)
    step_error: str | None = None  # the first of the grader's steps that raised on this run, and how
    stepped: bool = False  # read after the grader's steps, which it called with the true values
    arguments: str = "float64"  # the dtype the steps passed the float values in
    read_as: dict[str, str] = field(default_factory=dict)  # input -> how it was read (a weight stored transposed)

    def run_data(self) -> RunData:
        values: dict[str, Any] = {n: t.tolist() for n, t in self.inputs.items()}
        values.update(self.cell)
        return {"source": self.source, "seed": self.seed, "values": values}


# ---------------------------------------------------------------- script style


def _numeric(outcome: Outcome, paths: Sequence[str]) -> list[Binding]:
    wanted = set(paths)
    return [b for b in outcome.history if b.name in wanted and b.value.tensor is not None]


def _step_end(outcome: Outcome, definition: Definition, firsts: Mapping[str, Binding]) -> int | None:
    """The statement of the first update: a parameter re-bound to another value, or a new.* bound."""
    ends: list[int] = []
    read = definition.reading(False)
    for quantity, paths in read.items():
        if quantity.startswith(NEW):  # W_new bound (W itself updated in place: the loop below)
            own = set(read.get(quantity[len(NEW) :], ()))
            bound = _numeric(outcome, [p for p in paths if p not in own])
            if bound:
                ends.append(bound[0].statement)
    for name in definition.parameters:
        first = firsts.get(name)
        if first is None:
            continue
        for b in _numeric(outcome, read.get(name, ())):
            if b.statement > first.statement and not _same(b.value, first.value):
                ends.append(b.statement)
                break
    return min(ends) if ends else None


def _same(a: Value, b: Value) -> bool:
    return (
        a.tensor is not None
        and b.tensor is not None
        and a.tensor.shape == b.tensor.shape
        and bool(torch.equal(a.tensor, b.tensor))
    )


def observe_script(outcome: Outcome, definition: Definition, source: str, seed: int | None) -> Observed:
    """A script's run read: its inputs where first bound; every other quantity as it stood at the first
    update (else at the end); ``new.<p>`` the first value after the update."""
    firsts: dict[str, Binding] = {}
    used: dict[str, Binding] = {}  # what the computation starts from: re-bound before it (W1 = W1 * 0.5)
    read = definition.reading(False)
    names = {s.name for s in definition.inputs}
    of_inputs = {p for n in names for p in read.get(n, ())}
    computed = _numeric(outcome, [p for q, ps in read.items() if q not in names for p in ps if p not in of_inputs])
    start = computed[0].statement if computed else None
    for spec in definition.inputs:
        bound = _numeric(outcome, read.get(spec.name, ()))
        if bound:
            firsts[spec.name] = bound[0]
            before = [b for b in bound if start is not None and b.statement < start]
            used[spec.name] = before[-1] if before else bound[0]
    inputs = {n: b.value.tensor for n, b in used.items() if b.value.tensor is not None}
    observed = Observed(source=source, seed=seed, cell={}, inputs=inputs)
    rate = next((s.name for s in definition.inputs if s.kind == "rate"), None)
    if rate is not None and rate not in inputs and definition.lr is not None:
        inputs[rate] = torch.tensor(definition.lr, dtype=torch.float64)  # no lr of its own: the assignment's
    missing = [s.name for s in definition.inputs if s.name not in inputs]
    end = _step_end(outcome, definition, used)
    for quantity, paths in read.items():
        if quantity in firsts:
            observed.values[quantity] = firsts[quantity].value
            observed.cells[quantity] = firsts[quantity].label
            continue
        bound = _numeric(outcome, paths)
        own = set(read.get(quantity[len(NEW) :], ())) if quantity.startswith(NEW) else set()  # W's own paths
        if quantity.startswith(NEW):  # the first value after the update; else W_new as W (no step)
            param = used.get(quantity[len(NEW) :])
            after = [b for b in bound if param is None or b.statement > param.statement]
            moved = [b for b in after if param is None or not _same(b.value, param.value)]
            unmoved = [b for b in after if b.name not in own]
            chosen = _settled(outcome.history, moved[0]) if moved else (unmoved[-1] if unmoved else None)
        else:
            before = [b for b in bound if end is None or b.statement <= end]
            chosen = before[-1] if before else (bound[0] if bound else None)
        if chosen is None:
            anything = [b for b in outcome.history if b.name in set(paths) - own]  # W itself: the input
            observed.why[quantity] = (
                f"{anything[-1].name} is {anything[-1].value.description or anything[-1].value.kind}, not numbers"
                if anything
                else f"{' / '.join(paths)} was never defined: the submission stopped before it ({outcome.error})"
                if outcome.error is not None
                else f"{' / '.join(paths)} is never defined"
            )
        else:
            observed.values[quantity] = chosen.value
            observed.cells[quantity] = chosen.label
    if missing:
        observed.not_judged = f"{', '.join(missing)} never defined: nothing to compute the truth from"
    return observed


def _settled(history: Sequence[Binding], first: Binding) -> Binding:
    """``first`` as it stands once the statements right after it that change it in place are done
    (``W_new = torch.zeros_like(W)`` then ``W_new[:] = W - lr * dW``): the update, made in steps."""
    at = next(i for i, b in enumerate(history) if b is first)
    while at + 1 < len(history) and history[at + 1].name == first.name:
        at += 1
    return history[at]


def _not_the_graders(observed: Observed, own: Observed, definition: Definition, seed: int, turn: int) -> str | None:
    """Why a grader run did not use the grader's inputs, or ``None`` (each input the submission's own
    run bound replaceably must have been bound first to what the grader drew)."""
    for spec in definition.inputs:
        mine = own.values.get(spec.name)
        if mine is None or mine.tensor is None or not _replaceable(mine, spec.kind == "labels"):
            continue
        got = observed.values.get(spec.name)
        if got is None or got.tensor is None:
            return f"{spec.name} was never bound"
        shape = () if mine.kind == "number" else tuple(mine.tensor.shape)
        drawn = wire.draw_entries(substitution_of(definition, spec, 0, seed, turn), shape)
        bound = got.tensor.reshape(-1).tolist()  # Python floats: a few dozen, no torch op per input
        if len(drawn) != len(bound) or not all(abs(b - a) <= 1e-2 * abs(a) for a, b in zip(drawn, bound)):
            return f"{spec.name} is not the value the grader drew"
    return None


def _replaceable(value: Value, labels: bool) -> bool:
    if value.kind == "number":
        return True
    return (value.dtype in FLOAT_DTYPES) != labels if value.kind in wire.ARRAY_KINDS else False


def script_substitutions(definition: Definition, seed: int, turn: int = 0) -> dict[str, wire.Substitution]:
    """What the grader's run ``turn`` (seed ``seed``) replaces: every path of every input."""
    read = definition.reading(False)
    return {
        path: substitution_of(definition, spec, 0, seed, turn)
        for spec in definition.inputs
        for path in read.get(spec.name, ())
    }


def observe_script_runs(own: Outcome, grader: Sequence[tuple[int, Outcome]], definition: Definition) -> list[Observed]:
    first = observe_script(own, definition, "own", None)
    observed = [first]
    for turn, (seed, outcome) in enumerate(grader):  # in the order the grader drew them
        o = observe_script(outcome, definition, "grader", seed)
        o.not_judged = o.not_judged or _not_the_graders(o, first, definition, seed, turn)
        observed.append(o)
    return observed


# ---------------------------------------------------------------- steps (functions, objects)


def _argument(
    arg: Any,
    definition: Definition,
    inputs: Mapping[str, Tensor],
    truth: Truth,
    cell: Mapping[str, Any],
    run: int,
    handles: set[str],
    dtype: str,
    numpy: bool,
) -> dict[str, Any]:
    if isinstance(arg, str) and arg.startswith("$$"):
        return wire.literal(arg[1:])
    if isinstance(arg, str) and arg.startswith("$"):
        name = arg[1:]
        if name in handles:
            return wire.ref(name)
        if name in cell:
            return wire.literal(cell[name])
        if name in definition.sizes:
            return wire.literal(definition.sizes_of(run)[name])
        value = truth.values[name]
        spec = definition.input(name)
        if spec is not None and spec.kind == "labels":
            return encode_argument(value, "int64", numpy)
        return encode_argument(value, dtype, numpy)
    if isinstance(arg, list):
        return wire.literal([a for a in arg])
    return wire.literal(arg)


def _target(text: str, cell: Mapping[str, Any]) -> str:
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: str(cell.get(m.group(1), m.group(0))), text)


def argument_dtype(definition: Definition, outcome: Outcome) -> str:
    """The dtype the steps' arguments come in: the convention's, or (``"own"``) that of the file's own
    first parameter where it binds one (float32 where it binds none: torch's default)."""
    if definition.dtype != "own":
        return definition.dtype
    paths = set(definition.reading(False).get(definition.parameters[0], ())) if definition.parameters else set()
    bound = next((b for b in outcome.history if b.name in paths and b.value.dtype in ("float32", "float64")), None)
    return str(bound.value.dtype) if bound is not None else "float32"


def argument_array(definition: Definition, imports: frozenset[str]) -> bool:
    """Whether the steps pass numpy arrays: the convention's, or (``"own"``) where the file imports
    numpy and not torch."""
    if definition.array != "own":
        return definition.array == "numpy"
    return "numpy" in imports and "torch" not in imports


def observe_steps(
    session: Session,
    definition: Definition,
    seed: int,
    defined: set[str] | None = None,
    dtype: str = "float64",
    own: Mapping[str, Tensor] | None = None,
    numpy: bool | None = None,
) -> list[Observed]:
    """Every run and variant cell: the grader's inputs drawn, its steps run in the child, the
    quantities read back (a failed step is what every value it should have made reports).
    ``defined``: the steps' functions the file defines, where known; a step calling another is not
    run, and what it would have made is missing (a file that writes ``forward`` but no ``update``).
    ``own``: the file's own inputs (its globals), where it binds every one: a first run on them, so
    that a function right only there (it reads the notebook's globals) is told apart."""
    numpy = definition.array == "numpy" if numpy is None else numpy
    roots = set(definition.step_roots())
    skipped = {
        s.keep_as: f"{root} is never defined"
        for s in definition.steps
        if s.keep_as and defined is not None and (root := root_of(s.target)) in roots and root not in defined
    }
    observed: list[Observed] = []
    plan: list[tuple[str, int | None, int, Mapping[str, Tensor]]] = [
        ("grader", run_seed, run, draw_inputs(definition, run, run_seed))
        for run, run_seed in enumerate(run_seeds(seed, definition.runs))
    ]
    if own is not None and definition.cells() == [{}]:
        try:
            own_truth = truth_of(definition, own, {})
        except SpecError:  # its own values do not fit the network (another shape): the grader's only
            own_truth = None
        if own_truth is not None:
            plan.insert(0, ("own", None, 0, own))
    for source, run_seed, run, inputs in plan:
        for cell in definition.cells():
            truth = truth_of(definition, inputs, cell)
            o = Observed(source, run_seed, cell, dict(inputs), truth=truth, stepped=True, arguments=dtype)
            handles: set[str] = set()
            failed: str | None = None
            for step in definition.steps:
                if step.keep_as in skipped:
                    continue
                target = _target(step.target, cell)
                args = [_argument(a, definition, inputs, truth, cell, run, handles, dtype, numpy) for a in step.args]
                kwargs = {
                    k: _argument(v, definition, inputs, truth, cell, run, handles, dtype, numpy)
                    for k, v in step.kwargs.items()
                }
                result = session.step(step.action, target, args, kwargs, step.keep_as)
                if step.keep_as:
                    handles.add(step.keep_as)
                if result.error is not None and failed is None:
                    failed = f"{target}{'()' if step.action == 'call' else ''} raised {result.error}"
                if not session.callable:
                    break
            o.step_error = failed
            for quantity, paths in definition.reading(True).items():
                missing = {skipped[h] for h in skipped if all(root_of(p) == h for p in paths)}
                if missing:
                    o.why[quantity] = missing.pop()
                    continue
                why = []
                for path in paths:
                    got = session.step(wire.STEP_GET, _target(path, cell))
                    if got.value is not None and got.value.tensor is not None:
                        o.values[quantity] = got.value
                        break
                    why.append(
                        f"{path}: {got.error.type if got.error else (got.value.description if got.value else '?')}"
                    )
                else:
                    o.why[quantity] = failed or f"cannot read it ({'; '.join(why)})"
            observed.append(o)
            if not session.callable:
                return observed
    return observed


# ---------------------------------------------------------------- judging


def _tolerance(assignment: Assignment, value: Value, observed: Observed) -> Tolerance:
    """By the value's dtype; a plain number (``loss.item()``) by the least precise float dtype of the
    run's inputs (after steps: of the arguments they were given), the precision it was computed in
    (a float32 loss made a Python float is float32)."""
    if value.kind != "number":
        return assignment.tolerance(value.dtype if value.dtype in FLOAT_DTYPES else "float64")
    dtypes = {v.dtype for n, v in observed.values.items() if n in observed.inputs and v.dtype in FLOAT_DTYPES}
    if observed.stepped:
        dtypes = {observed.arguments}
    return max((assignment.tolerance(d) for d in dtypes or {"float64"}), key=lambda t: (t.rtol, t.atol))


def _judge_value(
    quantity: str, value: Value, expected: Tensor, assignment: Assignment, definition: Definition, observed: Observed
) -> tuple[bool, str, dict[str, Any]]:
    assert value.tensor is not None
    shown = definition.display_names.get(quantity, quantity)
    submitted, note = fit(value.tensor, expected)
    if submitted is not None and note is not None and definition.orientation != "either":
        return (
            False,
            f"{shown} has shape {tuple(value.tensor.shape)}; expected {tuple(expected.shape)}",
            {"shape": (tuple(value.tensor.shape), tuple(expected.shape))},
        )
    if submitted is None:
        return (
            False,
            f"{shown} has shape {tuple(value.tensor.shape)}; expected {tuple(expected.shape)}",
            {"shape": (tuple(value.tensor.shape), tuple(expected.shape))},
        )
    tol = _tolerance(assignment, value, observed)
    return _judged(compare(submitted, expected, tol), tol, note, submitted, f"{shown} is wrong: the largest error is")


def _judge(
    quantity: str, value: Value, o: Observed, assignment: Assignment, definition: Definition
) -> tuple[bool, str, dict[str, Any]]:
    """``quantity`` on run ``o``, as every check judges it: an update as a rule, a forward value
    against the truth or else against the submission's own wrong inputs to it, any other value
    against the truth."""
    assert o.truth is not None
    if quantity.startswith(NEW):
        return _judge_update(quantity, value, o, assignment, definition)
    judged = _judge_value(quantity, value, o.truth.values[quantity], assignment, definition, o)
    if not judged[0] and "shape" not in judged[2] and definition.is_forward(quantity):
        return _on_own_upstream(quantity, value, o, assignment, definition) or judged
    return judged


def _judge_update(
    quantity: str, value: Value, o: Observed, assignment: Assignment, definition: Definition
) -> tuple[bool, str, dict[str, Any]]:
    """``new.<p>`` as a rule: its step ``new − p`` against ``−lr · (the submission's own grad.<p>)``
    where the run exposes that gradient (a wrong gradient costs its own check, not the update's
    too), else against the true gradient.  The step is compared, not the new value: a wrong
    learning rate must not hide in the weights' rounding."""
    assert value.tensor is not None and o.truth is not None
    p = quantity[len(NEW) :]
    weights = o.truth.values[p].to(torch.float64)
    shown = definition.display_names.get(quantity, quantity)
    submitted, note = fit(value.tensor, weights)
    if submitted is None or (note is not None and definition.orientation != "either"):
        got = tuple(value.tensor.shape)
        return (
            False,
            f"{shown} has shape {got}; expected {tuple(weights.shape)}",
            {"shape": (got, tuple(weights.shape))},
        )
    gradient = o.truth.values[GRAD + p]
    own = None if o.stepped else o.values.get(GRAD + p)  # steps: the update was given the true gradient
    if own is not None and own.tensor is not None:
        fitted, turned = fit(own.tensor, gradient)
        if fitted is not None and (turned is None or definition.orientation == "either"):
            gradient = fitted
        elif fitted is None:  # a gradient of the wrong shape that broadcasts: the update applies it so
            try:
                gradient = torch.broadcast_to(own.tensor.to(torch.float64), gradient.shape)
            except RuntimeError:
                pass
    lr = learning_rate(definition, o.inputs)
    assert lr is not None  # parse_definition refuses new.* without one
    step = submitted.to(torch.float64) - weights
    expected = -lr * gradient.to(torch.float64)
    dtype = value.dtype if value.dtype in FLOAT_DTYPES else "float64"
    tol = update_tolerance(_tolerance(assignment, value, o), weights, torch.finfo(getattr(torch, dtype)).eps)
    words = f"{shown} is wrong: its step from {definition.display_names.get(p, p)} has the largest error"
    return _judged(compare(step, expected, tol), tol, note, submitted, words, f", lr = {lr:g}")


def _judged(
    cmp: Comparison, tol: Tolerance, note: str | None, submitted: Tensor, words: str, after: str = ""
) -> tuple[bool, str, dict[str, Any]]:
    """A comparison as (ok, message, what the check and the diagnosis read); the message is ``words``
    and the worst entry ("dW1 is wrong: the largest error is 0.2 at [0, 1] (yours ..., expected ...)")."""
    if cmp.ok:
        return True, "", {"max_abs": cmp.max_abs, "max_rel": cmp.max_rel, "tolerance": str(tol), "note": note}
    worst = cmp.worst[0]
    where = f" at {list(worst.index)}" if worst.index else ""
    message = (
        f"{words} {worst.abs_error:.3g}{where} (yours {worst.submitted:.6g}, expected {worst.expected:.6g}{after})"
    )
    extra = {"max_abs": cmp.max_abs, "max_rel": cmp.max_rel, "worst": cmp.worst, "tolerance": str(tol)}
    if cmp.errors.dim() in (1, 2):  # per entry, for the report's heat map
        extra["errors"] = tuple(
            tuple(float(v) for v in row) for row in cmp.errors.reshape(cmp.errors.shape[0], -1).tolist()
        )
    return False, message, {**extra, "submitted": submitted}


def _on_own_upstream(
    quantity: str, value: Value, o: Observed, assignment: Assignment, definition: Definition
) -> tuple[bool, str, dict[str, Any]] | None:
    """A forward value judged on the submission's own values it is made from, where those are wrong
    (``E`` right for its own wrong ``Y_cap``): the mistake costs the check of the value that has it,
    not every check after it too.  ``None``: nothing it is made from is exposed and wrong."""
    assert o.truth is not None
    wrong = {}
    for before in o.truth.inputs_of.get(quantity, ()):
        mine = o.values.get(before)
        if mine is None or mine.tensor is None or not definition.is_forward(before):
            continue
        if not _judge_value(before, mine, o.truth.values[before], assignment, definition, o)[0]:
            wrong[before] = mine.tensor
    if not wrong:
        return None
    expected = recomputed(definition, o.inputs, o.cell, wrong).get(quantity)
    if expected is None:
        return None
    ok, _, extra = _judge_value(quantity, value, expected, assignment, definition, o)
    if not ok:
        return None
    shown = definition.display_names
    mine_words = ", ".join(shown.get(b, b) for b in wrong)
    return True, "", {**extra, "note": f"right for your own {mine_words}, which is wrong (its own check says so)"}


def _run_words(o: Observed) -> str:
    where = "on your own inputs" if o.source == "own" else "on inputs the grader chose"
    return f"{where}{' (' + Definition.cell_label(o.cell) + ')' if o.cell else ''}"


def placed(
    check: CheckResult, definition: Definition, observed: Sequence[Observed], cells: Sequence[Cell], stepped: bool
) -> CheckResult:
    """``check`` with the notebook cell it is about (its feedback goes after it): for a script, the
    cell that bound the value it failed on in the file's own run, else the last of its values; after
    the steps, the cell that defines the function whose result it reads."""
    spec = next((c for c in definition.checks if c.name == check.name.split("[")[0]), None)
    if spec is None or check.cell is not None:
        return check
    if not stepped:
        own = next((o for o in observed if o.source == "own"), None)
        failed = check.evidence.quantity if check.evidence is not None else None
        values = [failed] if failed in spec.values else list(spec.values)
        labels = [own.cells[q] for q in values if own is not None and own.cells.get(q)]
        return replace(check, cell=labels[-1]) if labels else check
    handles = {s.keep_as: root_of(s.target) for s in definition.steps if s.keep_as}
    roots = [handles[root_of(p)] for q in spec.values for p in definition.read.get(q, ()) if root_of(p) in handles]
    cell = next((c for c in (defined_in(cells, r) for r in roots) if c), None)
    return replace(check, cell=cell) if cell else check


def check_defined(observed: Sequence[Observed], assignment: Assignment) -> list[CheckResult]:
    """Every check of the assignment over every observed run (and cell)."""
    definition = assignment.definition
    assert definition is not None
    for o in observed:
        if o.truth is None and o.not_judged is None:
            _own_truth(o, definition)
    results = []
    cells = definition.cells()
    readable = definition.reading(bool(observed) and observed[0].stepped)
    for check in definition.checks:
        values = tuple(v for v in check.values if v in readable)  # a script has no sigmoid() to call
        if not values:
            if assignment.max_points(check.name) > 0:
                results.append(_check_one(check.name, check.values, observed, assignment, definition, len(cells)))
            continue
        if check.per_variant and cells != [{}]:
            for cell in cells:
                name = f"{check.name}[{definition.cell_label(cell)}]"
                mine = [o for o in observed if dict(o.cell) == cell]
                results.append(_check_one(name, values, mine, assignment, definition, 1))
        else:
            results.append(_check_one(check.name, values, observed, assignment, definition, len(cells)))
    return results


def _own_truth(o: Observed, definition: Definition) -> None:
    """The truth of a script's run on its own inputs; a weight stored transposed (``W1`` as (3, 4)
    where the reference takes (4, 3)) is read as its transpose; inputs the reference cannot take at
    all leave the run not judged (why, in its words)."""
    try:
        o.truth = truth_of(definition, o.inputs, o.cell)
        return
    except SpecError as exc:
        failed = str(exc)
    flippable = [
        s.name
        for s in definition.inputs
        if s.parameter and s.name in o.inputs and o.inputs[s.name].dim() == 2 and not _square(o.inputs[s.name])
    ]
    tries = [[n] for n in flippable] + ([flippable] if len(flippable) > 1 else [])
    for names in tries:
        inputs = {k: v.T if k in names else v for k, v in o.inputs.items()}
        try:
            o.truth = truth_of(definition, inputs, o.cell)
        except SpecError:
            continue
        o.inputs = inputs
        o.read_as = {n: f"{n} is stored transposed {tuple(o.inputs[n].T.shape)}: read as its transpose" for n in names}
        return
    o.not_judged = f"its own inputs do not fit the assignment ({failed.split(': ', 1)[-1]})"


def _square(t: Tensor) -> bool:
    return t.shape[0] == t.shape[1]


def _check_one(
    name: str,
    quantities: Sequence[str],
    observed: Sequence[Observed],
    assignment: Assignment,
    definition: Definition,
    cells: int,
) -> CheckResult:
    max_score = assignment.max_points(name)
    judged = [o for o in observed if o.not_judged is None]
    runs = tuple(o.run_data() for o in observed)
    shown = definition.display_names
    what = ", ".join(shown.get(q, q) for q in quantities)
    if not judged:
        why = observed[0].not_judged if observed else "the submission did not run"
        first = observed[0] if observed else None
        absent = first is not None and all(  # a file that never defines any of it: missing, not an error
            q not in first.values and first.why.get(q, "is never defined").endswith("is never defined")
            for q in quantities
        )
        if absent:
            return CheckResult(name, "missing", 0.0, max_score, f"{what} is never defined.", runs=runs)
        return CheckResult(name, "error", 0.0, max_score, f"{what} cannot be judged: {why}.", runs=runs)
    failing: dict[str, tuple[Observed, str, dict[str, Any], str]] = {}  # cell label -> first failure
    wrong_on: set[int] = set()  # the runs (ids) on which a value was wrong
    passed: dict[str, bool] = {}
    worst_pass: dict[str, Any] = {}
    notes: list[str] = []
    for o in judged:
        label = definition.cell_label(o.cell)
        assert o.truth is not None
        for quantity in quantities:
            value = o.values.get(quantity)
            if value is None:
                why = o.why.get(quantity, "is never defined")
                status = "missing" if why.endswith("is never defined") else "error"  # not numbers, or it stopped
                failing.setdefault(label, (o, f"{o.why.get(quantity, quantity + ' is never defined')}", {}, status))
                continue
            ok, message, extra = _judge(quantity, value, o, assignment, definition)
            if not ok and o.step_error is not None:  # what a step that raised left behind
                message = f"{message} (read after {o.step_error})"
            if not ok:
                wrong_on.add(id(o))
                failing.setdefault(label, (o, message, {**extra, "quantity": quantity}, "fail"))
            elif extra.get("note") and f"{shown.get(quantity, quantity)}: {extra['note']}" not in notes:
                notes.append(f"{shown.get(quantity, quantity)}: {extra['note']}")
            elif ok and not worst_pass:
                worst_pass = extra
        for name, note in o.read_as.items():  # how an input of the quantities judged here was read
            if note not in notes and any(q.split(".")[-1] == name for q in quantities):
                notes.append(note)
        passed.setdefault(label, label not in failing)
        if label in failing:
            passed[label] = False
    good = sum(1 for v in passed.values() if v)
    total = max(len(passed), 1)
    skipped = [o for o in observed if o.not_judged is not None]
    if skipped:
        notes.append(f"{len(skipped)} run(s) not judged: {skipped[0].not_judged}")
    if not failing:
        return CheckResult(
            name,
            "pass",
            max_score,
            max_score,
            f"{what} {'is' if len(quantities) == 1 else 'are'} correct"
            + (f" on every run ({len(judged)})." if len(judged) > 1 else "."),
            max_abs_error=worst_pass.get("max_abs"),
            max_rel_error=worst_pass.get("max_rel"),
            tolerance=str(worst_pass.get("tolerance", "")),
            notes=tuple(notes),
            runs=runs,
        )
    o, message, extra, status = next(iter(failing.values()))
    score = round(max_score * good / total, 6) if cells > 1 and total > 1 else 0.0
    if cells > 1 and total > 1:
        message = f"{message} {_run_words(o)}; right in {good} of {total} cells."
    else:
        message = f"{message} {_run_words(o)}."
    evidence = None
    if status == "fail" and "submitted" in extra and o.truth is not None:
        quantity = str(extra["quantity"])
        evidence = _value_evidence(
            quantity,
            o,
            _failing_runs(quantity, o, judged, assignment, definition),
            assignment,
            definition,
            shown,
            own_right=_own_right(quantity, judged, assignment, definition),
        )
    diagnosis = None
    if "shape" in extra:
        got, want = extra["shape"]
        quantity = str(extra["quantity"])
        of = f", the shape of {quantity[len(GRAD) :]}" if quantity.startswith(GRAD) else ""
        diagnosis = Diagnosis(
            "wrong-shape", f"{shown.get(quantity, quantity)} should have shape {want}{of}; yours is {got}."
        )
        if len(want) == 2 and tuple(got) == tuple(reversed(want)):
            diagnosis = Diagnosis(
                "transposed",
                f"{shown.get(quantity, quantity)} has shape {got}, the transpose of {want}{of}: check the "
                "order of the matrix product.",
            )
            evidence = _transposed_evidence(quantity, o, judged, assignment, definition, shown, diagnosis)
            if evidence is not None:  # the value rules look at the transpose: a second mistake may be in it
                diagnosis = None
        kept = len(got) == len(want) and all(g == w or w == 1 for g, w in zip(got, want))  # keepdim, not summed
        operand = _wrong_shaped_operand(quantity, o, judged, assignment, definition, shown)
        if operand is not None:
            diagnosis = operand
        elif kept or (len(got) == len(want) + 1 and (tuple(got[1:]) == tuple(want) or tuple(got[:-1]) == tuple(want))):
            diagnosis = Diagnosis(
                "missing-batch-sum",
                f"{shown.get(quantity, quantity)} has shape {got}: it is not summed over the dimension along "
                f"which its value was broadcast (the gradient of a broadcast value adds up every use; shape {want}{of}).",
            )
        elif diagnosis is not None and diagnosis.id == "wrong-shape" and o.truth is not None:
            broadcast = summed_over_wrong_axis(got, want, (tuple(v.shape) for v in o.truth.values.values()))
            if broadcast is not None:
                diagnosis = Diagnosis(
                    "missing-batch-sum",
                    f"{shown.get(quantity, quantity)} has shape {got}: it is summed over the wrong dimension "
                    f"(its value was broadcast to shape {broadcast}; the gradient adds up every use along the "
                    f"dimensions that broadcast made, to shape {want}{of}).",
                )
    fixed = _fixed_sizes(what, judged, wrong_on) if status == "fail" else None
    if fixed is not None and (evidence is None or diagnosis is not None):  # a shape at other sizes: their cause
        diagnosis, evidence = fixed, None
    elif fixed is not None and evidence is not None:  # what to say where no rule explains the numbers
        evidence = replace(evidence, fallback=evidence.fallback or fixed)
    return CheckResult(
        name,
        "fail" if status == "fail" else status,  # type: ignore[arg-type]
        score,
        max_score,
        message,
        max_abs_error=extra.get("max_abs"),
        max_rel_error=extra.get("max_rel"),
        worst=tuple(extra.get("worst", ())),
        errors=extra.get("errors"),
        tolerance=str(extra.get("tolerance", "")),
        notes=tuple(notes),
        runs=runs,
        diagnosis=diagnosis,
        evidence=evidence,
    )


def _fixed_sizes(what: str, judged: Sequence[Observed], wrong_on: set[int]) -> Diagnosis | None:
    """Right on every run at some sizes of the network, wrong on every run at the others the
    assignment allows (its [sizes] lists): sizes written into the code."""

    def sizes(o: Observed) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(v.shape) for v in o.inputs.values())

    right = {sizes(o) for o in judged if id(o) not in wrong_on}
    wrong = {sizes(o) for o in judged if id(o) in wrong_on}
    if not right or not wrong or right & wrong:
        return None
    return Diagnosis(
        "fixed-sizes",
        f"{what} is right at the network's first sizes but wrong at the other sizes the assignment allows: "
        "are sizes written into the code (range(4), a literal shape)?",
    )


def _transposed_evidence(
    quantity: str,
    first: Observed,
    judged: Sequence[Observed],
    assignment: Assignment,
    definition: Definition,
    shown: Mapping[str, str],
    fallback: Diagnosis,
) -> ValueEvidence | None:
    """The evidence of a 2-D value submitted transposed, with the transpose as the submitted value (and
    every run of that variant cell where it is transposed likewise): ``None`` where there is none."""
    runs = []
    for o in _same_cell(first, judged):
        value = o.values.get(quantity)
        if value is None or value.tensor is None or o.truth is None:
            continue
        expected = o.truth.values[quantity]
        if expected.dim() != 2 or tuple(value.tensor.shape) != tuple(reversed(expected.shape)):
            continue
        runs.append(ValueRun(o.inputs, o.cell, value.tensor.T.to(torch.float64), _read_values(o, quantity)))
    if not runs or first.truth is None:
        return None
    return _value_evidence(
        quantity, first, tuple(runs), assignment, definition, shown, transposed=True, fallback=fallback
    )


def _value_evidence(
    quantity: str,
    first: Observed,
    runs: tuple[ValueRun, ...],
    assignment: Assignment,
    definition: Definition,
    shown: Mapping[str, str],
    *,
    own_right: bool = False,
    transposed: bool = False,
    fallback: Diagnosis | None = None,
) -> ValueEvidence:
    """What the diagnose stage reads about ``quantity`` failing: ``first``'s run (its truth, what else it
    computed) and every failing run of its cell (``runs``, the first being ``first``'s)."""
    assert first.truth is not None
    tol = _tolerance(assignment, first.values[quantity], first)
    return ValueEvidence(
        quantity=quantity,
        submitted=runs[0].submitted,
        expected=first.truth.values[quantity],
        truths=first.truth.values,
        read=_read_values(first, quantity),
        consumers={n: first.truth.consumers(n) for n in first.truth.order},
        names=dict(shown),
        rtol=tol.rtol,
        atol=tol.atol,
        definition=definition,
        runs=runs,
        own_right=own_right,
        transposed=transposed,
        fallback=fallback,
    )


def _wrong_shaped_operand(
    quantity: str,
    first: Observed,
    judged: Sequence[Observed],
    assignment: Assignment,
    definition: Definition,
    shown: Mapping[str, str],
) -> Diagnosis | None:
    """A value of the wrong shape made with another operand, the same on every run of ``first``'s cell."""
    runs = []
    for o in _same_cell(first, judged):
        value = o.values.get(quantity)
        if value is not None and value.tensor is not None:
            runs.append((o.inputs, o.cell, value.tensor))
    value = first.values.get(quantity)
    if value is None:
        return None
    tol = _tolerance(assignment, value, first)
    try:
        return wrong_shaped_operand(definition, quantity, runs, shown, tol.atol, tol.rtol)
    except Exception:  # advice only: a rule that cannot be evaluated gives none
        return None


def _failing_runs(
    quantity: str, first: Observed, judged: Sequence[Observed], assignment: Assignment, definition: Definition
) -> tuple[ValueRun, ...]:
    """Every judged run of ``first``'s variant cell on which ``quantity`` was read and is wrong, ``first``
    first: a diagnosis must reproduce each."""
    runs = []
    for o in _same_cell(first, judged):
        value = o.values.get(quantity)
        if value is None or value.tensor is None or o.truth is None:
            continue
        ok, _, extra = _judge(quantity, value, o, assignment, definition)
        if not ok and "submitted" in extra:
            runs.append(ValueRun(o.inputs, o.cell, extra["submitted"], _read_values(o, quantity)))
    return tuple(runs)


def _own_right(quantity: str, judged: Sequence[Observed], assignment: Assignment, definition: Definition) -> bool:
    """Whether ``quantity`` is right on the submission's own run (and so wrong only on the grader's)."""
    for o in judged:
        value = o.values.get(quantity)
        if o.source == "own" and value is not None and value.tensor is not None and o.truth is not None:
            return _judge(quantity, value, o, assignment, definition)[0]
    return False


def _same_cell(first: Observed, judged: Sequence[Observed]) -> list[Observed]:
    """``first``, then every other judged run of its variant cell: what a diagnosis must explain."""
    return [first, *(o for o in judged if o is not first and dict(o.cell) == dict(first.cell))]


def _read_values(o: Observed, quantity: str) -> dict[str, Tensor]:
    """What else the run exposes; for an update after steps, not the gradients (the step was given
    the true ones)."""
    given = o.stepped and quantity.startswith(NEW)
    return {q: v.tensor for q, v in o.values.items() if v.tensor is not None and not (given and q.startswith(GRAD))}
