import torch


class Affine:
    @staticmethod
    def forward(x, W, b):
        return x @ W + b

    @staticmethod
    def backward(dout, x, W):
        dx = dout @ W.T
        dW = x.T @ dout
        db = dout
        return dx, dW, db


def two_layer_forward(X, W1, b1, W2, b2):
    return Affine.forward(torch.relu(Affine.forward(X, W1, b1)), W2, b2)


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = Affine.forward(X, W1, b1)
    a = torch.relu(h)
    s = Affine.forward(a, W2, b2)
    p = torch.softmax(s, dim=1)
    loss = -torch.log(p[torch.arange(N), y]).mean()

    ds = p.clone()
    ds[torch.arange(N), y] -= 1
    ds /= N
    da, dW2, db2 = Affine.backward(ds, a, W2)
    dh = da * (h > 0)
    _, dW1, db1 = Affine.backward(dh, X, W1)
    db1 = db1.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
