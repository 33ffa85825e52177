# example (bug): dE_dW1 multiplies by the output sigmoid's derivative twice (once inside dE_dO and once
# more by hand); dE_dW2 is right.
import torch

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.tensor([[0.6915, 0.2038, 0.1092],
                   [0.8664, 0.2407, 0.9444],
                   [0.9586, 0.5905, 0.4535],
                   [0.4292, 0.7313, 0.8132]])
W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])
lr = 0.1

Z = torch.matmul(W1.T, X)
H = torch.sigmoid(Z)
O = torch.matmul(H.T, W2)
Y_cap = torch.sigmoid(O)
E = (Y - Y_cap) ** 2

dE_dY_cap = -2 * (Y - Y_cap)
dY_cap_dO = Y_cap * (1 - Y_cap)
dE_dO = dE_dY_cap * dY_cap_dO
dE_dW2 = H * dE_dO
dE_dH = W2 * dE_dO * dY_cap_dO          # through the output sigmoid
dE_dW1 = torch.matmul(X, (dE_dH * H * (1 - H)).T)

W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
