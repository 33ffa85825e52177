# example (bug): the error is |Y - Y_cap| instead of (Y - Y_cap)^2; the gradients are the ones
# for the squared error (from the lecture notes), so only the loss is wrong.
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
E = torch.abs(Y - Y_cap)       # error
print("E =", E)

dE_dY_cap = -2 * (Y - Y_cap)
dY_cap_dO = Y_cap * (1 - Y_cap)
dE_dW2 = dE_dY_cap * dY_cap_dO * H
dH_dZ = H * (1 - H)
dE_dW1 = torch.matmul(X, (dE_dY_cap * dY_cap_dO * W2 * dH_dZ).T)

W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
