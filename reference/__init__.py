"""The reference 4-3-1 sigmoid network: what students are taught from."""

from reference.loop import (
    NOTEBOOK_W1,
    NOTEBOOK_W2,
    NOTEBOOK_X,
    NOTEBOOK_Y,
    Start,
    Step,
    Trace,
    notebook_problem,
    random_problem,
    render,
    train,
)
from reference.mlp import Forward, Gradients, autograd_backward, backward, forward, sigmoid, sigmoid_grad, update

__all__ = [
    "NOTEBOOK_W1",
    "NOTEBOOK_W2",
    "NOTEBOOK_X",
    "NOTEBOOK_Y",
    "Forward",
    "Gradients",
    "Start",
    "Step",
    "Trace",
    "autograd_backward",
    "backward",
    "forward",
    "notebook_problem",
    "random_problem",
    "render",
    "sigmoid",
    "sigmoid_grad",
    "train",
    "update",
]
