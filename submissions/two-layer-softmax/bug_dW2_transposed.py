# example (bug): dW2 = dscores.T @ a, which is (C, H): the transpose of the right (H, C) answer.
# Every other value is right.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    a1 = (X @ W1 + b1).clamp(min=0)
    return a1 @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.size(0)
    z1 = X @ W1 + b1
    a1 = z1.clamp(min=0)
    scores = a1 @ W2 + b2
    exps = torch.exp(scores - scores.max(dim=1, keepdim=True).values)
    probs = exps / exps.sum(dim=1, keepdim=True)
    loss = torch.mean(-torch.log(probs[torch.arange(N), y]))

    delta = probs.clone()
    delta[torch.arange(N), y] -= 1
    delta = delta / N
    dW2 = delta.T @ a1                 # (C, N) @ (N, H)
    db2 = delta.sum(dim=0)
    delta1 = (delta @ W2.T) * (z1 > 0)
    dW1 = X.T @ delta1
    db1 = delta1.sum(dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
