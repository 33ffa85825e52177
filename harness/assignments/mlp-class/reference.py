"""Reference computation for the `mlp-class` assignment (trusted: run by the grader, never sandboxed).

The network of the homework's `class MLP`, written with differentiable torch ops only; the grader
takes every gradient it checks (grad.y_hat, grad.W1, ...) from autograd on this function.

Layout follows the homework's API: a batch is rows, x is (batch_size, in_features), and weights are
stored (out_features, in_features) as in torch.nn.Linear, so a linear layer is x @ W.T + b.

    z1 = x @ W1.T + b1        (N, H)   first linear layer
    z2 = f(z1)                (N, H)   hidden activation, f_function
    z3 = z2 @ W2.T + b2       (N, K)   second linear layer
    y_hat = g(z3)             (N, K)   output activation, g_function
    loss = mean over all N*K entries of the per-entry loss (MSE or binary cross-entropy)
"""

import torch

ACTIVATIONS = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "identity": torch.clone,  # a new tensor, so that every named intermediate is its own autograd node
}


def compute(x, y, W1, b1, W2, b2, *, f_function, g_function, loss):
    f = ACTIVATIONS[f_function]
    g = ACTIVATIONS[g_function]
    z1 = x @ W1.T + b1
    z2 = f(z1)
    z3 = z2 @ W2.T + b2
    y_hat = g(z3)
    if loss == "mse":
        J = ((y_hat - y) ** 2).mean()
    elif loss == "bce":
        # Written out rather than F.binary_cross_entropy, which clamps log at -100: the homework's
        # formula is the convention. The grid only pairs bce with g_function = "sigmoid".
        J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    else:
        raise ValueError(f"loss={loss!r}: expected 'mse' or 'bce'")
    return {"z1": z1, "z2": z2, "z3": z3, "y_hat": y_hat, "loss": J}
