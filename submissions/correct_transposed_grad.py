# example (correct, script style): dE_dW1 is stored as a (3, 4) matrix, the transpose of W1's shape;
# the update transposes it back.
import torch

torch.manual_seed(2024)

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

# backward -- I like to keep the deltas as rows x inputs, like in the lecture slides
dE_dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
dE_dW2 = H * dE_dO
dE_dZ = W2 * dE_dO * H * (1 - H)          # (3,1)
dE_dW1 = torch.matmul(dE_dZ, X.T)         # (3,4): row j = hidden unit j
print(dE_dW1.shape)

# update (dE_dW1 is 3x4 so transpose it back)
W1_new = W1 - lr * dE_dW1.T
W2_new = W2 - lr * dE_dW2
