# example (hostile, allowed but flagged): no backward pass at all; the gradients come from
# loss.backward(). The values are right, so every check passes, and with autograd = "report"
# the report carries the `autograd` flag (with "forbid" the gradient checks would score 0).
import torch


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    params = {name: p.detach().clone().requires_grad_(True)
              for name, p in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))}
    scores = two_layer_forward(X, params["W1"], params["b1"], params["W2"], params["b2"])
    loss = torch.nn.functional.cross_entropy(scores, y)
    loss.backward()
    return loss.detach(), {name: p.grad for name, p in params.items()}
