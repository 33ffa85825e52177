# example (bug): the update adds the gradient (W + lr*dE/dW, gradient ascent);
# the gradients themselves are right.
import torch

torch.manual_seed(42)

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
print("before:", E.item())

dE_dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
dE_dW2 = H * dE_dO
dE_dW1 = torch.matmul(X, (W2 * dE_dO * H * (1 - H)).T)

# step along the gradient
W1_new = W1 + lr * dE_dW1
W2_new = W2 + lr * dE_dW2

Y_cap_new = torch.sigmoid(torch.matmul(torch.sigmoid(torch.matmul(W1_new.T, X)).T, W2_new))
print("after:", ((Y - Y_cap_new) ** 2).item())   # hmm, went up?
