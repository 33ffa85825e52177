"""A pytest plugin with the ``gradient_checker`` fixture.

Enable it in your top-level ``conftest.py``::

    pytest_plugins = ["harness.pytest_gradients"]

then::

    def test_my_layer_backward(gradient_checker):
        x = torch.randn(8, 5, dtype=torch.float64)
        gradient_checker(my_loss, x, my_grad)     # fails the test with the wrong entries

The fixture runs :func:`harness.gradients.check_gradients` with a seed derived
from the test's node id (stable from run to run, different between tests),
fails the test with the result's report when a gradient is wrong, and keeps
every result in ``gradient_checker.results``.  Importing this module does not
import torch.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from torch import Tensor

    from harness.gradients.check import GradFn, GradientCheckResult

__all__ = ["GradientChecker", "gradient_checker"]


class GradientChecker:
    """``check_gradients`` with a default seed that fails the current test on a wrong gradient."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.results: list[GradientCheckResult] = []

    def __call__(
        self,
        fn: Callable[..., Tensor],
        inputs: Tensor | Sequence[Tensor],
        grad_fn: GradFn | None = None,
        **options: Any,
    ) -> GradientCheckResult:
        """Check like :func:`~harness.gradients.check_gradients` (same keywords); fail the test if not ok."""
        from harness.gradients import check_gradients  # lazy: loading the plugin must not import torch

        options.setdefault("seed", self.seed)
        result = check_gradients(fn, inputs, grad_fn, **options)
        self.results.append(result)
        if not result.ok:
            pytest.fail(str(result), pytrace=False)
        return result


@pytest.fixture
def gradient_checker(request: pytest.FixtureRequest) -> GradientChecker:
    """A :class:`GradientChecker` seeded from the test's node id."""
    return GradientChecker(seed=zlib.crc32(request.node.nodeid.encode()))
