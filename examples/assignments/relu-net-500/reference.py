"""Reference computation for the ``relu-net-500`` assignment.

The "Learning PyTorch with examples" warm-up: a two-layer ReLU network without
biases, ``y_pred = relu(x @ w1) @ w2``, trained on the summed squared error
``((y_pred - y) ** 2).sum()`` (no 1/2, no mean) by plain gradient descent.

The ReLU is ``clamp(min=0)`` as in the tutorial: its derivative at exactly 0 is 1,
the same as the handout's ``grad_h[h < 0] = 0`` (which keeps the entries where
h == 0).
"""


def compute(x, y, w1, w2):
    # learning_rate is an input too (kind "rate": new.w1 uses it), but not the forward pass's
    h = x @ w1
    h_relu = h.clamp(min=0)
    y_pred = h_relu @ w2
    loss = (y_pred - y).pow(2).sum()
    return {"h": h, "h_relu": h_relu, "y_pred": y_pred, "loss": loss}
