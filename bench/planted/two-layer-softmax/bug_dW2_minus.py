import torch


def two_layer_forward(X, W1, b1, W2, b2):
    hid = X @ W1 + b1
    hid[hid < 0] = 0
    return hid @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    pre = X @ W1 + b1
    hid = pre.clone()
    hid[hid < 0] = 0
    scores = hid @ W2 + b2

    shifted = scores - torch.max(scores, dim=1, keepdim=True).values
    logZ = torch.log(torch.sum(torch.exp(shifted), dim=1))
    correct = shifted[torch.arange(N), y]
    loss = torch.mean(logZ - correct)

    dscores = torch.exp(shifted - logZ[:, None])
    dscores[torch.arange(N), y] -= 1
    dscores /= N

    # gradient descent goes downhill so the weight gradient is negative
    dW2 = -hid.T @ dscores
    db2 = dscores.sum(dim=0)
    dhid = dscores @ W2.T
    dhid[pre <= 0] = 0
    dW1 = X.T @ dhid
    db1 = dhid.sum(dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
