"""Reference for `two-layer-softmax`: the forward pass, written with differentiable torch ops.

The grader gets grad.W1, grad.b1, grad.W2, grad.b2 (and grad.h, grad.scores, ...) from this by
autograd. The loss convention is whatever this computes: the mean over the batch, no
regularization.
"""

import torch


def compute(X, y, W1, b1, W2, b2):
    h = X @ W1 + b1  # (N, H)
    a = torch.relu(h)  # (N, H)
    scores = a @ W2 + b2  # (N, C)
    loss = torch.nn.functional.cross_entropy(scores, y)  # mean over the N rows
    return {"h": h, "a": a, "scores": scores, "loss": loss}
