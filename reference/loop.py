"""The notebook's training loop: weights, forward, error, gradients, one step."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from reference.mlp import Forward, Gradients, backward, forward, update

# The weights the classic notebook printed (CONTRACT.md), rounded to 4 decimals.
NOTEBOOK_X = [[0.9], [0.8], [0.7], [0.6]]
NOTEBOOK_Y = 0.0
NOTEBOOK_W1 = [
    [0.6915, 0.2038, 0.1092],
    [0.8664, 0.2407, 0.9444],
    [0.9586, 0.5905, 0.4535],
    [0.4292, 0.7313, 0.8132],
]
NOTEBOOK_W2 = [[0.9415], [0.9888], [0.9888]]


@dataclass(frozen=True)
class Start:
    """Where a training loop starts: the input, the target and the initial weights."""

    X: Tensor
    Y: Tensor
    W1: Tensor
    W2: Tensor


@dataclass(frozen=True)
class Step:
    """One pass of the loop: the weights it started from and all it computed."""

    W1: Tensor
    W2: Tensor
    forward: Forward
    grads: Gradients


@dataclass(frozen=True)
class Trace:
    problem: Start
    lr: float
    steps: tuple[Step, ...]
    final: Forward
    final_W1: Tensor
    final_W2: Tensor


def notebook_problem(dtype: torch.dtype = torch.float32, device: str = "cpu") -> Start:
    """The notebook's X, Y and printed weights."""

    def t(v: object) -> Tensor:
        return torch.tensor(v, dtype=dtype, device=device)

    return Start(X=t(NOTEBOOK_X), Y=t([[NOTEBOOK_Y]]), W1=t(NOTEBOOK_W1), W2=t(NOTEBOOK_W2))


def random_problem(
    seed: int,
    sizes: tuple[int, int, int] = (4, 3, 1),
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
) -> Start:
    """Weights drawn like the notebook's ``torch.rand``; X and Y drawn in [0, 1)."""
    n_in, n_hidden, n_out = sizes
    gen = torch.Generator().manual_seed(seed)

    def draw(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=gen, dtype=dtype).to(device)

    return Start(X=draw(n_in, 1), Y=draw(1, n_out), W1=draw(n_in, n_hidden), W2=draw(n_hidden, n_out))


def train(problem: Start, lr: float = 0.1, steps: int = 1) -> Trace:
    """Run ``steps`` steps of gradient descent by the hand-derived backward pass."""
    W1, W2 = problem.W1, problem.W2
    done: list[Step] = []
    for _ in range(steps):
        fwd = forward(problem.X, problem.Y, W1, W2)
        grads = backward(problem.X, problem.Y, W1, W2, fwd)
        done.append(Step(W1=W1, W2=W2, forward=fwd, grads=grads))
        W1, W2 = update(W1, W2, grads, lr)
    final = forward(problem.X, problem.Y, W1, W2)
    return Trace(problem=problem, lr=lr, steps=tuple(done), final=final, final_W1=W1, final_W2=W2)


def render(trace: Trace, decimals: int = 4) -> str:
    """The loop printed as the notebook prints it."""

    def fmt(t: Tensor) -> str:
        rows = t.detach().cpu().double().reshape(t.shape[0], -1).tolist() if t.dim() else [[t.item()]]
        return "[" + ",\n ".join("[" + ", ".join(f"{v:.{decimals}f}" for v in r) + "]" for r in rows) + "]"

    p = trace.problem
    lines = [f"X =\n{fmt(p.X)}", f"Y = {fmt(p.Y)}", f"W1 =\n{fmt(p.W1)}", f"W2 =\n{fmt(p.W2)}"]
    for i, step in enumerate(trace.steps, 1):
        head = f"-- step {i} (lr = {trace.lr:g}) --"
        lines += [
            head,
            f"output Y_cap = {fmt(step.forward.Y_cap)}",
            f"error E = {step.forward.E.item():.{decimals}f}",
            f"dE_dW2 =\n{fmt(step.grads.dE_dW2)}",
            f"dE_dW1 =\n{fmt(step.grads.dE_dW1)}",
        ]
    lines += [
        f"updated output Y_cap = {fmt(trace.final.Y_cap)}",
        f"updated error E = {trace.final.E.item():.{decimals}f}",
    ]
    return "\n".join(lines)
