import torch


def two_layer_forward(X, W1, b1, W2, b2):
    a = torch.einsum("nd,dh->nh", X, W1).add(b1).relu()
    return torch.einsum("nh,hc->nc", a, W2) + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N, C = X.shape[0], W2.shape[1]
    h = torch.einsum("nd,dh->nh", X, W1) + b1
    a = h.relu()
    s = torch.einsum("nh,hc->nc", a, W2) + b2
    logp = torch.log_softmax(s, dim=1)
    Y = torch.nn.functional.one_hot(y, C).to(s.dtype)
    loss = -torch.einsum("nc,nc->", Y, logp) / N

    ds = (logp.exp() - Y) / N
    dW2 = torch.einsum("nh,nc->hc", a, ds)
    db2 = torch.einsum("nc->c", ds)
    dh = torch.einsum("nc,hc->nh", ds, W2) * (h > 0)
    dW1 = torch.einsum("nd,nh->dh", X, dh)
    db1 = torch.einsum("nh->h", dh)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
