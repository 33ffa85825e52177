import numpy as np
import torch


def affine_forward(x, w, b):
    return x.dot(w) + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout.dot(w.T), x.T.dot(dout), dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, x):
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx


def softmax_loss(scores, y):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def two_layer_forward(X, W1, b1, W2, b2):
    a, _ = relu_forward(affine_forward(X.numpy(), W1.numpy(), b1.numpy())[0])
    return torch.from_numpy(affine_forward(a, W2.numpy(), b2.numpy())[0])


def two_layer_loss(X, y, W1, b1, W2, b2):
    X, W1, b1, W2, b2 = (t.numpy() for t in (X, W1, b1, W2, b2))
    h, c1 = affine_forward(X, W1, b1)
    a, cr = relu_forward(h)
    s, c2 = affine_forward(a, W2, b2)
    loss, ds = softmax_loss(s, y.numpy())
    da, dW2, db2 = affine_backward(ds, c2)
    dh = relu_backward(da, cr)
    _, dW1, db1 = affine_backward(dh, c1)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    return float(loss), {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in grads.items()}
