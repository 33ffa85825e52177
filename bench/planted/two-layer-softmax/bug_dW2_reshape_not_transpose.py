import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N, D = X.shape
    Hdim = W1.shape[1]
    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2
    probs = torch.softmax(scores, dim=1)
    loss = -torch.log(probs[torch.arange(N), y]).mean()

    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    dscores /= N
    dW2 = a.reshape(Hdim, N) @ dscores
    db2 = dscores.sum(0)
    dh = (dscores @ W2.T) * (h > 0)
    dW1 = X.T @ dh
    db1 = dh.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
