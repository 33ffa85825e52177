import torch

def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2

def two_layer_loss(X, y, W1, b1, W2, b2):
    N, D = X.shape
    h = X @ W1 + b1          # N x H
    r = torch.relu(h)        # N x H
    f = r @ W2 + b2          # N x C
    f = f - f.max(dim=1, keepdim=True)[0]
    p = torch.exp(f) / torch.exp(f).sum(1, keepdim=True)
    loss = torch.mean(-torch.log(p[torch.arange(N), y]))

    df = p.clone()
    df[torch.arange(N), y] -= 1
    df /= N
    dW2 = h.T @ df           # H x C
    db2 = df.sum(0)
    dr = df @ W2.T
    dh = dr * (h > 0)
    dW1 = X.T @ dh
    db1 = dh.sum(0)
    return loss, {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}
