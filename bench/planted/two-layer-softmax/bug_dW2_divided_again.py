import torch


def forward_pass(X, W1, b1, W2, b2):
    h = X @ W1 + b1
    a = torch.relu(h)
    s = a @ W2 + b2
    return h, a, s


def two_layer_forward(X, W1, b1, W2, b2):
    return forward_pass(X, W1, b1, W2, b2)[2]


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h, a, s = forward_pass(X, W1, b1, W2, b2)
    lse = torch.logsumexp(s, dim=1)
    loss = (lse - s[torch.arange(N), y]).mean()

    p = torch.exp(s - lse[:, None])
    p[torch.arange(N), y] -= 1
    dS = p / N

    dW2 = (a.T @ dS) / N
    db2 = dS.sum(0)
    dA = dS @ W2.T
    dH = dA * (h > 0).to(dA.dtype)
    dW1 = X.T @ dH
    db1 = dH.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
