"""Diagnoses a check can give without the engine: a wrong shape, right only at the assignment's
sizes, right only on the submission's own inputs (in the assignment's vocabulary)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.diagnose.evidence import GRADIENTS
from harness.records.result import Diagnosis


def instance_diagnosis(fn: str) -> Diagnosis:
    """A function right on the notebook's own inputs and wrong on generic others."""
    return Diagnosis(
        "instance-only",
        f"{fn}() is right on your notebook's own X, W1, W2 but wrong on other "
        "inputs: it must compute everything from its arguments, not from global variables, cached "
        "results or hard-coded numbers.",
    )


def sizes_diagnosis(fn: str, good: str, bad: str) -> Diagnosis:
    """A function right at the assignment's sizes, wrong (or raising) at others the assignment allows."""
    return Diagnosis(
        "fixed-sizes",
        f"{fn}() is right for a {good} network but not for a {bad} one: this "
        "assignment asks for any sizes; take the sizes from the arguments' shapes instead of "
        "fixed numbers.",
    )


def shape_diagnosis(key: str, got: Sequence[int], want: Sequence[int], fn: str | None = None) -> Diagnosis:
    """A value of the wrong shape (that no reshape or transpose can fit)."""
    name = f"{fn}()'s {key}" if fn else key
    got_t, want_t = tuple(got), tuple(want)
    if math.prod(got_t) < math.prod(want_t):
        hint = "a sum, a dot product or a product with the wrong shapes collapsed it"
    elif math.prod(got_t) > math.prod(want_t):
        hint = "a broadcast made it larger: an operand has the wrong orientation (a row where a column belongs)"
    else:
        hint = "check which operand is transposed"
    if key in GRADIENTS:
        what = f"the shape of {'W1' if key == 'dE_dW1' else 'W2'} {want_t}"
    elif key.endswith("_new"):
        what = f"the shape of {key[:-4]} {want_t}"
    elif key == "E":
        what = "a single number"
    else:
        what = f"the shape {want_t}"
    return Diagnosis("wrong-shape", f"{name} has shape {got_t}; it needs {what}: {hint}.")
