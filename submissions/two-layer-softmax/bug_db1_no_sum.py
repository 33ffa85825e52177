# example (bug): db1 is the per-sample gradient (N, H), never summed over the batch, so it has
# the wrong shape. db2 is summed correctly; everything else is right.
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    hidden_in = X @ W1 + b1
    hidden = torch.relu(hidden_in)
    scores = hidden @ W2 + b2
    probs = torch.softmax(scores, dim=1)
    loss = -torch.log(probs[range(N), y]).mean()

    dscores = probs.clone()
    dscores[range(N), y] -= 1
    dscores /= N
    grads = {}
    grads["W2"] = hidden.T @ dscores
    grads["b2"] = torch.sum(dscores, dim=0)
    dhidden_in = (dscores @ W2.T) * (hidden_in > 0)
    grads["W1"] = X.T @ dhidden_in
    grads["b1"] = dhidden_in          # TODO is this right? the bias is added to every row
    return loss, grads
