"""Function style: call the submission's functions (forward, loss, backward, update, helpers) on
inputs the grader draws, and judge each (the property search lives in :mod:`.properties`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.check.calls import Calls
from harness.check.script import History, problem_from
from harness.records.assignment import Assignment
from harness.records.outcome import Outcome
from harness.records.problem import Problem
from harness.records.report import RunData
from harness.records.result import CheckResult
from harness.records.submission import Cell
from harness.run.pool import Session

if TYPE_CHECKING:
    from harness.check.properties import Runner


def _own_problem(outcome: Outcome, assignment: Assignment) -> Problem | None:
    """The X, Y, W1, W2 a function-style submission also left in its globals (for ``instance-only``)."""
    history = History(outcome, assignment)
    values = {key: history.first(key) for key in ("X", "Y", "W1", "W2")}
    if any(values[k] is None for k in ("X", "W1", "W2")):
        return None
    problem, _ = problem_from(values)
    return problem


def check_functions(
    session: Session,
    outcome: Outcome,
    assignment: Assignment,
    dtype: str,
    as_numpy: bool,
    seed: int,
    cells: Sequence[Cell] = (),
) -> list[CheckResult]:
    """Judge a function-style submission: properties over generated inputs (:mod:`harness.check.properties`);
    each result carries the cell (of ``cells``) that defined the function it called, where known."""
    from harness.check.properties import Runner  # lazy: hypothesis (≈ 0.3 s) only for what has functions

    runner = Runner(
        Calls(session, dtype, as_numpy), assignment, set(outcome.functions), seed, own=_own_problem(outcome, assignment)
    )
    order = ("forward", "loss", "dE_dW2", "dE_dW1", "update", "sigmoid", "sigmoid_grad")
    for name in ("forward", "loss", "dE_dW1", "dE_dW2", "update", "sigmoid", "sigmoid_grad"):
        runner.check(name)
    return [_with_cell(_with_runs(runner.results[name], runner), cells) for name in order]


def _with_runs(result: CheckResult, runner: Runner) -> CheckResult:
    """The runs a function-style check was judged on: the grader's seeded generic inputs (their values
    first), hypothesis's examples from the same seed, and the submission's own inputs where they count."""
    if result.status == "missing":
        return result
    generic = runner.generic()
    runs: list[RunData] = [
        {
            "source": "grader",
            "seed": runner.seed,
            "values": {key: getattr(p, key).tolist() for key in ("X", "Y", "W1", "W2") for p in generic[:1]},
        }
    ]
    if runner.own is not None and result.name in ("forward", "dE_dW1", "dE_dW2"):
        runs.insert(
            0,
            {
                "source": "own",
                "seed": None,
                "values": {k: getattr(runner.own, k).tolist() for k in ("X", "Y", "W1", "W2")},
            },
        )
    return replace(result, runs=tuple(runs))


def check_helpers(
    session: Session,
    outcome: Outcome,
    assignment: Assignment,
    dtype: str,
    as_numpy: bool,
    seed: int,
    cells: Sequence[Cell] = (),
) -> list[CheckResult]:
    """``sigmoid`` and ``sigmoid_grad`` of a script-style submission, checked where defined (each with
    the cell that defined it, as :func:`check_functions`)."""
    helpers = [name for name in ("sigmoid", "sigmoid_grad") if name in outcome.functions]
    if not helpers:
        return []  # a plain script: no property search, so no hypothesis to import
    from harness.check.properties import Runner  # lazy: hypothesis (≈ 0.3 s) only for what has functions

    runner = Runner(Calls(session, dtype, as_numpy), assignment, set(outcome.functions), seed)
    return [_with_cell(runner.check(name), cells) for name in helpers]


def _with_cell(result: CheckResult, cells: Sequence[Cell]) -> CheckResult:
    if result.status == "missing":
        return result
    from harness.check.properties import FUNCTION_OF  # lazy: properties imports hypothesis

    return replace(result, cell=defined_in(cells, FUNCTION_OF[result.name]))


def defined_in(cells: Sequence[Cell], name: str) -> str | None:
    """The label of the last cell whose code binds ``name`` at module level (``def name``, ``class
    name``, ``name = ...``, ``import ... as name``, also inside a top-level ``if``/``try``/``with``/loop),
    read from its syntax tree; ``None`` where no cell does (it was made by ``exec``, say) or a cell
    cannot be parsed.  The last one, as the last definition run is the one called."""
    found = None
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if name in _module_bindings(tree.body):
            found = cell.label or None
    return found


def _module_bindings(body: Sequence[ast.stmt]) -> Iterator[str]:
    """The names statements at module level bind (not inside a function or class body)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from ((a.asname or a.name).split(".")[0] for a in node.names)
            continue
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            yield from _target_names(target)
        inner: list[ast.stmt] = []
        for part in ("body", "orelse", "finalbody"):  # if, for, while, with, try
            inner += [s for s in getattr(node, part, None) or [] if isinstance(s, ast.stmt)]
        for handler in getattr(node, "handlers", None) or []:
            inner += handler.body
        yield from _module_bindings(inner)


def _target_names(target: ast.expr) -> Iterator[str]:
    """The names an assignment target binds (``a``, ``a, *b``; not ``a[0]`` or ``a.b``)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)
