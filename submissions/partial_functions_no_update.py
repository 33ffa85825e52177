# example (incomplete, function style): only sigmoid, forward and backward are written;
# loss, update and sigmoid_grad are not defined.
# TODO: loss + update (ran out of time)
import torch


def sigmoid(z):
    return 1 / (1 + torch.exp(-z))


def forward(X, W1, W2):
    Z = torch.matmul(W1.T, X)
    H = sigmoid(Z)
    O = torch.matmul(H.T, W2)
    return sigmoid(O)


def backward(X, Y, W1, W2):
    H = sigmoid(torch.matmul(W1.T, X))
    Y_cap = sigmoid(torch.matmul(H.T, W2))
    dE_dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
    dE_dW2 = torch.matmul(H, dE_dO)
    dE_dZ = torch.matmul(W2, dE_dO.T) * H * (1 - H)
    dE_dW1 = torch.matmul(X, dE_dZ.T)
    return dE_dW1, dE_dW2
