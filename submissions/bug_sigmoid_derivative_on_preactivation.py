# example (bug): the hidden layer's sigmoid derivative h*(1-h) is applied to Z (before the sigmoid)
# instead of H, so dE_dW1 is wrong; everything else is right.
import torch

torch.manual_seed(3)

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3)
W2 = torch.rand(3, 1)
lr = 0.1

# forward
Z = torch.matmul(W1.T, X)
H = torch.sigmoid(Z)
O = torch.matmul(H.T, W2)
Y_cap = torch.sigmoid(O)
E = (Y - Y_cap) ** 2

# backward
dE_dY_cap = -2 * (Y - Y_cap)
dY_cap_dO = Y_cap * (1 - Y_cap)
dO_dW2 = H
dE_dW2 = dE_dY_cap * dY_cap_dO * dO_dW2

dO_dH = W2
dH_dZ = Z * (1 - Z)          # derivative of sigmoid at Z
dZ_dW1 = X
dE_dW1 = torch.matmul(dZ_dW1, (dE_dY_cap * dY_cap_dO * dO_dH * dH_dZ).T)

# update
W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
print(W1_new)
print(W2_new)
