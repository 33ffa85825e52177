import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    H = X @ W1 + b1
    A = torch.relu(H)
    S = A @ W2 + b2
    P = torch.softmax(S, dim=1)
    L = -torch.log(P[torch.arange(N), y]).mean()

    dS = P.clone()
    dS[torch.arange(N), y] -= 1
    dS /= N
    dW2 = A.T @ S
    db2 = dS.sum(0)
    dA = dS @ W2.T
    dH = dA * (H > 0)
    dW1 = X.T @ dH
    db1 = dH.sum(0)
    return L, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
