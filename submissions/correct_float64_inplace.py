# example (correct, script style): float64 and the @ operator; the weights are updated in place
# (W1 -= ...) or rebound (W2 = W2 - ...), there is no W1_new / W2_new.
# backprop hw - did everything in double precision because float32 printed ugly numbers
import torch

torch.manual_seed(7)

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]], dtype=torch.float64)
Y = torch.tensor([[0.0]], dtype=torch.float64)
W1 = torch.rand(4, 3, dtype=torch.float64)
W2 = torch.rand(3, 1, dtype=torch.float64)
lr = 0.1

print(W1)
print(W2)

# forward
Z = W1.T @ X
H = 1 / (1 + torch.exp(-Z))
O = H.T @ W2
Y_cap = 1 / (1 + torch.exp(-O))
E = (Y - Y_cap) ** 2
print("prediction", Y_cap.item(), "error", E.item())

# backward
delta_out = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)   # dE/dO, (1,1)
dE_dW2 = H @ delta_out                                # (3,1)
delta_hidden = (W2 @ delta_out) * H * (1 - H)         # dE/dZ, (3,1)
dE_dW1 = X @ delta_hidden.T                           # (4,3)

# gradient descent step (no need to keep the old weights)
W1 -= lr * dE_dW1
W2 = W2 - lr * dE_dW2
print(W1)
print(W2)
