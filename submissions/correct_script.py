# example (correct, script style): the notebook's printed weights, float32, one step of gradient descent.
# Backprop exercise -- 4-3-1 network, same numbers as the notebook so I can check mine.
import torch

X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])

# weights copied from the printout in class
W1 = torch.tensor([[0.6915, 0.2038, 0.1092],
                   [0.8664, 0.2407, 0.9444],
                   [0.9586, 0.5905, 0.4535],
                   [0.4292, 0.7313, 0.8132]])
W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])
lr = 0.1

# ---- forward pass ----
Z = torch.matmul(W1.T, X)       # (3,1)
H = torch.sigmoid(Z)            # (3,1)
O = torch.matmul(H.T, W2)       # (1,1)
Y_cap = torch.sigmoid(O)        # (1,1)
E = (Y - Y_cap) ** 2
print("Y_cap =", Y_cap.item())  # notebook says 0.9203
print("E =", E.item())          # notebook says 0.8470

# ---- backward pass (chain rule) ----
dE_dY_cap = -2 * (Y - Y_cap)
dY_cap_dO = Y_cap * (1 - Y_cap)
dE_dO = dE_dY_cap * dY_cap_dO   # (1,1)

dO_dW2 = H
dE_dW2 = dO_dW2 * dE_dO         # (3,1)

dO_dH = W2
dE_dH = dO_dH * dE_dO           # (3,1)
dH_dZ = H * (1 - H)
dE_dZ = dE_dH * dH_dZ           # (3,1)
dE_dW1 = torch.matmul(X, dE_dZ.T)   # (4,1) x (1,3) = (4,3)

print("dE_dW2 =", dE_dW2)
print("dE_dW1 =", dE_dW1)

# ---- update ----
W2_new = W2 - lr * dE_dW2
W1_new = W1 - lr * dE_dW1
print("W1_new =", W1_new)
print("W2_new =", W2_new)
