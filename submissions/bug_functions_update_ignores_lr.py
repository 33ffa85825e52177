# example (bug, function style): update() ignores its lr argument and always steps with 0.1, which is the
# notebook's value, so it only shows when it is called with another learning rate.
import torch


def sigmoid(z):
    return torch.sigmoid(z)


def sigmoid_grad(h):
    return h * (1 - h)


def forward(X, W1, W2):
    H = sigmoid(W1.T @ X)
    return sigmoid(H.T @ W2)


def loss(Y_cap, Y):
    return ((Y - Y_cap) ** 2).sum()


def backward(X, Y, W1, W2):
    H = sigmoid(W1.T @ X)
    Y_cap = sigmoid(H.T @ W2)
    delta_out = -2 * (Y - Y_cap) * sigmoid_grad(Y_cap)
    delta_hidden = (W2 @ delta_out.T) * sigmoid_grad(H)
    return X @ delta_hidden.T, H @ delta_out


LEARNING_RATE = 0.1


def update(W1, W2, dE_dW1, dE_dW2, lr):
    return W1 - LEARNING_RATE * dE_dW1, W2 - LEARNING_RATE * dE_dW2
