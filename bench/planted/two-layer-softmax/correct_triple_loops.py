# Everything with plain loops (slow but I wanted to see every index).
import math

import torch


def _matmul(A, B):
    n, k = A.shape
    k2, m = B.shape
    assert k == k2
    out = torch.zeros(n, m, dtype=A.dtype)
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for t in range(k):
                acc += A[i, t].item() * B[t, j].item()
            out[i, j] = acc
    return out


def _forward(X, W1, b1, W2, b2):
    h = _matmul(X, W1) + b1
    a = h.clone()
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if a[i, j] < 0:
                a[i, j] = 0.0
    s = _matmul(a, W2) + b2
    return h, a, s


def two_layer_forward(X, W1, b1, W2, b2):
    return _forward(X, W1, b1, W2, b2)[2]


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    C = W2.shape[1]
    h, a, s = _forward(X, W1, b1, W2, b2)
    ds = torch.zeros_like(s)
    loss = 0.0
    for i in range(N):
        m = max(s[i, j].item() for j in range(C))
        z = sum(math.exp(s[i, j].item() - m) for j in range(C))
        loss += -(s[i, int(y[i])].item() - m - math.log(z))
        for j in range(C):
            p = math.exp(s[i, j].item() - m) / z
            ds[i, j] = (p - (1.0 if j == int(y[i]) else 0.0)) / N
    loss /= N

    dW2 = _matmul(a.T, ds)
    db2 = torch.zeros_like(b2)
    for i in range(N):
        db2 += ds[i]
    da = _matmul(ds, W2.T)
    dh = da.clone()
    for i in range(N):
        for j in range(dh.shape[1]):
            if h[i, j] <= 0:
                dh[i, j] = 0.0
    dW1 = _matmul(X.T, dh)
    db1 = torch.zeros_like(b1)
    for i in range(N):
        db1 += dh[i]
    return torch.tensor(loss, dtype=X.dtype), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
