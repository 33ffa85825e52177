"""Comparing a value with the truth: entry by entry within the dtype's tolerance, the worst entries
named in order of how far out of tolerance they are, a transposed or flat value fitted with a note."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import harness.check.compare as compare_module
from harness.check.compare import compare, fit
from harness.records.assignment import Assignment

A = Assignment()


def test_compare_never_passes_a_non_finite_entry_even_where_the_truth_is_huge() -> None:
    tol = A.tolerance("float32")
    assert not compare(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 1e30]), tol).ok
    assert not compare(torch.tensor([float("inf")]), torch.tensor([float("inf")]), tol).ok


def test_the_worst_entries_named_are_the_ones_out_of_tolerance_before_larger_errors_within_it() -> None:
    # float32 on the script's own 1000-wide sums: -165.0087 for -165.0084 is within rtol 1e-4; 0.0213
    # for 0.0214 is not, though its error is smaller
    tol = A.tolerance("float32")
    f64 = torch.float64
    cmp = compare(
        torch.tensor([-165.0087, 0.0213, 2.0], dtype=f64), torch.tensor([-165.0084, 0.0214, 2.0], dtype=f64), tol
    )
    assert not cmp.ok
    assert cmp.worst[0].index == (1,) and cmp.worst[1].index == (0,)
    assert cmp.max_abs == pytest.approx(3e-4, rel=1e-3)


_ENTRY = st.sampled_from([0.0, -0.0, 1.0, 0.5, -2.0, 1e-13, 3e-300, 1e308, -1e308, 0.1 + 0.2])
_SUBMITTED = _ENTRY | st.sampled_from([float("nan"), float("inf"), -float("inf")]) | st.floats(-4, 4)
_SHAPES = st.sampled_from([(), (1,), (3,), (1, 1), (4, 1), (3, 1), (4, 3), (2, 8), (16,), (0,), (0, 3)])


@given(_SHAPES, st.data(), st.sampled_from(["float32", "float64"]), st.integers(1, 5))
def test_compare_on_python_floats_finds_what_the_tensor_comparison_finds(
    shape: tuple[int, ...], data: st.DataObject, dtype: str, keep: int
) -> None:
    n = math.prod(shape)
    expected = torch.tensor(data.draw(st.lists(_ENTRY | st.floats(-4, 4), min_size=n, max_size=n)), dtype=torch.float64)
    submitted = torch.tensor(data.draw(st.lists(_SUBMITTED, min_size=n, max_size=n)), dtype=getattr(torch, dtype))
    expected, submitted = expected.reshape(shape), submitted.reshape(shape)
    tol = A.tolerance(dtype)
    small = compare_module._compare_small(submitted, expected, tol, keep)
    tensors = compare_module._compare_tensors(submitted, expected, tol, keep)
    assert small is not None
    # repr: the same floats to the last bit (a NaN equal to a NaN, -0.0 told from 0.0)
    assert repr((small.ok, small.worst, small.max_abs, small.max_rel)) == repr(
        (tensors.ok, tensors.worst, tensors.max_abs, tensors.max_rel)
    )
    assert small.errors.dtype == tensors.errors.dtype and small.errors.shape == tensors.errors.shape
    assert repr(small.errors.tolist()) == repr(tensors.errors.tolist())


def test_fit_reads_a_transposed_matrix_with_a_note_and_a_flat_vector_as_a_column() -> None:
    e = torch.zeros(4, 3)
    fitted, note = fit(torch.zeros(3, 4), e)
    assert fitted is not None and fitted.shape == (4, 3) and note and "transpose" in note
    fitted, note = fit(torch.zeros(3), torch.zeros(3, 1))
    assert fitted is not None and note is None
    assert fit(torch.zeros(5), e) == (None, None)
