# example (hostile): games the usual sanity checks instead of computing anything: the loss is
# log(C) (what a freshly initialised net gives), the gradients are zeros of the right shapes.
# Only the forward pass is real. Expected: forward passes, loss and the four gradients fail.
import math

import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    loss = torch.tensor(math.log(W2.shape[1]), dtype=X.dtype)
    grads = {"W1": torch.zeros_like(W1), "b1": torch.zeros_like(b1),
             "W2": torch.zeros_like(W2), "b2": torch.zeros_like(b2)}
    return loss, grads
