import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    grads = {name: torch.zeros_like(p) for name, p in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))}

    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2
    probs = torch.softmax(scores, dim=1)
    loss = -torch.log(probs[torch.arange(N), y]).mean()

    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    dscores /= N
    grads["W2"] = a.T @ dscores
    grads["b2"] = dscores.sum(0)
    dh = (dscores @ W2.T) * (h > 0)
    grads["W1"] = X.T @ dh
    # TODO b1
    return loss, grads
