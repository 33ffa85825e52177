# example (bug): dW2 = a @ dscores, the transpose left out: (N, H) @ (N, C) raises a shape error,
# so two_layer_loss never returns. two_layer_forward is right.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    h = X @ W1 + b1
    a = torch.where(h > 0, h, torch.zeros_like(h))
    return a @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = X @ W1 + b1
    a = torch.where(h > 0, h, torch.zeros_like(h))
    scores = a @ W2 + b2
    print("scores", scores.shape)
    probs = torch.exp(scores)
    probs /= probs.sum(dim=1, keepdim=True)
    loss = -torch.log(probs[torch.arange(N), y]).mean()

    dscores = probs
    dscores[torch.arange(N), y] -= 1
    dscores /= N
    dW2 = a @ dscores
    print("dW2", dW2.shape)
    db2 = dscores.sum(dim=0)
    da = dscores @ W2.T
    dh = da * (h > 0)
    dW1 = X.T @ dh
    db1 = dh.sum(dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
