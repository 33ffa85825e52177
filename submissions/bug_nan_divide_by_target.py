# example (bug): dE_dY_cap is "simplified" with Y / Y, which is 0/0 = NaN for the notebook's target Y = 0,
# so both gradients and the updated weights are NaN.
import torch

torch.manual_seed(11)

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3)
W2 = torch.rand(3, 1)
lr = 0.1

Z = torch.matmul(W1.T, X)
H = torch.sigmoid(Z)
O = torch.matmul(H.T, W2)
Y_cap = torch.sigmoid(O)
E = (Y - Y_cap) ** 2

# d/dY_cap of (Y - Y_cap)^2, normalised by the target (my notes say this keeps it scale-free)
dE_dY_cap = -2 * (Y - Y_cap) * Y / Y
dY_cap_dO = Y_cap * (1 - Y_cap)
dE_dW2 = dE_dY_cap * dY_cap_dO * H
dE_dW1 = torch.matmul(X, (dE_dY_cap * dY_cap_dO * W2 * H * (1 - H)).T)
print(dE_dW2)

W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
