# example (correct, function style): all six functions, written for any n_in / n_hidden / n_out
# (and for several samples as columns of X).
import torch


def sigmoid(z):
    return 1 / (1 + torch.exp(-z))


def sigmoid_grad(h):
    # derivative of the sigmoid written with its output: s'(z) = s(z) * (1 - s(z))
    return h * (1 - h)


def forward(X, W1, W2):
    Z = W1.T @ X            # (n_hidden, m)
    H = sigmoid(Z)          # (n_hidden, m)
    O = H.T @ W2            # (m, n_out)
    Y_cap = sigmoid(O)      # (m, n_out)
    return Z, H, O, Y_cap


def loss(Y_cap, Y):
    return ((Y - Y_cap) ** 2).sum()


def backward(X, Y, W1, W2):
    Z, H, O, Y_cap = forward(X, W1, W2)
    dE_dY_cap = -2 * (Y - Y_cap)                 # (m, n_out)
    dE_dO = dE_dY_cap * sigmoid_grad(Y_cap)      # (m, n_out)
    dE_dW2 = H @ dE_dO                           # (n_hidden, n_out)
    dE_dH = W2 @ dE_dO.T                         # (n_hidden, m)
    dE_dZ = dE_dH * sigmoid_grad(H)              # (n_hidden, m)
    dE_dW1 = X @ dE_dZ.T                         # (n_in, n_hidden)
    return dE_dW1, dE_dW2


def update(W1, W2, dE_dW1, dE_dW2, lr=0.1):
    return W1 - lr * dE_dW1, W2 - lr * dE_dW2


def _demo():
    X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
    Y = torch.tensor([[0.0]])
    W1 = torch.rand(4, 3)
    W2 = torch.rand(3, 1)
    for step in range(5):
        Y_cap = forward(X, W1, W2)[-1]
        print(step, loss(Y_cap, Y).item())
        dE_dW1, dE_dW2 = backward(X, Y, W1, W2)
        W1, W2 = update(W1, W2, dE_dW1, dE_dW2, 0.1)


if __name__ == "__main__":
    _demo()
