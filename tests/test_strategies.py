"""harness.gradients.strategies: well-conditioned tensors for hypothesis-driven gradient checks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from harness.errors import UsageError
from harness.gradients.strategies import tensor_shapes, well_conditioned_tensors


@settings(max_examples=50, deadline=None)
@given(x=well_conditioned_tensors((3, 4), bound=0.5))
def test_drawn_tensors_have_the_shape_dtype_and_bound_asked_for(x: Tensor) -> None:
    assert x.shape == (3, 4) and x.dtype == torch.float64 and not x.requires_grad
    assert bool(torch.isfinite(x).all()) and float(x.abs().max()) <= 0.5


@settings(max_examples=50, deadline=None)
@given(
    x=well_conditioned_tensors(tensor_shapes(max_dims=3, max_side=4), dtype=torch.float32, bound=0.7, min_magnitude=0.1)
)
def test_drawn_entries_stay_away_from_zero_when_asked(x: Tensor) -> None:
    assert x.dtype == torch.float32 and 1 <= x.dim() <= 3 and max(x.shape) <= 4
    assert float(x.abs().min()) >= 0.1 and float(x.abs().max()) <= 0.7


@settings(max_examples=30, deadline=None)
@given(x=well_conditioned_tensors((5,), dtype=torch.float16, bound=2.0, requires_grad=True))
def test_half_precision_tensors_can_require_grad(x: Tensor) -> None:
    assert x.dtype == torch.float16 and x.requires_grad
    assert float(x.detach().abs().max()) <= 2.0


@settings(max_examples=30, deadline=None)
@given(x=well_conditioned_tensors((4,), bound=1.0))
def test_no_entry_is_subnormal(x: Tensor) -> None:
    tiny = torch.finfo(torch.float64).tiny
    assert all(v == 0 or abs(v) >= tiny for v in x.tolist())


@given(shape=tensor_shapes(min_dims=2, max_dims=2, min_side=3, max_side=3))
def test_tensor_shapes_respects_its_limits(shape: tuple[int, ...]) -> None:
    assert shape == (3, 3)


@given(st.data())
def test_a_scalar_shape_draws_a_zero_dimensional_tensor(data: st.DataObject) -> None:
    x = data.draw(well_conditioned_tensors())
    assert x.shape == () and -1.0 <= float(x) <= 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: well_conditioned_tensors(dtype=torch.int32), r"^dtype=torch\.int32: expected one of"),
        (lambda: well_conditioned_tensors(bound=0.0), r"^bound=0\.0: expected a finite number > 0"),
        (lambda: well_conditioned_tensors(bound=math.inf), r"^bound=inf: "),
        (
            lambda: well_conditioned_tensors(bound=1.0, min_magnitude=1.0),
            r"^min_magnitude=1\.0: expected a number in \[0, bound=1\.0\)",
        ),
        (lambda: well_conditioned_tensors((2, -1)), r"^shape=\(2, -1\): expected a tuple of ints >= 0"),
        (lambda: well_conditioned_tensors([2, 3]), r"^shape=\[2, 3\]: "),  # type: ignore[arg-type]
        (lambda: well_conditioned_tensors(requires_grad=1), r"^requires_grad=1: expected a bool"),  # type: ignore[arg-type]
        (lambda: tensor_shapes(min_dims=3, max_dims=2), r"^max_dims=2: expected >= min_dims=3"),
        (lambda: tensor_shapes(min_side=-1), r"^min_side=-1: expected an int >= 0"),
    ],
)
def test_misuse_raises_a_usage_error(call: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call()  # type: ignore[operator]
