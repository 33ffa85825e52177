"""The gradient library: check any hand-written gradient against finite differences, fast.

A small part of its own (the check stage uses it; it uses nothing of the grader but its errors):
:func:`check_gradients` and :func:`assert_gradients` here, hypothesis strategies in
:mod:`harness.gradients.strategies`, a pytest fixture in :mod:`harness.pytest_gradients`.
"""

from harness.gradients.check import (
    GradFn,
    GradientCheckResult,
    GradproofWarning,
    Mismatch,
    assert_gradients,
    check_gradients,
)

__all__ = ["GradFn", "GradientCheckResult", "GradproofWarning", "Mismatch", "assert_gradients", "check_gradients"]
