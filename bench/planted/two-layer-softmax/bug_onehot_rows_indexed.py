import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    hidden = X @ W1 + b1
    act = torch.relu(hidden)
    scores = act @ W2 + b2
    probs = torch.softmax(scores, dim=1)
    loss = -torch.log(probs[torch.arange(N), y]).mean()

    dscores = probs.clone()
    dscores[y] -= 1
    dscores /= N
    dW2 = act.T @ dscores
    db2 = dscores.sum(0)
    dhidden = (dscores @ W2.T) * (hidden > 0)
    dW1 = X.T @ dhidden
    db1 = dhidden.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
