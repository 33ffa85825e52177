"""Records: one problem the grader judges a submission on (its inputs), and its truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: records stay importable without torch
    from torch import Tensor

    import reference


@dataclass(frozen=True)
class Problem:
    """The submission's own inputs in canonical orientation, float64."""

    X: Tensor  # (n_in, 1)
    Y: Tensor  # (1, n_out)
    W1: Tensor  # (n_in, n_hidden)
    W2: Tensor  # (n_hidden, n_out)
    dtype: str = "float32"
    notes: tuple[str, ...] = ()

    @property
    def sizes(self) -> tuple[int, int, int]:
        return (self.X.shape[0], self.W1.shape[1], self.W2.shape[1])


@dataclass(frozen=True)
class Truth:
    forward: reference.Forward
    grads: reference.Gradients
