"""gradproof: a verified-gradient test harness and teaching autograder.

The public API, re-exported lazily so that ``import harness`` (and the pytest
plugin) does not import torch until a name is used:

* gradient checks for any hand-written backward: :func:`check_gradients`,
  :func:`assert_gradients` and their records;
* the grading pipeline: :func:`grade_batch` and :class:`Assignment`;
* the error hierarchy of :mod:`harness.errors`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness.errors import GraderError, GradproofError, SandboxUnavailable, SpecError, SubmissionError, UsageError

if TYPE_CHECKING:
    from harness.batch import grade_batch
    from harness.gradients import GradientCheckResult, GradproofWarning, Mismatch, assert_gradients, check_gradients
    from harness.records import Assignment

_LAZY = {
    "Assignment": "harness.records",
    "grade_batch": "harness.batch",
    "check_gradients": "harness.gradients",
    "assert_gradients": "harness.gradients",
    "GradientCheckResult": "harness.gradients",
    "GradproofWarning": "harness.gradients",
    "Mismatch": "harness.gradients",
}

__all__ = [
    "Assignment",
    "GraderError",
    "GradientCheckResult",
    "GradproofError",
    "GradproofWarning",
    "Mismatch",
    "SandboxUnavailable",
    "SpecError",
    "SubmissionError",
    "UsageError",
    "assert_gradients",
    "check_gradients",
    "grade_batch",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
