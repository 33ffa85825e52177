"""harness.gradients: detection, localisation, no false alarms, misuse, reports."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

from harness.errors import UsageError
from harness.gradients.check import (
    ENTRIES_MODE_MAX_PARAMETERS,
    GradientCheckResult,
    GradproofWarning,
    Mismatch,
    assert_gradients,
    check_gradients,
)
from harness.gradients.strategies import tensor_shapes, well_conditioned_tensors
from harness.pytest_gradients import GradientChecker
from reference.loop import random_problem
from reference.mlp import backward, forward

Grads = tuple[Tensor, Tensor]


class MLP:
    """A 2-layer tanh network with a squared-error loss and its hand-written backward."""

    def __init__(self, d_in: int, hidden: int, d_out: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.X = torch.randn(16, d_in, generator=gen, dtype=dtype)
        self.Y = torch.randn(16, d_out, generator=gen, dtype=dtype)
        self.W1 = torch.randn(d_in, hidden, generator=gen, dtype=dtype) / math.sqrt(d_in)
        self.W2 = torch.randn(hidden, d_out, generator=gen, dtype=dtype) / math.sqrt(hidden)

    @property
    def weights(self) -> Grads:
        return self.W1, self.W2

    def loss(self, W1: Tensor, W2: Tensor) -> Tensor:
        H = torch.tanh(self.X @ W1)
        return 0.5 * ((H @ W2 - self.Y) ** 2).sum()

    def backward(self, W1: Tensor, W2: Tensor) -> Grads:
        H = torch.tanh(self.X @ W1)
        dO = H @ W2 - self.Y
        # tanh' = 1 − tanh²
        dZ = (dO @ W2.T) * (1 - H * H)
        return self.X.T @ dZ, H.T @ dO


def planted(grad_fn: Callable[..., Grads], edits: dict[tuple[int, tuple[int, ...]], float]) -> Callable[..., Grads]:
    """``grad_fn`` with entries ``(input, index)`` multiplied by the given factors."""

    def wrong(*inputs: Tensor) -> Grads:
        grads = [g.clone() for g in grad_fn(*inputs)]
        for (k, index), factor in edits.items():
            grads[k][index] *= factor
        return grads[0], grads[1]

    return wrong


def found(result: GradientCheckResult) -> set[tuple[int, tuple[int, ...]]]:
    return {(m.input, m.index) for m in result.mismatches}


# ---------------------------------------------------------------- detection and localisation


def test_a_single_wrong_entry_is_found_and_localised() -> None:
    net = MLP(16, 48, 5)  # 1,008 parameters
    result = check_gradients(net.loss, net.weights, planted(net.backward, {(0, (3, 7)): 1 + 1e-3}))
    assert not result.ok
    assert result.mode == "directions"
    assert found(result) == {(0, (3, 7))}
    (m,) = result.mismatches
    true = float(net.backward(*net.weights)[0][3, 7])
    assert m.analytic == pytest.approx(true * (1 + 1e-3), rel=1e-12)
    assert m.numeric == pytest.approx(true, rel=1e-8)
    assert m.rel_error == pytest.approx(1e-3, rel=1e-4)
    assert m.abs_error == pytest.approx(abs(true) * 1e-3, rel=1e-4)


def test_a_wrong_entry_among_ten_thousand_costs_logarithmically_many_evaluations() -> None:
    net = MLP(64, 128, 14)  # 9,984 parameters
    result = check_gradients(net.loss, net.weights, planted(net.backward, {(1, (100, 3)): 1 - 1e-4}))
    assert found(result) == {(1, (100, 3))}
    # detection 2 × 6 and noise 7, then 2 halves × 6 per level: far below gradcheck's 2 P
    assert result.function_evaluations < 20 + 12 * math.ceil(math.log2(result.parameters)) + 6 * 5
    assert result.entries_checked <= 4


def test_errors_far_below_gradchecks_tolerance_are_found() -> None:
    net = MLP(8, 16, 3)
    wrong = planted(net.backward, {(0, (2, 5)): 1 + 1e-5})

    class Hand(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, W1: Tensor, W2: Tensor) -> Tensor:
            ctx.save_for_backward(W1, W2)
            return net.loss(W1, W2)

        @staticmethod
        def backward(ctx: Any, grad: Tensor) -> Grads:
            g1, g2 = wrong(*ctx.saved_tensors)
            return grad * g1, grad * g2

    leaves = [w.clone().requires_grad_() for w in net.weights]
    assert torch.autograd.gradcheck(Hand.apply, leaves, raise_exception=False)  # it misses a 1e-5 error
    assert found(check_gradients(Hand.apply, leaves)) == {(0, (2, 5))}


def test_several_wrong_entries_in_several_inputs_are_all_found() -> None:
    net = MLP(16, 32, 4)
    edits: dict[tuple[int, tuple[int, ...]], float] = {
        (0, (0, 0)): 1.01,
        (0, (9, 31)): 1 - 1e-3,
        (0, (15, 2)): 0.5,
        (1, (4, 1)): 1 + 1e-4,
        (1, (31, 3)): -1.0,
    }
    result = check_gradients(net.loss, net.weights, planted(net.backward, edits))
    assert found(result) == set(edits)


def test_a_sign_flip_of_a_whole_tensor_reports_every_entry_of_it() -> None:
    net = MLP(12, 20, 6)  # W2 has 120 entries

    def flipped(W1: Tensor, W2: Tensor) -> Grads:
        g1, g2 = net.backward(W1, W2)
        return g1, -g2

    result = check_gradients(net.loss, net.weights, flipped, max_mismatches=None)
    assert found(result) == {(1, (i, j)) for i in range(20) for j in range(6)}
    assert all(m.rel_error == pytest.approx(2.0, rel=1e-6) for m in result.mismatches)


def test_a_scaled_gradient_stops_at_max_mismatches() -> None:
    net = MLP(32, 64, 8)

    def scaled(W1: Tensor, W2: Tensor) -> Grads:
        g1, g2 = net.backward(W1, W2)
        return 1.01 * g1, 1.01 * g2

    result = check_gradients(net.loss, net.weights, scaled, max_mismatches=20)
    assert not result.ok and result.truncated
    assert len(result.mismatches) == 20
    assert all(m.rel_error == pytest.approx(0.01, rel=1e-4) for m in result.mismatches)
    assert "at least 20 wrong" in str(result)


def test_the_wrong_input_is_named_among_three() -> None:
    gen = torch.Generator().manual_seed(1)
    a, b, c = (torch.randn(40, generator=gen, dtype=torch.float64) for _ in range(3))

    def fn(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
        return (a * torch.sin(b) * torch.exp(c / 4)).sum()

    def grad_fn(a: Tensor, b: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        e = torch.exp(c / 4)
        dc = a * torch.sin(b) * e / 4
        dc[17] *= 1.001
        return torch.sin(b) * e, a * torch.cos(b) * e, dc

    result = check_gradients(fn, (a, b, c), grad_fn, names=["a", "b", "c"])
    assert found(result) == {(2, (17,))}
    assert result.mismatches[0].where == "c[17]"


def test_a_nan_in_the_gradient_is_a_mismatch() -> None:
    x = torch.linspace(-1, 1, 100, dtype=torch.float64)

    def grad_fn(x: Tensor) -> Tensor:
        g = 3 * x**2
        g[42] = math.nan
        return g

    result = check_gradients(lambda x: (x**3).sum(), x, grad_fn)
    assert found(result) == {(0, (42,))}
    assert math.isnan(result.mismatches[0].analytic)


def test_the_hand_written_reference_backward_passes_and_a_missing_factor_two_fails() -> None:
    problem = random_problem(3, sizes=(6, 5, 2), dtype=torch.float64)

    def loss(W1: Tensor, W2: Tensor) -> Tensor:
        return forward(problem.X, problem.Y, W1, W2).E

    def grads(W1: Tensor, W2: Tensor) -> Grads:
        g = backward(problem.X, problem.Y, W1, W2, forward(problem.X, problem.Y, W1, W2))
        return g.dE_dW1, g.dE_dW2

    assert check_gradients(loss, (problem.W1, problem.W2), grads).ok
    halved = check_gradients(loss, (problem.W1, problem.W2), lambda a, b: tuple(g / 2 for g in grads(a, b)))
    assert len(halved.mismatches) == 6 * 5 + 5 * 2
    assert all(m.rel_error == pytest.approx(0.5) for m in halved.mismatches)


# ---------------------------------------------------------------- no false alarms


@pytest.mark.parametrize("sizes", [(3, 3, 2), (16, 48, 5), (64, 64, 10)])
def test_a_correct_backward_never_false_alarms_over_many_seeds(sizes: tuple[int, int, int]) -> None:
    for seed in range(10):
        net = MLP(*sizes, seed=seed)
        result = check_gradients(net.loss, net.weights, net.backward, seed=seed)
        assert result.ok, str(result)


def test_a_hundred_thousand_parameters_give_no_false_alarm_and_exact_localisation() -> None:
    for seed in range(3):
        net = MLP(256, 320, 56, seed=seed)  # 99,840 parameters
        assert check_gradients(net.loss, net.weights, net.backward, seed=seed).ok
        wrong = planted(net.backward, {(seed % 2, (seed, 7 * seed)): 1 + 1e-4})
        assert found(check_gradients(net.loss, net.weights, wrong, seed=seed)) == {(seed % 2, (seed, 7 * seed))}


@pytest.mark.slow
@pytest.mark.parametrize("sizes", [(16, 48, 5), (64, 128, 14), (256, 320, 56)])
def test_a_correct_backward_never_false_alarms_over_a_hundred_seeds(sizes: tuple[int, int, int]) -> None:
    for seed in range(100):
        net = MLP(*sizes, seed=seed)
        result = check_gradients(net.loss, net.weights, net.backward, seed=seed)
        assert result.ok, str(result)


@pytest.mark.parametrize("seed", range(5))
def test_a_relu_network_at_its_kinks_does_not_false_alarm(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 64, generator=gen, dtype=torch.float64)
    W = (torch.randn(64, 128, generator=gen, dtype=torch.float64) / 8).requires_grad_()
    V = (torch.randn(128, 3, generator=gen, dtype=torch.float64) / 11).requires_grad_()
    result = check_gradients(lambda W, V: (torch.relu(X @ W) @ V).sum(), (W, V), seed=seed)
    assert result.ok, str(result)


def test_a_correct_float32_gradient_passes_with_a_warning() -> None:
    net = MLP(16, 32, 4, dtype=torch.float32)
    with pytest.warns(GradproofWarning, match=r"float32 .* use float64 inputs"):
        result = check_gradients(net.loss, net.weights, net.backward)
    assert result.ok, str(result)
    assert result.dtype == torch.float32
    assert result.rtol == pytest.approx(math.sqrt(torch.finfo(torch.float32).eps))


def test_a_float32_gradient_wrong_by_ten_percent_is_found() -> None:
    net = MLP(16, 32, 4, dtype=torch.float32)
    with pytest.warns(GradproofWarning):
        result = check_gradients(net.loss, net.weights, planted(net.backward, {(1, (5, 2)): 1.1}))
    assert found(result) == {(1, (5, 2))}


@settings(max_examples=30, deadline=None)
@given(
    x=well_conditioned_tensors(tensor_shapes(max_dims=2, max_side=12), bound=2.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_a_correct_gradient_passes_on_drawn_tensors(x: Tensor, seed: int) -> None:
    def fn(x: Tensor) -> Tensor:
        return (torch.tanh(x) * x**2 + torch.sigmoid(3 * x)).sum()

    def grad_fn(x: Tensor) -> Tensor:
        t, s = torch.tanh(x), torch.sigmoid(3 * x)
        return (1 - t * t) * x**2 + 2 * x * t + 3 * s * (1 - s)

    result = check_gradients(fn, x, grad_fn, seed=seed)
    assert result.ok, str(result)


@settings(max_examples=15, deadline=None)
@given(
    a=well_conditioned_tensors((7, 9), bound=1.0),
    b=well_conditioned_tensors((9, 5), bound=1.0, dtype=torch.float32),
    seed=st.integers(0, 2**31 - 1),
)
def test_a_correct_autograd_gradient_passes_on_drawn_mixed_precision_inputs(a: Tensor, b: Tensor, seed: int) -> None:
    a, b = a.requires_grad_(), b.requires_grad_()
    with pytest.warns(GradproofWarning):
        result = check_gradients(lambda a, b: torch.tanh(a.float() @ b).square().sum(), (a, b), seed=seed)
    assert result.ok, str(result)


class Cube(torch.autograd.Function):
    """x ↦ x³ element-wise with a hand-written backward (``wrong`` plants an error)."""

    wrong: float = 1.0

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        g: Tensor = 3 * x**2 * grad
        g.view(-1)[-1] *= Cube.wrong
        return g


@pytest.mark.parametrize("wrong", [1.0, 1.001])
def test_a_custom_autograd_function_is_checked_through_its_backward(
    wrong: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Cube, "wrong", wrong)
    x = torch.linspace(-2, 2, 200, dtype=torch.float64).reshape(20, 10).requires_grad_()
    result = check_gradients(lambda x: Cube.apply(x).sum(), x)  # type: ignore[no-untyped-call]
    assert found(result) == (set() if wrong == 1.0 else {(0, (19, 9))})


def test_a_non_scalar_output_is_checked_through_a_vector_jacobian_product(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.linspace(-2, 2, 60, dtype=torch.float64).reshape(6, 10).requires_grad_()
    assert check_gradients(Cube.apply, x).ok
    monkeypatch.setattr(Cube, "wrong", 0.99)
    result = check_gradients(Cube.apply, x, seed=3)
    assert found(result) == {(0, (5, 9))}


def test_grad_fn_of_a_non_scalar_output_gets_the_given_grad_outputs() -> None:
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(5, 4, generator=gen, dtype=torch.float64), torch.randn(4, 3, generator=gen, dtype=torch.float64)
    G = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    ok = check_gradients(lambda x, w: x @ w, (x, w), lambda x, w: (G @ w.T, x.T @ G), grad_outputs=G)
    assert ok.ok, str(ok)
    wrong = check_gradients(lambda x, w: x @ w, (x, w), lambda x, w: (G @ w.T, x.T @ G.abs()), grad_outputs=G)
    assert not wrong.ok and {m.input for m in wrong.mismatches} == {1}


def test_inputs_without_requires_grad_are_not_checked_by_autograd() -> None:
    x = torch.randn(30, dtype=torch.float64)
    w = torch.randn(30, dtype=torch.float64, requires_grad=True)
    result = check_gradients(lambda x, w: (x * w).sin().sum(), (x, w))
    assert result.ok and result.parameters == 30 and result.inputs_checked == 1


def test_grad_fn_may_return_none_for_an_input_not_to_check() -> None:
    x, w = torch.randn(40, dtype=torch.float64), torch.randn(40, dtype=torch.float64)
    result = check_gradients(lambda x, w: (x * w).sum(), (x, w), lambda x, w: (None, x))
    assert result.ok and result.parameters == 40


def test_the_result_is_deterministic_given_the_seed() -> None:
    net = MLP(16, 24, 3)
    wrong = planted(net.backward, {(0, (1, 1)): 1.001, (1, (2, 2)): 0.0})
    first, again = (check_gradients(net.loss, net.weights, wrong, seed=7) for _ in range(2))
    assert first == again
    other = check_gradients(net.loss, net.weights, wrong, seed=8)
    assert found(other) == found(first)


def test_auto_mode_checks_small_inputs_entry_by_entry() -> None:
    x = torch.arange(1.0, ENTRIES_MODE_MAX_PARAMETERS + 1, dtype=torch.float64)
    small = check_gradients(lambda x: (x**2).sum(), x, lambda x: 2 * x)
    assert small.mode == "entries" and small.entries_checked == x.numel()
    large = torch.arange(1.0, ENTRIES_MODE_MAX_PARAMETERS + 2, dtype=torch.float64)
    assert check_gradients(lambda x: (x**2).sum(), large, lambda x: 2 * x).mode == "directions"
    forced = check_gradients(lambda x: (x**2).sum(), large, lambda x: 2 * x, mode="entries")
    assert forced.mode == "entries" and forced.entries_checked == large.numel()


def test_a_correct_gradient_costs_the_same_evaluations_whatever_its_size() -> None:
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randn(n, generator=gen, dtype=torch.float64) for n in (100, 10_000, 100_000)]
    counts = {
        check_gradients(lambda x: torch.cos(x).sum(), x, lambda x: -torch.sin(x)).function_evaluations for x in inputs
    }
    assert counts == {1 + 7 + 2 * 6}  # fn's output, the noise estimate, two directional tests


def test_tolerances_loosen_what_counts_as_wrong() -> None:
    x = torch.linspace(0.5, 1.5, 50, dtype=torch.float64)
    assert not check_gradients(lambda x: (x**2).sum(), x, lambda x: 2 * x * (1 + 1e-6)).ok
    assert check_gradients(lambda x: (x**2).sum(), x, lambda x: 2 * x * (1 + 1e-6), rtol=1e-5).ok
    assert check_gradients(lambda x: (x**2).sum(), x, lambda x: 2 * x + 1e-7, atol=1e-6).ok


# ---------------------------------------------------------------- evaluations and speed


def counted(fn: Callable[..., Tensor]) -> tuple[Callable[..., Tensor], list[int]]:
    """``fn`` and a one-element list counting its calls."""
    calls = [0]

    def wrapper(*args: Tensor) -> Tensor:
        calls[0] += 1
        return fn(*args)

    return wrapper, calls


def random_entry(shape: torch.Size, seed: int) -> tuple[int, ...]:
    gen = torch.Generator().manual_seed(seed)
    return tuple(int(torch.randint(n, (1,), generator=gen)) for n in shape)


def evaluation_cases() -> list[Any]:
    net, small, tiny = MLP(16, 48, 5), MLP(16, 32, 4), MLP(8, 10, 3)
    x = torch.linspace(-2, 2, 200, dtype=torch.float64).reshape(20, 10).requires_grad_()
    several = {(0, (0, 0)): 1.01, (0, (9, 31)): 0.999, (1, (31, 3)): -1.0}

    def scaled(W1: Tensor, W2: Tensor) -> Grads:
        g1, g2 = tiny.backward(W1, W2)
        return 1.01 * g1, 1.01 * g2

    cases: list[tuple[str, Callable[..., Tensor], Any, Any, dict[str, Any]]] = [
        ("a correct gradient", net.loss, net.weights, net.backward, {}),
        ("one wrong entry", net.loss, net.weights, planted(net.backward, {(0, (3, 7)): 1 + 1e-3}), {}),
        ("several wrong entries", small.loss, small.weights, planted(small.backward, several), {}),
        ("every entry wrong", tiny.loss, tiny.weights, scaled, {"max_mismatches": 5}),
        ("entries mode", lambda x: (x**2).sum(), torch.ones(3, dtype=torch.float64), lambda x: 2.5 * x, {}),
        ("fn's own backward", lambda x: Cube.apply(x).sum(), x, None, {}),
        ("a vector-Jacobian product", Cube.apply, x, None, {"seed": 3}),
    ]
    return [pytest.param(*case[1:], id=case[0]) for case in cases]


@pytest.mark.parametrize("fn, inputs, grad_fn, options", evaluation_cases())
def test_evaluations_count_every_call_of_fn_exactly(
    fn: Callable[..., Tensor], inputs: Any, grad_fn: Any, options: dict[str, Any]
) -> None:
    counting, calls = counted(fn)
    result = check_gradients(counting, inputs, grad_fn, **options)
    assert isinstance(result.evaluations, int)
    assert result.evaluations == calls[0] == result.function_evaluations
    assert f"{calls[0]:,} evaluations of fn" in str(result)


@pytest.mark.parametrize("seed", range(3))
def test_one_entry_wrong_by_a_thousandth_among_a_hundred_thousand_costs_at_most_a_hundred_evaluations(
    seed: int,
) -> None:
    net = MLP(256, 320, 56, seed=seed)  # 99,840 parameters
    k = seed % 2
    entry = random_entry(net.weights[k].shape, seed)
    result = check_gradients(net.loss, net.weights, planted(net.backward, {(k, entry): 1 + 1e-3}), seed=seed)
    assert found(result) == {(k, entry)}
    assert result.evaluations <= 100  # gradcheck: 2 P = 199,680; bisection alone: 230
    assert result.entries_checked == 1


def test_an_entry_wrong_by_a_relative_1e_minus_4_among_ten_thousand_is_found_at_its_exact_entry() -> None:
    for seed in range(10):
        net = MLP(64, 128, 14, seed=seed)  # 9,984 parameters
        k = seed % 2
        entry = random_entry(net.weights[k].shape, 100 + seed)
        wrong = planted(net.backward, {(k, entry): 1 + (1e-4 if seed < 5 else -1e-4)})
        result = check_gradients(net.loss, net.weights, wrong, seed=seed)
        assert found(result) == {(k, entry)}, str(result)
        (m,) = result.mismatches
        assert m.rel_error == pytest.approx(1e-4, rel=1e-3)


@pytest.mark.parametrize("factors", [(1 + 1e-3, 1 + 1e-3), (1 + 1e-3, 1 - 1e-3), (1.1, 1 + 1e-6)])
def test_two_wrong_entries_side_by_side_are_both_found(factors: tuple[float, float]) -> None:
    net = MLP(64, 128, 14)
    edits = {(0, (3, 5)): factors[0], (0, (3, 6)): factors[1]}
    assert found(check_gradients(net.loss, net.weights, planted(net.backward, edits))) == set(edits)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_correct_backward_gives_no_false_alarm_over_fifty_seeds_at_ten_thousand_parameters(
    dtype: torch.dtype,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradproofWarning)
        for seed in range(50):
            net = MLP(64, 128, 14, seed=seed, dtype=dtype)
            result = check_gradients(net.loss, net.weights, net.backward, seed=seed)
            assert result.ok, str(result)
            assert result.evaluations == 20


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_correct_backward_gives_no_false_alarm_over_fifty_seeds_at_a_hundred_thousand_parameters(
    dtype: torch.dtype,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradproofWarning)
        for seed in range(50):
            net = MLP(256, 320, 56, seed=seed, dtype=dtype)
            result = check_gradients(net.loss, net.weights, net.backward, seed=seed)
            assert result.ok, str(result)


FIRST_CHECK = """
import sys, torch
from harness.gradients import check_gradients
x = torch.linspace(-1, 1, 1000, dtype=torch.float64).reshape(20, 50)
def grad_fn(x):
    g = 3 * x**2
    g[7, 11] *= 1.001
    return g
before = set(sys.modules)
result = check_gradients(lambda x: (x**3).sum(), x, grad_fn)
check_gradients(lambda x: (x**3).sum(), x[:2, :3], lambda x: 3 * x**2)  # entries mode
assert [m.where for m in result.mismatches] == ["inputs[0][7, 11]"], result
print(sorted(set(sys.modules) - before))
"""


def test_the_first_check_in_a_process_imports_nothing_more() -> None:
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", FIRST_CHECK], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"  # torch.unravel_index imported sympy: half a second once per process


# ---------------------------------------------------------------- misuse


def square_sum(x: Tensor) -> Tensor:
    return (x**2).sum()


X = torch.ones(3, dtype=torch.float64)
MISUSE: list[tuple[str, Callable[[], object], str]] = [
    ("no input requires grad", lambda: check_gradients(square_sum, X), r"^grad_fn=None: no input requires grad"),
    (
        "eps zero",
        lambda: check_gradients(square_sum, X, lambda x: 2 * x, eps=0.0),
        r"^eps=0\.0: expected a number in \(0, 1\)",
    ),
    ("eps negative", lambda: check_gradients(square_sum, X, lambda x: 2 * x, eps=-1e-3), r"^eps=-0\.001: "),
    (
        "atol negative",
        lambda: check_gradients(square_sum, X, lambda x: 2 * x, atol=-1.0),
        r"^atol=-1\.0: expected a finite",
    ),
    ("rtol nan", lambda: check_gradients(square_sum, X, lambda x: 2 * x, rtol=math.nan), r"^rtol=nan: "),
    (
        "bad mode",
        lambda: check_gradients(square_sum, X, lambda x: 2 * x, mode="fast"),
        r"^mode='fast': expected one of",
    ),  # type: ignore[arg-type]
    ("seed", lambda: check_gradients(square_sum, X, lambda x: 2 * x, seed=1.5), r"^seed=1\.5: expected an int"),  # type: ignore[arg-type]
    (
        "negative seed",
        lambda: check_gradients(square_sum, X, lambda x: 2 * x, seed=-1),
        r"^seed=-1: expected an int in \[0, 2\*\*63\)",
    ),
    ("no directions", lambda: check_gradients(square_sum, X, lambda x: 2 * x, n_directions=0), r"^n_directions=0: "),
    (
        "max_mismatches",
        lambda: check_gradients(square_sum, X, lambda x: 2 * x, max_mismatches=0),
        r"^max_mismatches=0: ",
    ),
    (
        "integer input",
        lambda: check_gradients(square_sum, torch.ones(3, dtype=torch.int64), lambda x: 2 * x),
        r"^inputs\[0\]\.dtype=torch\.int64: expected a floating-point dtype",
    ),
    (
        "not a tensor",
        lambda: check_gradients(square_sum, [X, 3.0], lambda x, y: (x, x)),  # type: ignore[list-item]
        r"^inputs\[1\]=3\.0: expected a tensor",
    ),
    (
        "no inputs",
        lambda: check_gradients(square_sum, [], lambda: ()),
        r"^inputs=\[\]: expected a tensor or a non-empty sequence",
    ),
    (
        "too many gradients",
        lambda: check_gradients(square_sum, X, lambda x: (2 * x, 2 * x)),
        r"^len\(grad_fn\(\*inputs\)\)=2: expected 1, one gradient",
    ),
    (
        "wrong gradient shape",
        lambda: check_gradients(square_sum, X, lambda x: torch.ones(4, dtype=torch.float64)),
        r"^grad_fn\(\*inputs\)\[0\]\.shape=\(4,\): expected \(3,\), the shape of inputs\[0\]",
    ),
    (
        "all gradients None",
        lambda: check_gradients(square_sum, X, lambda x: (None,)),
        r"^grad_fn\(\*inputs\)=\(None,\): expected at least one",
    ),
    (
        "non-scalar output with grad_fn",
        lambda: check_gradients(lambda x: x**2, X, lambda x: 2 * x),
        r"^grad_outputs=None: fn returns shape \(3,\), not a scalar",
    ),
    (
        "grad_outputs shape",
        lambda: check_gradients(lambda x: x**2, X, lambda x: 2 * x, grad_outputs=torch.ones(2)),
        r"^grad_outputs\.shape=\(2,\): expected \(3,\), fn's output shape",
    ),
    (
        "output not a tensor",
        lambda: check_gradients(lambda x: 1.0, X, lambda x: 2 * x),
        r"^fn\(\*inputs\)=1\.0: expected a floating-point tensor",
    ),  # type: ignore[arg-type, return-value]
    (
        "output not finite",
        lambda: check_gradients(lambda x: (x / 0).sum(), X, lambda x: x),
        r"^fn\(\*inputs\)=inf: expected finite values",
    ),
    (
        "output detached",
        lambda: check_gradients(lambda x: x.detach().sum(), X.clone().requires_grad_()),
        r"^fn\(\*inputs\)\.requires_grad=False: ",
    ),
    (
        "names",
        lambda: check_gradients(square_sum, X, lambda x: 2 * x, names=["a", "b"]),
        r"^names=\['a', 'b'\]: expected 1 strings",
    ),
    ("fn not callable", lambda: check_gradients(3, X, lambda x: 2 * x), r"^fn=3: expected a callable"),  # type: ignore[arg-type]
    (
        "not finite when shifted",
        lambda: check_gradients(
            lambda x: torch.log(x).sum(),
            torch.full((3,), 1e-6, dtype=torch.float64) * torch.tensor([1.0, 1e6, 1e6], dtype=torch.float64),
            lambda x: 1 / x,
            eps=0.5,
        ),
        r"^fn\(shifted inputs\)=nan: expected a finite value near the inputs",
    ),
]


@pytest.mark.parametrize("call, message", [pytest.param(c, m, id=i) for i, c, m in MISUSE])
def test_misuse_raises_a_usage_error_naming_the_argument(call: Callable[[], object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call()


def test_a_usage_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        check_gradients(square_sum, X, lambda x: 2 * x, eps=2.0)


# ---------------------------------------------------------------- reports


def test_str_of_a_failure_names_the_worst_entries_first() -> None:
    net = MLP(8, 10, 3)
    result = check_gradients(
        net.loss, net.weights, planted(net.backward, {(0, (1, 2)): 1.001, (1, (4, 0)): 2.0}), names=["W1", "W2"]
    )
    text = str(result)
    lines = text.splitlines()
    assert lines[0] == "gradient check FAILED: 2 wrong of 110 entries in 2 inputs; worst first:"
    assert lines[1].startswith("  W2[4, 0]: analytic=") and "rel_error=1.00e+00" in lines[1]
    assert lines[2].startswith("  W1[1, 2]: analytic=") and "rel_error=1.00e-03" in lines[2]
    assert re.search(r"mode=directions, [\d,]+ evaluations of fn, \d+ directional tests", text)
    assert "float64, seed=0" in text
    assert result.worst(1) == (next(m for m in result.mismatches if m.input == 1),)


def test_str_of_a_pass_says_so_with_the_settings() -> None:
    text = str(check_gradients(square_sum, X, lambda x: 2 * x))
    assert text.startswith("gradient check passed: no wrong entry among 3 entries in 1 input\n")
    assert "mode=entries" in text and "rtol=1.5e-08" in text


def test_assert_gradients_raises_the_report_or_returns_the_result() -> None:
    assert assert_gradients(square_sum, X, lambda x: 2 * x).ok
    with pytest.raises(AssertionError, match=r"^gradient check FAILED: 3 wrong of 3 entries"):
        assert_gradients(square_sum, X, lambda x: 3 * x)


def test_a_mismatch_record_has_its_fields() -> None:
    (m,) = check_gradients(square_sum, X, lambda x: torch.tensor([2.0, 2.0, 2.5], dtype=torch.float64)).mismatches
    assert isinstance(m, Mismatch)
    assert (m.input, m.index, m.analytic) == (0, (2,), 2.5)
    assert m.numeric == pytest.approx(2.0, rel=1e-10)
    assert m.abs_error == pytest.approx(0.5) and m.rel_error == pytest.approx(0.25)
    assert 0 < m.tolerance < 1e-6


def test_the_warning_points_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_gradients(square_sum, X.float(), lambda x: 2 * x)
    assert [w.filename for w in caught] == [__file__]


# ---------------------------------------------------------------- the pytest fixture


def test_the_gradient_checker_fixture_passes_a_correct_gradient(gradient_checker: GradientChecker) -> None:
    result = gradient_checker(square_sum, X, lambda x: 2 * x)
    assert result.ok and gradient_checker.results == [result]
    assert result.seed == gradient_checker.seed


def test_the_gradient_checker_fails_the_test_with_the_report() -> None:
    checker = GradientChecker(seed=5)
    with pytest.raises(pytest.fail.Exception, match="gradient check FAILED"):
        checker(square_sum, X, lambda x: 3 * x)
    assert checker.results[0].seed == 5
