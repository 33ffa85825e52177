import torch


def two_layer_forward(X, W1, b1, W2, b2):
    a = (X @ W1 + b1).clamp(min=0)
    return a @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = X @ W1 + b1
    a = h.clamp(min=0)
    scores = a @ W2 + b2
    probs = scores.softmax(dim=-1)
    loss = -probs.gather(1, y[:, None]).log().mean()

    g = probs.clone()
    g.scatter_add_(1, y[:, None], -torch.ones(N, 1, dtype=g.dtype))
    g = g / N
    dW2 = a.T @ g
    db2 = g.sum()
    g_h = (g @ W2.T) * (h > 0)
    dW1 = X.T @ g_h
    db1 = g_h.sum(dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
