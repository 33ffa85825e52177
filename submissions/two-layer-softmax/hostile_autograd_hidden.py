# example (hostile, allowed but flagged): the gradients come from torch's own gradient engine,
# reached through getattr and strings built at run time, so the source never names it or the
# tracking flag. The values are right, so every check passes; the run-time detection (it sees the
# engine's grad function called) must still raise the report's flag for it.
import torch

_engine = getattr(torch, "auto" + "grad")
_track = "requires" + "_grad_"


def two_layer_forward(X, W1, b1, W2, b2):
    return torch.relu(X @ W1 + b1) @ W2 + b2


def two_layer_loss(X, y, W1, b1, W2, b2):
    names = ["W1", "b1", "W2", "b2"]
    leaves = [getattr(t.detach().clone(), _track)() for t in (W1, b1, W2, b2)]
    scores = two_layer_forward(X, *leaves)
    loss = -torch.log_softmax(scores, dim=1)[torch.arange(len(y)), y].mean()
    found = getattr(_engine, "grad")(loss, leaves)
    return loss.detach(), dict(zip(names, found))
