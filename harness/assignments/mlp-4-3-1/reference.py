"""Reference computation of the default assignment, mlp-4-3-1, in the form any course writes.

The classic teaching notebook's network (CONTRACT.md): one sample X (4, 1), W1 (4, 3), W2 (3, 1),
sigmoid at both layers, squared error. The grader takes every gradient it checks (grad.W1,
grad.W2, grad.H, ...) from autograd on this function and the update from ``[assignment] lr``.
"""

import torch


def compute(X, Y, W1, W2):
    Z = W1.T @ X  # (3, 1)
    H = torch.sigmoid(Z)  # (3, 1)
    O = H.T @ W2  # (1, 1)
    Y_cap = torch.sigmoid(O)  # (1, 1)
    E = ((Y - Y_cap) ** 2).sum()  # the squared error, a scalar
    # what the helpers sigmoid(Z) and sigmoid_grad(H) of a function-style file return (not on the
    # loss's path: their gradients are zero, and no check asks for them)
    helpers = {"sigmoid": H.clone(), "sigmoid_grad": H * (1 - H)}
    return {"Z": Z, "H": H, "O": O, "Y_cap": Y_cap, "E": E, **helpers}
