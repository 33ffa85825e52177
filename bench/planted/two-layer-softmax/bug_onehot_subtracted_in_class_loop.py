import math

import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    C = W2.shape[1]
    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2

    loss = 0.0
    dscores = torch.zeros_like(scores)
    for i in range(N):
        denom = 0.0
        for j in range(C):
            denom += math.exp(scores[i, j])
        loss += math.log(denom) - scores[i, y[i]].item()
        for j in range(C):
            dscores[i, j] = math.exp(scores[i, j]) / denom
            dscores[i, y[i]] -= 1
    loss /= N
    dscores /= N

    dW2 = a.T @ dscores
    db2 = dscores.sum(0)
    dh = dscores @ W2.T * (h > 0)
    dW1 = X.T @ dh
    db1 = dh.sum(0)
    return torch.tensor(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
