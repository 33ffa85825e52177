import math

import torch


def two_layer_forward(X, W1, b1, W2, b2):
    out = []
    for x in X:
        h = torch.relu(x @ W1 + b1)
        out.append(h @ W2 + b2)
    return torch.stack(out)


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    grads = {"W1": torch.zeros_like(W1), "b1": torch.zeros_like(b1),
             "W2": torch.zeros_like(W2), "b2": torch.zeros_like(b2)}
    total = 0.0
    for i in range(N):
        x = X[i]
        h = x @ W1 + b1
        a = torch.relu(h)
        s = a @ W2 + b2
        e = torch.exp(s - s.max())
        p = e / e.sum()
        total += -math.log(p[y[i]].item())

        ds = p.clone()
        ds[y[i]] = ds[y[i]] - 1
        grads["W2"] += a[:, None] * ds[None, :]
        grads["b2"] += ds
        dh = (W2 @ ds) * (h > 0)
        grads["W1"] += x[:, None] * dh[None, :]
        grads["b1"] += dh
    return torch.tensor(total / N, dtype=X.dtype), grads
