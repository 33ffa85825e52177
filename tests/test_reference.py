"""The reference network: the notebook's numbers, manual == autograd == finite differences."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from harness.cli import main

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def rounded(t: torch.Tensor) -> list[list[float]]:
    return [[round(v, 4) for v in row] for row in t.double().cpu().reshape(t.shape[0], -1).tolist()]


def test_the_notebook_weights_give_the_notebook_numbers() -> None:
    trace = ref.train(ref.notebook_problem())
    step = trace.steps[0]
    assert round(step.forward.Y_cap.item(), 4) == 0.9203
    assert round(step.forward.E.item(), 4) == 0.8470
    assert rounded(step.grads.dE_dW2) == [[0.1220], [0.1044], [0.1134]]
    assert rounded(step.grads.dE_dW1) == [
        [0.0099, 0.0210, 0.0161],
        [0.0088, 0.0187, 0.0143],
        [0.0077, 0.0164, 0.0125],
        [0.0066, 0.0140, 0.0108],
    ]
    assert round(trace.final.Y_cap.item(), 4) == 0.9181


def test_gradproof_reference_prints_the_notebook_numbers() -> None:
    result = CliRunner().invoke(main, ["reference", "--weights", "notebook"])
    assert result.exit_code == 0, result.output
    for expected in (
        "output Y_cap = [[0.9203]]",
        "error E = 0.8470",
        "[0.1220]",
        "[0.1044]",
        "[0.1134]",
        "[[0.0099, 0.0210, 0.0161]",
        "[0.0066, 0.0140, 0.0108]]",
        "updated output Y_cap = [[0.9181]]",
    ):
        assert expected in result.output


def test_gradproof_reference_refuses_cuda_without_a_gpu_with_a_usage_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = CliRunner().invoke(main, ["reference", "--device", "cuda"])
    assert result.exit_code == 2
    assert "CUDA is not available" in result.output


def test_gradproof_reference_runs_several_steps_with_random_weights() -> None:
    result = CliRunner().invoke(main, ["reference", "--seed", "3", "--steps", "3", "--lr", "0.5", "--sizes", "2,5,2"])
    assert result.exit_code == 0, result.output
    assert result.output.count("-- step") == 3


sizes = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3))


def _problem(seed: int, shape: tuple[int, int, int], device: str = "cpu") -> ref.Start:
    p = ref.random_problem(seed, shape, dtype=torch.float64, device=device)
    # weights in [-1, 1): well away from sigmoid saturation
    return ref.Start(X=p.X, Y=p.Y, W1=2 * p.W1 - 1, W2=2 * p.W2 - 1)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), shape=sizes)
def test_the_hand_derived_backward_equals_autograd_for_any_sizes(seed: int, shape: tuple[int, int, int]) -> None:
    p = _problem(seed, shape)
    manual = ref.backward(p.X, p.Y, p.W1, p.W2, ref.forward(p.X, p.Y, p.W1, p.W2))
    auto = ref.autograd_backward(p.X, p.Y, p.W1, p.W2)
    torch.testing.assert_close(manual.dE_dW1, auto.dE_dW1, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(manual.dE_dW2, auto.dE_dW2, rtol=1e-12, atol=1e-14)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), shape=sizes)
def test_the_hand_derived_backward_equals_central_finite_differences(seed: int, shape: tuple[int, int, int]) -> None:
    p = _problem(seed, shape)
    grads = ref.backward(p.X, p.Y, p.W1, p.W2, ref.forward(p.X, p.Y, p.W1, p.W2))
    h = 1e-6
    for name, W, g in (("W1", p.W1, grads.dE_dW1), ("W2", p.W2, grads.dE_dW2)):
        numeric = torch.zeros_like(W)
        for i in range(W.numel()):
            step = torch.zeros_like(W).reshape(-1)
            step[i] = h
            step = step.reshape(W.shape)
            args = {"W1": p.W1, "W2": p.W2}
            args[name] = W + step
            plus = ref.forward(p.X, p.Y, args["W1"], args["W2"]).E
            args[name] = W - step
            minus = ref.forward(p.X, p.Y, args["W1"], args["W2"]).E
            numeric.reshape(-1)[i] = (plus - minus) / (2 * h)
        torch.testing.assert_close(g, numeric, rtol=1e-6, atol=1e-9)


def test_a_planted_sign_error_is_caught_by_the_finite_difference_comparison() -> None:
    p = _problem(0, (4, 3, 1))
    grads = ref.backward(p.X, p.Y, p.W1, p.W2, ref.forward(p.X, p.Y, p.W1, p.W2))
    auto = ref.autograd_backward(p.X, p.Y, p.W1, p.W2)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(-grads.dE_dW2, auto.dE_dW2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_loss_decreases_over_steps(dtype: torch.dtype) -> None:
    trace = ref.train(ref.random_problem(7, (4, 3, 1), dtype=dtype), lr=0.5, steps=20)
    losses = [s.forward.E.item() for s in trace.steps] + [trace.final.E.item()]
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert trace.final_W1.dtype == dtype


@pytest.mark.cuda
@CUDA
def test_the_reference_runs_on_cuda_and_matches_autograd_there() -> None:
    p = _problem(1, (4, 3, 1), device="cuda")
    manual = ref.backward(p.X, p.Y, p.W1, p.W2, ref.forward(p.X, p.Y, p.W1, p.W2))
    auto = ref.autograd_backward(p.X, p.Y, p.W1, p.W2)
    assert manual.dE_dW1.device.type == "cuda"
    torch.testing.assert_close(manual.dE_dW1, auto.dE_dW1, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(manual.dE_dW2, auto.dE_dW2, rtol=1e-12, atol=1e-14)


@pytest.mark.cuda
@CUDA
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_and_cuda_agree_on_the_whole_loop(dtype: torch.dtype) -> None:
    cpu = ref.train(ref.notebook_problem(dtype=dtype, device="cpu"), steps=5)
    gpu = ref.train(ref.notebook_problem(dtype=dtype, device="cuda"), steps=5)
    tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-14}
    for a, b in zip(cpu.steps, gpu.steps):
        torch.testing.assert_close(a.grads.dE_dW1, b.grads.dE_dW1.cpu(), **tol)
        torch.testing.assert_close(a.grads.dE_dW2, b.grads.dE_dW2.cpu(), **tol)
    torch.testing.assert_close(cpu.final.Y_cap, gpu.final.Y_cap.cpu(), **tol)


@pytest.mark.cuda
@CUDA
def test_gradproof_reference_prints_the_notebook_numbers_on_cuda() -> None:
    result = CliRunner().invoke(main, ["reference", "--weights", "notebook", "--device", "cuda"])
    assert result.exit_code == 0, result.output
    assert "output Y_cap = [[0.9203]]" in result.output and "updated output Y_cap = [[0.9181]]" in result.output
