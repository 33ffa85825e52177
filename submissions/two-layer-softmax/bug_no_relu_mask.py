# example (bug): the backward pass goes straight through the ReLU (no mask), as if it were the
# identity. dW1 and db1 are wrong wherever a hidden unit is off.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    hidden = torch.relu(X.mm(W1) + b1)
    return hidden.mm(W2) + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    batch = X.shape[0]
    hidden = torch.relu(X.mm(W1) + b1)
    scores = hidden.mm(W2) + b2
    scores = scores - scores.max(dim=1, keepdim=True).values
    p = scores.exp()
    p = p / p.sum(dim=1, keepdim=True)
    loss = -p[torch.arange(batch), y].log().sum() / batch

    g = p.clone()
    g[torch.arange(batch), y] -= 1.0
    g /= batch
    dW2 = hidden.t().mm(g)
    db2 = g.sum(0)
    dhidden = g.mm(W2.t())
    dW1 = X.t().mm(dhidden)
    db1 = dhidden.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
