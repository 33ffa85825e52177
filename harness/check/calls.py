"""The channel to a function-style submission, as the check stage sees it: cached calls on inputs the
grader chose, and the seeded generic problems those inputs come from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import torch
from torch import Tensor

from harness.records.assignment import Assignment
from harness.records.outcome import CallResult
from harness.records.problem import Problem
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
