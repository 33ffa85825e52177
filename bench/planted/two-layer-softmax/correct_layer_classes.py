"""Layers as small classes with forward/backward, like the CS231n layers.py."""
import torch


class Linear:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(dim=0)
        return dout @ self.W.T


class ReLU:
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class SoftmaxCrossEntropy:
    def forward(self, scores, y):
        self.n = scores.shape[0]
        self.y = y
        shifted = scores - scores.max(dim=1, keepdim=True).values
        self.probs = shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)
        return -self.probs[torch.arange(self.n), y].log().mean()

    def backward(self):
        d = self.probs.clone()
        d[torch.arange(self.n), self.y] -= 1
        return d / self.n


def _layers(W1, b1, W2, b2):
    return Linear(W1, b1), ReLU(), Linear(W2, b2)


def two_layer_forward(X, W1, b1, W2, b2):
    out = X
    for layer in _layers(W1, b1, W2, b2):
        out = layer.forward(out)
    return out


def two_layer_loss(X, y, W1, b1, W2, b2):
    fc1, relu, fc2 = _layers(W1, b1, W2, b2)
    crit = SoftmaxCrossEntropy()
    loss = crit.forward(fc2.forward(relu.forward(fc1.forward(X))), y)
    fc1.backward(relu.backward(fc2.backward(crit.backward())))
    return loss, {"W1": fc1.dW, "b1": fc1.db, "W2": fc2.dW, "b2": fc2.db}
