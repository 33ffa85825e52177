"""Hypothesis strategies for gradient checks: well-conditioned floating-point tensors.

Finite differences are only as good as the point they are taken at: huge
entries make steps coarse, entries past a saturating nonlinearity make every
derivative vanish, and entries at a kink (``relu`` at 0) have no derivative.
:func:`well_conditioned_tensors` draws tensors whose entries are bounded (so
``tanh``/``sigmoid`` stay away from saturation) and, optionally, bounded away
from zero::

    from hypothesis import given
    from harness.gradients.strategies import well_conditioned_tensors, tensor_shapes

    @given(well_conditioned_tensors(tensor_shapes(max_dims=2), bound=1.0))
    def test_my_backward(x):
        assert_gradients(my_fn, x, my_grad)

Every entry is drawn by hypothesis (so failures shrink entry by entry); that
suits tensors of up to a few hundred entries.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import Tensor

from harness.errors import invalid

__all__ = ["tensor_shapes", "well_conditioned_tensors"]

_WIDTHS: dict[torch.dtype, Literal[16, 32, 64]] = {torch.float16: 16, torch.float32: 32, torch.float64: 64}
_NUMPY = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def tensor_shapes(
    *, min_dims: int = 1, max_dims: int = 2, min_side: int = 1, max_side: int = 6
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes with ``min_dims``–``max_dims`` dimensions of ``min_side``–``max_side`` each."""
    for name, value in (("min_dims", min_dims), ("max_dims", max_dims), ("min_side", min_side), ("max_side", max_side)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            invalid(name, value, "expected an int >= 0")
    if min_dims > max_dims:
        invalid("max_dims", max_dims, f"expected >= min_dims={min_dims}")
    if min_side > max_side:
        invalid("max_side", max_side, f"expected >= min_side={min_side}")
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def well_conditioned_tensors(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] = (),
    *,
    dtype: torch.dtype = torch.float64,
    bound: float = 1.0,
    min_magnitude: float = 0.0,
    requires_grad: bool = False,
) -> st.SearchStrategy[Tensor]:
    """Tensors of ``shape`` whose entries are finite, normal and ``min_magnitude <= |x| <= bound``.

    Args:
        shape: a fixed shape or a strategy for shapes (see :func:`tensor_shapes`).
        dtype: ``torch.float64`` (default), ``torch.float32`` or ``torch.float16``.
        bound: the largest magnitude; keep ``bound * fan_in`` moderate so that
            pre-activations stay off the flat tails of ``tanh``/``sigmoid``.
        min_magnitude: the smallest magnitude, to keep entries away from a kink
            at zero (``relu``, ``abs``); ``0`` allows zeros.
        requires_grad: whether the drawn tensors require grad.
    """
    if dtype not in _WIDTHS:
        invalid("dtype", dtype, f"expected one of {', '.join(map(str, _WIDTHS))}")
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 < bound < math.inf:
        invalid("bound", bound, "expected a finite number > 0")
    if isinstance(min_magnitude, bool) or not isinstance(min_magnitude, (int, float)) or not 0 <= min_magnitude < bound:
        invalid("min_magnitude", min_magnitude, f"expected a number in [0, bound={bound!r})")
    if not isinstance(shape, st.SearchStrategy):
        if not isinstance(shape, tuple) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
        ):
            invalid("shape", shape, "expected a tuple of ints >= 0 or a strategy for shapes")
    if not isinstance(requires_grad, bool):
        invalid("requires_grad", requires_grad, "expected a bool")

    arrays = hnp.arrays(
        _NUMPY[dtype], shape, elements=_entries(dtype, float(bound), float(min_magnitude)), fill=st.nothing()
    )
    return arrays.map(lambda a: torch.from_numpy(np.array(a)).requires_grad_(requires_grad))


def _entries(dtype: torch.dtype, bound: float, min_magnitude: float) -> st.SearchStrategy[float]:
    """Floats of ``dtype``'s width with ``min_magnitude <= |x| <= bound``, no subnormals."""
    width = _WIDTHS[dtype]
    high = _representable(bound, dtype, toward=0.0)
    if min_magnitude == 0:
        return st.floats(-high, high, width=width, allow_subnormal=False)
    low = _representable(min_magnitude, dtype, toward=math.inf)
    positive = st.floats(low, high, width=width, allow_subnormal=False)
    return st.one_of(positive, positive.map(lambda v: -v))


def _representable(value: float, dtype: torch.dtype, toward: float) -> float:
    """``value`` rounded to ``dtype``, moved one step ``toward`` if rounding crossed it."""
    kind = _NUMPY[dtype]
    rounded = kind(value)
    if (float(rounded) - value) * (toward - value) < 0:
        rounded = np.nextafter(rounded, kind(toward))
    return float(rounded)
