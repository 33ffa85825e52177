# example (bug, function style): sigmoid_grad(h) returns h*(1+h) instead of h*(1-h).
# backward writes the derivatives out itself, so only the sigmoid_grad helper is wrong.
import torch


def sigmoid(z):
    return 1.0 / (1.0 + torch.exp(-z))


def sigmoid_grad(h):
    return h * (1 + h)


def forward(X, W1, W2):
    H = sigmoid(W1.T @ X)
    Y_cap = sigmoid(H.T @ W2)
    return Y_cap


def loss(Y_cap, Y):
    return ((Y - Y_cap) ** 2).sum()


def backward(X, Y, W1, W2):
    H = sigmoid(W1.T @ X)
    Y_cap = sigmoid(H.T @ W2)
    # chain rule written out so I can follow it
    dE_dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
    dE_dW2 = H @ dE_dO
    dE_dZ = (W2 @ dE_dO.T) * H * (1 - H)
    dE_dW1 = X @ dE_dZ.T
    return dE_dW1, dE_dW2


def update(W1, W2, dE_dW1, dE_dW2, lr):
    return W1 - lr * dE_dW1, W2 - lr * dE_dW2
