# example (bug, function style): in backward, dE_dW2 multiplies by Z (the hidden layer before the
# sigmoid) instead of H (the hidden layer's output, which is what W2 actually sees); dE_dW1 and the
# rest are right.
import torch


def sigmoid(z):
    return torch.sigmoid(z)


def sigmoid_grad(h):
    return h * (1 - h)


def forward(X, W1, W2):
    Z = W1.T @ X
    H = sigmoid(Z)
    O = H.T @ W2
    Y_cap = sigmoid(O)
    return Z, H, O, Y_cap


def loss(Y_cap, Y):
    return ((Y - Y_cap) ** 2).sum()


def backward(X, Y, W1, W2):
    Z, H, O, Y_cap = forward(X, W1, W2)
    dE_dO = -2 * (Y - Y_cap) * sigmoid_grad(Y_cap)
    # output layer
    dE_dW2 = Z @ dE_dO
    # hidden layer
    dE_dH = W2 @ dE_dO.T
    dE_dZ = dE_dH * sigmoid_grad(H)
    dE_dW1 = X @ dE_dZ.T
    return dE_dW1, dE_dW2


def update(W1, W2, dE_dW1, dE_dW2, lr):
    W1_new = W1 - lr * dE_dW1
    W2_new = W2 - lr * dE_dW2
    return W1_new, W2_new
