import torch


def relu(x):
    return torch.maximum(x, torch.zeros_like(x))


def relu_backward(dout, x):
    # derivative of the activation
    s = 1 / (1 + torch.exp(-x))
    return dout * s * (1 - s)


def softmax(s):
    e = torch.exp(s - s.max(dim=1, keepdim=True)[0])
    return e / e.sum(dim=1, keepdim=True)


def two_layer_forward(X, W1, b1, W2, b2):
    return relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    N = X.shape[0]
    z1 = X @ W1 + b1
    a1 = relu(z1)
    scores = a1 @ W2 + b2
    probs = softmax(scores)
    loss = -torch.log(probs[torch.arange(N), y]).sum() / N

    dscores = probs.clone()
    dscores[torch.arange(N), y] -= 1
    dscores /= N
    grads = {}
    grads["W2"] = a1.T @ dscores
    grads["b2"] = dscores.sum(0)
    da1 = dscores @ W2.T
    dz1 = relu_backward(da1, z1)
    grads["W1"] = X.T @ dz1
    grads["b1"] = dz1.sum(0)
    return loss, grads
