import torch


class TwoLayerNet:
    def __init__(self, W1, b1, W2, b2):
        self.params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}

    def scores(self, X):
        self.h = X @ self.params["W1"] + self.params["b1"]
        self.a = torch.relu(self.h)
        return self.a @ self.params["W2"] + self.params["b2"]

    def loss(self, X, y):
        N = X.shape[0]
        s = self.scores(X)
        p = torch.softmax(s, dim=1)
        loss = -torch.log(p[torch.arange(N), y]).mean()
        ds = p.clone()
        ds[torch.arange(N), y] -= 1
        ds /= N
        W2, b2 = self.params["W2"], self.params["b2"]
        grads = {}
        grads["W2"] = self.a.T @ ds
        grads["b2"] = b2
        dh = (ds @ W2.T) * (self.h > 0)
        grads["W1"] = X.T @ dh
        grads["b1"] = dh.sum(0)
        return loss, grads


def two_layer_forward(X, W1, b1, W2, b2):
    return TwoLayerNet(W1, b1, W2, b2).scores(X)


def two_layer_loss(X, y, W1, b1, W2, b2):
    return TwoLayerNet(W1, b1, W2, b2).loss(X, y)
