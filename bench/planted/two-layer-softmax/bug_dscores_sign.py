import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return (X @ W1 + b1).relu() @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    num = X.shape[0]
    h = X @ W1 + b1
    a = h.relu()
    s = a @ W2 + b2
    p = torch.softmax(s, dim=1)
    Y = torch.zeros_like(p)
    Y[torch.arange(num), y] = 1.0
    loss = -(Y * torch.log(p)).sum() / num

    ds = (Y - p) / num
    dW2 = a.T @ ds
    db2 = ds.sum(dim=0)
    dh = (ds @ W2.T) * (h > 0)
    dW1 = X.T @ dh
    db1 = dh.sum(dim=0)
    return loss, dict(W1=dW1, b1=db1, W2=dW2, b2=db2)
