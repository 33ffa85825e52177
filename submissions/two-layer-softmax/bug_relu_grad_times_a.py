# example (bug): the ReLU backward multiplies by the activation a = relu(h) instead of by the
# 0/1 mask (h > 0), as if relu'(h) were relu(h). dW1 and db1 are wrong.
import torch


def relu(x):
    return torch.clamp(x, min=0)


def relu_backward(dout, a):
    # derivative of relu "in terms of its output", like sigmoid'(x) = s * (1 - s)
    return dout * a


def two_layer_forward(X, W1, b1, W2, b2):
    return relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    h = X @ W1 + b1
    a = relu(h)
    scores = a @ W2 + b2
    scores = scores - scores.max(1, keepdim=True).values
    log_probs = scores - torch.log(torch.exp(scores).sum(1, keepdim=True))
    loss = -log_probs[torch.arange(N), y].mean()

    dscores = torch.exp(log_probs)
    dscores[torch.arange(N), y] -= 1
    dscores /= N
    dW2 = a.T @ dscores
    db2 = dscores.sum(0)
    dh = relu_backward(dscores @ W2.T, a)
    dW1 = X.T @ dh
    db1 = dh.sum(0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
