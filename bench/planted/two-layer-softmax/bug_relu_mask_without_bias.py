import torch


def two_layer_forward(X, W1, b1, W2, b2):
    z = X @ W1 + b1
    return torch.clamp(z, min=0) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = len(X)
    a = torch.clamp(X @ W1 + b1, min=0)
    scores = a @ W2 + b2
    scores = scores - scores.max(1, keepdim=True).values
    probs = scores.exp() / scores.exp().sum(1, keepdim=True)
    loss = -probs[range(N), y].log().mean()

    dscores = probs
    dscores[range(N), y] -= 1
    dscores = dscores / N

    dW2 = a.T @ dscores
    db2 = dscores.sum(0)
    da = dscores @ W2.T
    mask = (X @ W1) > 0
    dz = da * mask
    dW1 = X.T @ dz
    db1 = dz.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
