"""The n_in-n_hidden-n_out sigmoid network, forward and backward by hand.

Shapes follow the classic notebook: one sample is a column ``X`` (n_in, 1);
more samples are more columns.

    Z     = W1ᵀ X            (n_hidden, m)
    H     = σ(Z)             (n_hidden, m)
    O     = Hᵀ W2            (m, n_out)
    Y_cap = σ(O)             (m, n_out)
    E     = Σ (Y − Y_cap)²   scalar
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def sigmoid(z: Tensor) -> Tensor:
    return 1.0 / (1.0 + torch.exp(-z))


def sigmoid_grad(h: Tensor) -> Tensor:
    # dσ/dz written in terms of the output h = σ(z): σ'(z) = h (1 − h)
    return h * (1.0 - h)


@dataclass(frozen=True)
class Forward:
    """Every intermediate of one forward pass (what a notebook leaves in its globals)."""

    Z: Tensor
    H: Tensor
    O: Tensor
    Y_cap: Tensor
    E: Tensor


@dataclass(frozen=True)
class Gradients:
    dE_dW1: Tensor
    dE_dW2: Tensor


def forward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> Forward:
    # .mT (the last two dimensions swapped) is .T for a matrix, and lets a stack of problems
    # (a leading batch dimension) run in one pass; E is then the sum of their errors.
    Z = W1.mT @ X
    H = sigmoid(Z)
    O = H.mT @ W2
    Y_cap = sigmoid(O)
    E = ((Y - Y_cap) ** 2).sum()
    return Forward(Z=Z, H=H, O=O, Y_cap=Y_cap, E=E)


def backward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor, fwd: Forward) -> Gradients:
    # E = Σ (Y − Y_cap)²  ⇒  ∂E/∂Y_cap = −2 (Y − Y_cap)
    dE_dY_cap = -2.0 * (Y - fwd.Y_cap)
    # Y_cap = σ(O)  ⇒  ∂E/∂O = ∂E/∂Y_cap · Y_cap (1 − Y_cap)
    dE_dO = dE_dY_cap * sigmoid_grad(fwd.Y_cap)
    # O = Hᵀ W2  ⇒  ∂E/∂W2 = H · ∂E/∂O   and   ∂E/∂H = W2 · (∂E/∂O)ᵀ
    dE_dW2 = fwd.H @ dE_dO
    dE_dH = W2 @ dE_dO.T
    # H = σ(Z)  ⇒  ∂E/∂Z = ∂E/∂H · H (1 − H)
    dE_dZ = dE_dH * sigmoid_grad(fwd.H)
    # Z = W1ᵀ X  ⇒  ∂E/∂W1 = X · (∂E/∂Z)ᵀ
    dE_dW1 = X @ dE_dZ.T
    return Gradients(dE_dW1=dE_dW1, dE_dW2=dE_dW2)


def update(W1: Tensor, W2: Tensor, grads: Gradients, lr: float) -> tuple[Tensor, Tensor]:
    # one step of gradient descent: W ← W − lr · ∂E/∂W
    return W1 - lr * grads.dE_dW1, W2 - lr * grads.dE_dW2


def autograd_backward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> Gradients:
    """The same gradients, by torch.autograd through :func:`forward`."""
    W1 = W1.detach().clone().requires_grad_(True)
    W2 = W2.detach().clone().requires_grad_(True)
    E = forward(X, Y, W1, W2).E
    dE_dW1, dE_dW2 = torch.autograd.grad(E, (W1, W2))
    return Gradients(dE_dW1=dE_dW1, dE_dW2=dE_dW2)
