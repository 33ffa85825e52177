"""Two-layer net in numpy (I find numpy easier to debug), wrapped for torch."""
import numpy as np
import torch


def _np(*ts):
    return [t.detach().numpy() for t in ts]


def two_layer_forward(X, W1, b1, W2, b2):
    X, W1, b1, W2, b2 = _np(X, W1, b1, W2, b2)
    return torch.from_numpy(np.maximum(X @ W1 + b1, 0) @ W2 + b2)


def two_layer_loss(X, y, W1, b1, W2, b2):
    X, W1, b1, W2, b2 = _np(X, W1, b1, W2, b2)
    y = y.numpy()
    n = len(y)
    pre = X.dot(W1) + b1
    act = np.maximum(pre, 0)
    sc = act.dot(W2) + b2
    sc = sc - sc.max(axis=1, keepdims=True)
    p = np.exp(sc) / np.exp(sc).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()

    d_sc = p.copy()
    d_sc[np.arange(n), y] -= 1
    d_sc /= n
    dW2 = act.T.dot(d_sc)
    db2 = d_sc.sum(axis=0)
    d_act = d_sc.dot(W2.T)
    d_pre = d_act * (1 - act ** 2)
    dW1 = X.T.dot(d_pre)
    db1 = d_pre.sum(axis=0)
    out = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    return torch.tensor(loss), {k: torch.from_numpy(v) for k, v in out.items()}
