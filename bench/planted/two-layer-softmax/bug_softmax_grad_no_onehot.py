import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = X @ W1 + b1
    a = torch.relu(h)
    scores = a @ W2 + b2
    # softmax
    exp_scores = torch.exp(scores)
    probs = exp_scores / torch.sum(exp_scores, dim=1, keepdim=True)
    loss = torch.sum(-torch.log(probs[torch.arange(N), y])) / N

    # derivative of softmax is softmax
    dscores = probs / N
    dW2 = a.T @ dscores
    db2 = torch.sum(dscores, dim=0)
    dh = dscores @ W2.T
    dh = dh * (h > 0)
    dW1 = X.T @ dh
    db1 = torch.sum(dh, dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
