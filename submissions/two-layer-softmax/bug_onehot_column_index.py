# example (bug): dscores[:, y] -= 1 instead of dscores[arange(N), y] -= 1: every row loses 1 in
# every class that occurs anywhere in y. The loss indexes correctly; the four gradients are wrong
# (unless every label in the batch is the same).
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    z = X @ W1 + b1
    a = torch.relu(z)
    s = a @ W2 + b2
    s = s - s.max(dim=1, keepdim=True).values
    p = torch.exp(s) / torch.exp(s).sum(dim=1, keepdim=True)
    loss = -torch.log(p[torch.arange(N), y]).mean()

    ds = p.clone()
    ds[:, y] -= 1
    ds /= N
    dW2 = a.T @ ds
    db2 = ds.sum(dim=0)
    dz = (ds @ W2.T) * (z > 0)
    dW1 = X.T @ dz
    db1 = dz.sum(dim=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
