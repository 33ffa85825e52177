import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(torch.addmm(b1, X, W1)) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = torch.addmm(b1, X, W1)
    a = torch.relu(h)
    scores = torch.addmm(b2, a, W2)
    probs = torch.softmax(scores, 1)
    loss = torch.nn.functional.nll_loss(torch.log(probs), y)

    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    dscores /= N
    dW2 = a.t() @ dscores
    db2 = dscores.sum(0)
    dh = (dscores @ W2.t()) * (h > 0)
    dW1 = X.t() @ dh
    db1 = dh.mean(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
