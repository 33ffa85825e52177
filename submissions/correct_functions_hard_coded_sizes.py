# example (correct, function style): written with loops over the notebook's fixed sizes 4-3-1. That is all
# the default assignment asks for; the report adds an information note that other sizes do not work.
import torch

N_IN, N_HIDDEN = 4, 3


def sigmoid(z):
    return 1 / (1 + torch.exp(-z))


def sigmoid_grad(h):
    return h * (1 - h)


def forward(X, W1, W2):
    H = [sigmoid(sum(W1[i, j] * X[i, 0] for i in range(N_IN))) for j in range(N_HIDDEN)]
    return sigmoid(sum(H[j] * W2[j, 0] for j in range(N_HIDDEN))).reshape(1, 1)


def loss(Y_cap, Y):
    return ((Y - Y_cap) ** 2).sum()


def backward(X, Y, W1, W2):
    H = [sigmoid(sum(W1[i, j] * X[i, 0] for i in range(N_IN))) for j in range(N_HIDDEN)]
    y = sigmoid(sum(H[j] * W2[j, 0] for j in range(N_HIDDEN)))
    d_out = -2 * (Y[0, 0] - y) * y * (1 - y)
    dE_dW2 = torch.zeros(N_HIDDEN, 1)
    dE_dW1 = torch.zeros(N_IN, N_HIDDEN)
    for j in range(N_HIDDEN):
        dE_dW2[j, 0] = d_out * H[j]
        for i in range(N_IN):
            dE_dW1[i, j] = d_out * W2[j, 0] * H[j] * (1 - H[j]) * X[i, 0]
    return dE_dW1, dE_dW2


def update(W1, W2, dE_dW1, dE_dW2, lr):
    return W1 - lr * dE_dW1, W2 - lr * dE_dW2
