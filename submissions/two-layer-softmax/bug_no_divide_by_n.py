# example (bug): the loss is the mean over the batch, but dscores is not divided by N,
# so every gradient is N times too large. Forward and loss are right.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    h = torch.relu(X @ W1 + b1)
    return h @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    z1 = X @ W1 + b1
    h = torch.relu(z1)
    scores = h @ W2 + b2
    scores -= scores.max(dim=1, keepdim=True)[0]
    probs = torch.exp(scores) / torch.exp(scores).sum(dim=1, keepdim=True)
    loss = -torch.log(probs[torch.arange(N), y]).sum() / N

    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1

    dW2 = h.T @ dscores
    db2 = dscores.sum(dim=0)
    dh = dscores @ W2.T
    dz1 = dh * (z1 > 0)
    dW1 = X.T @ dz1
    db1 = dz1.sum(dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
