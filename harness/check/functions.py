"""Function style: call the submission's functions (forward, loss, backward, update, helpers) on
inputs the grader draws, and judge each (the property search lives in :mod:`.properties`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import torch
from torch import Tensor

from harness.check.script import History, problem_from
from harness.records.assignment import Assignment
from harness.records.outcome import CallResult, Outcome
from harness.records.problem import Problem
from harness.records.result import CheckResult
from harness.run.pool import Session
from harness.run.values import encode_argument


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
    from harness.check.properties import Runner

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
    from harness.check.properties import Runner

    runner = Runner(Calls(session, dtype, as_numpy), assignment, set(outcome.functions), seed)
    return [runner.check(name) for name in ("sigmoid", "sigmoid_grad") if name in runner.defined]
