# Assignment 1 - two layer net. Did the backward sample by sample.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    hidden = torch.relu(X @ W1 + b1)
    return hidden @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2

    loss = 0.0
    dW1 = torch.zeros_like(W1)
    db1 = torch.zeros_like(b1)
    dW2 = torch.zeros_like(W2)
    db2 = torch.zeros_like(b2)
    for i in range(N):
        s = scores[i]
        p = torch.exp(s - s.max())
        p = p / p.sum()
        loss = loss - torch.log(p[y[i]])
        ds = p.clone()
        ds[y[i]] -= 1
        ds = ds / N
        dW2 += torch.outer(a[i], ds)
        db2 += ds
        da = W2 @ ds
        dh = da
        dW1 += torch.outer(X[i], dh)
        db1 += dh
    loss = loss / N
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
