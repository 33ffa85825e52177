"""The course's solution to `two-layer-softmax`: forward and a hand-written backward pass."""

import torch


def two_layer_forward(X, W1, b1, W2, b2):
    """Class scores (N, C) of a batch X (N, D)."""
    h = X @ W1 + b1
    a = torch.clamp(h, min=0)
    return a @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    """Mean softmax cross-entropy of the batch and its gradients: (loss, {"W1", "b1", "W2", "b2"})."""
    N = X.shape[0]

    # forward
    h = X @ W1 + b1  # (N, H)
    a = torch.clamp(h, min=0)  # (N, H)
    scores = a @ W2 + b2  # (N, C)

    # softmax, shifted by the row max for stability
    shifted = scores - scores.max(dim=1, keepdim=True).values
    exp = torch.exp(shifted)
    probs = exp / exp.sum(dim=1, keepdim=True)  # (N, C)
    rows = torch.arange(N)
    loss = -torch.log(probs[rows, y]).mean()

    # backward
    dscores = probs.clone()
    dscores[rows, y] -= 1
    dscores /= N  # the loss is a mean
    dW2 = a.T @ dscores  # (H, C)
    db2 = dscores.sum(dim=0)  # (C,)
    da = dscores @ W2.T  # (N, H)
    dh = da * (h > 0)  # ReLU passes the gradient where h > 0
    dW1 = X.T @ dh  # (D, H)
    db1 = dh.sum(dim=0)  # (H,)

    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
