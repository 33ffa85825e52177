"""Function style: call the submission's functions (forward, loss, backward, update, helpers) on
inputs the grader draws, and judge each (the property search lives in :mod:`.properties`)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from harness.check.calls import Calls
from harness.check.script import History, problem_from
from harness.records.assignment import Assignment
from harness.records.outcome import Outcome
from harness.records.problem import Problem
from harness.records.report import RunData
from harness.records.result import CheckResult
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
    session: Session, outcome: Outcome, assignment: Assignment, dtype: str, as_numpy: bool, seed: int
) -> list[CheckResult]:
    """Judge a function-style submission: properties over generated inputs (:mod:`harness.check.properties`)."""
    from harness.check.properties import Runner  # lazy: hypothesis (≈ 0.3 s) only for what has functions

    runner = Runner(
        Calls(session, dtype, as_numpy), assignment, set(outcome.functions), seed, own=_own_problem(outcome, assignment)
    )
    order = ("forward", "loss", "dE_dW2", "dE_dW1", "update", "sigmoid", "sigmoid_grad")
    for name in ("forward", "loss", "dE_dW1", "dE_dW2", "update", "sigmoid", "sigmoid_grad"):
        runner.check(name)
    return [_with_runs(runner.results[name], runner) for name in order]


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
    session: Session, outcome: Outcome, assignment: Assignment, dtype: str, as_numpy: bool, seed: int
) -> list[CheckResult]:
    """``sigmoid`` and ``sigmoid_grad`` of a script-style submission, checked where defined."""
    helpers = [name for name in ("sigmoid", "sigmoid_grad") if name in outcome.functions]
    if not helpers:
        return []  # a plain script: no property search, so no hypothesis to import
    from harness.check.properties import Runner  # lazy: hypothesis (≈ 0.3 s) only for what has functions

    runner = Runner(Calls(session, dtype, as_numpy), assignment, set(outcome.functions), seed)
    return [runner.check(name) for name in helpers]
