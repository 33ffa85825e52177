import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N, C = X.shape[0], W2.shape[1]
    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2
    probs = torch.softmax(scores, dim=1)
    target = torch.nn.functional.one_hot(y, C).double()
    loss = -(target * probs.log()).sum(1).mean()

    # d/ds of the loss: 2 (p - t) / N  (like the squared error from lecture 3)
    dscores = 2 * (probs - target) / N
    dW2 = a.T @ dscores
    db2 = dscores.sum(0)
    dh = (dscores @ W2.T) * (h > 0)
    dW1 = X.T @ dh
    db1 = dh.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
