# example (incomplete, script style): forward pass and error only; the file stops before the
# gradients, so dE_dW2, dE_dW1 and the update are never defined.
import torch

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3)
W2 = torch.rand(3, 1)

Z = torch.matmul(W1.T, X)
H = torch.sigmoid(Z)
O = torch.matmul(H.T, W2)
Y_cap = torch.sigmoid(O)
E = (Y - Y_cap) ** 2
print("Y_cap:", Y_cap.item(), " E:", E.item())

# backprop: still working on it
# dE_dW2 = ...
# dE_dW1 = ...
