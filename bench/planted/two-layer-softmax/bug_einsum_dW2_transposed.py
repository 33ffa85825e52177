import torch
from torch import einsum


def two_layer_forward(X, W1, b1, W2, b2):
    a = torch.relu(einsum("nd,dh->nh", X, W1) + b1)
    return einsum("nh,hc->nc", a, W2) + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = einsum("nd,dh->nh", X, W1) + b1
    a = torch.relu(h)
    s = einsum("nh,hc->nc", a, W2) + b2
    logp = torch.log_softmax(s, dim=1)
    loss = -logp[torch.arange(N), y].mean()

    ds = logp.exp()
    ds[torch.arange(N), y] -= 1
    ds = ds / N
    dW2 = einsum("nh,nc->ch", a, ds)
    db2 = einsum("nc->c", ds)
    da = einsum("nc,hc->nh", ds, W2)
    dh = da * (h > 0)
    dW1 = einsum("nd,nh->dh", X, dh)
    db1 = einsum("nh->h", dh)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
