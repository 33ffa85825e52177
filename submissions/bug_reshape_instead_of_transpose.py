# example (bug): dE_dW1 is computed as a (3, 4) matrix and then .reshape(4, 3)'d instead of transposed,
# so the right numbers land in the wrong places.
import torch

torch.manual_seed(12)

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3)
W2 = torch.rand(3, 1)
lr = 0.1

Z = W1.T @ X
H = torch.sigmoid(Z)
O = H.T @ W2
Y_cap = torch.sigmoid(O)
E = (Y - Y_cap) ** 2

dE_dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
dE_dW2 = H @ dE_dO
dE_dZ = (W2 @ dE_dO) * H * (1 - H)     # (3, 1)
dE_dW1 = (dE_dZ @ X.T).reshape(4, 3)   # (3, 4) -> W1's shape

W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
