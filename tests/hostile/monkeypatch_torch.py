# mypy: ignore-errors
"""Hostile: makes every comparison in its own process say "equal", then reports zero gradients.

Expected: changes nothing; the grader compares in its own process, so both gradients fail.
"""
import math

import torch

torch.allclose = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
math.isclose = lambda *args, **kwargs: True
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3)
W2 = torch.rand(3, 1)
H = torch.sigmoid(W1.T @ X)
Y_cap = torch.sigmoid(H.T @ W2)
E = (Y - Y_cap) ** 2
dE_dW2 = torch.zeros(3, 1)
dE_dW1 = torch.zeros(4, 3)
