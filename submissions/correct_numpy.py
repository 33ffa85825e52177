# example (correct, script style): written with numpy instead of torch, calls the output Y_hat,
# defines its own sigmoid helper and uses lr = 0.5.
# I don't have torch on my laptop so this is the numpy version of the notebook.
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


X = np.array([[0.9], [0.8], [0.7], [0.6]])
Y = np.array([[0.0]])
W1 = np.array([[0.6915, 0.2038, 0.1092],
               [0.8664, 0.2407, 0.9444],
               [0.9586, 0.5905, 0.4535],
               [0.4292, 0.7313, 0.8132]])
W2 = np.array([[0.9415], [0.9888], [0.9888]])
lr = 0.5

# forward
Z = W1.T @ X
H = sigmoid(Z)
O = H.T @ W2
Y_hat = sigmoid(O)
E = (Y - Y_hat) ** 2
print("Y_hat", Y_hat, "E", E)

# backward
dE_dY_hat = -2 * (Y - Y_hat)
dY_hat_dO = Y_hat * (1 - Y_hat)
dE_dO = dE_dY_hat * dY_hat_dO
dE_dW2 = H @ dE_dO
dE_dH = W2 @ dE_dO.T
dE_dZ = dE_dH * H * (1 - H)
dE_dW1 = X @ dE_dZ.T
print(np.round(dE_dW2, 4))

# update
W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
