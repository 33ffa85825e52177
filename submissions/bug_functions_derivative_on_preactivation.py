# example (bug, function style): backward applies sigmoid_grad (written for the sigmoid's output h) to the
# pre-activations O and Z instead of to Y_cap and H, in both layers.
import torch


def sigmoid(z):
    return 1 / (1 + torch.exp(-z))


def sigmoid_grad(h):
    return h * (1 - h)


def forward(X, W1, W2):
    Z = W1.T @ X
    H = sigmoid(Z)
    O = H.T @ W2
    return Z, H, O, sigmoid(O)


def loss(Y_cap, Y):
    return ((Y - Y_cap) ** 2).sum()


def backward(X, Y, W1, W2):
    Z, H, O, Y_cap = forward(X, W1, W2)
    dE_dO = -2 * (Y - Y_cap) * sigmoid_grad(O)
    dE_dW2 = H @ dE_dO
    dE_dZ = (W2 @ dE_dO.T) * sigmoid_grad(Z)
    dE_dW1 = X @ dE_dZ.T
    return dE_dW1, dE_dW2


def update(W1, W2, dE_dW1, dE_dW2, lr):
    return W1 - lr * dE_dW1, W2 - lr * dE_dW2
