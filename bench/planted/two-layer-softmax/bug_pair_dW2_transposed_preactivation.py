import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    batch = X.shape[0]
    z = X @ W1 + b1
    h = torch.relu(z)
    out = h @ W2 + b2
    sm = torch.softmax(out, 1)
    loss = -torch.log(sm[torch.arange(batch), y]).mean()

    dout = sm.clone()
    dout[torch.arange(batch), y] -= 1
    dout /= batch
    dW2 = dout.T @ z
    db2 = dout.sum(0)
    dz = (dout @ W2.T) * (z > 0)
    dW1 = X.T @ dz
    db1 = dz.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
