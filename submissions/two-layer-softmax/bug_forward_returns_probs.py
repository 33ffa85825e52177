# example (bug): two_layer_forward returns the softmax probabilities, not the raw scores.
# two_layer_loss does its own forward pass and is right.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    scores = torch.relu(X @ W1 + b1) @ W2 + b2
    return torch.softmax(scores, dim=1)


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2
    probs = torch.softmax(scores, dim=1)
    loss = -torch.log(probs[torch.arange(N), y]).mean()

    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    dscores /= N
    dh = (dscores @ W2.T) * (h > 0)
    grads = {
        "W2": a.T @ dscores,
        "b2": dscores.sum(dim=0),
        "W1": X.T @ dh,
        "b1": dh.sum(dim=0),
    }
    return loss, grads
