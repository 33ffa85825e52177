# mypy: ignore-errors
"""A correct submission in the hostile batch: still 10/10 among all the others."""
import torch

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3)
W2 = torch.rand(3, 1)
Z = W1.T @ X
H = torch.sigmoid(Z)
O = H.T @ W2
Y_cap = torch.sigmoid(O)
E = (Y - Y_cap) ** 2
delta = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
dE_dW2 = H * delta
dE_dW1 = X @ (delta * W2 * H * (1 - H)).T
lr = 0.1
W2_new = W2 - lr * dE_dW2
W1_new = W1 - lr * dE_dW1
