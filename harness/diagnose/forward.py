"""Wrong forward passes, generated: the reference run again with one of its operations changed.

A student's forward pass that differs from the network is most often one operation written as
another: the hidden layer's sigmoid written as tanh, a relu left out, a squared difference written
as its absolute value.  :func:`forward_mutants` finds every such operation the reference calls (by
intercepting its torch calls with a ``TorchFunctionMode``: no list per network) and runs the
reference once per change, keeping every named value and, by autograd, every gradient of the changed
loss.  The diagnosis then asks two questions of them: is the submitted forward value one of these
(``wrong-activation``, ``loss-formula``), and is a wrong gradient the right gradient of such a wrong
forward pass, the one the submission computed (``consistent-with-own-forward``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

from harness.computation import Truth, truth_of
from harness.errors import SpecError
from harness.records.definition import Definition

_SIGMOID = (torch.sigmoid, Tensor.sigmoid, F.sigmoid, torch.special.expit)
_TANH = (torch.tanh, Tensor.tanh, F.tanh)
_RELU = (torch.relu, Tensor.relu, F.relu)
_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}
_POW = (torch.pow, Tensor.pow, Tensor.__pow__)
_SQUARE = (torch.square, Tensor.square)


def _site(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """What kind of operation a torch call is, for the changes below; ``None``: none of them."""
    if func in _SIGMOID:
        return "sigmoid"
    if func in _TANH:
        return "tanh"
    if func in _RELU:
        return "relu"
    if func in (torch.clamp, Tensor.clamp, torch.clamp_min, Tensor.clamp_min):
        low = kwargs.get("min", args[1] if len(args) > 1 else None)
        high = kwargs.get("max", args[2] if len(args) > 2 else None)
        return "relu" if low == 0 and high is None else None
    if func in _SQUARE:
        return "square"
    if func in _POW and len(args) > 1 and isinstance(args[1], (int, float)) and args[1] == 2:
        return "square"
    return None


def _changes(kind: str) -> Iterator[tuple[str, str, Callable[[Tensor], Tensor]]]:
    """(id, words, the operation instead) for a site of ``kind``; words name the site as ``{at}``."""
    if kind in _ACTIVATIONS:
        for other, fn in _ACTIVATIONS.items():
            if other != kind:
                yield "wrong-activation", f"{{at}} uses {other} where the network has a {kind}", fn
        same = _ACTIVATIONS[kind]
        yield "sign-flip", f"{{at}} is the {kind} of minus its input (a sign inside it)", lambda t: same(-t)
        yield "wrong-activation", f"the {kind} that makes {{at}} is left out", lambda t: t * 1.0
    elif kind == "square":
        yield "loss-formula", "{at} uses the absolute difference where the reference squares it", torch.abs


class _Sites(TorchFunctionMode):
    """Counts the operations of a run (``change``: replaces the ``index``-th with ``fn``)."""

    def __init__(self, change: tuple[int, Callable[[Tensor], Tensor]] | None = None) -> None:
        super().__init__()
        self.kinds: list[str] = []
        self.change = change

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        kind = _site(func, args, kwargs)
        if kind is None:
            return func(*args, **kwargs)
        index = len(self.kinds)
        self.kinds.append(kind)
        if self.change is not None and self.change[0] == index and isinstance(args[0], Tensor):
            return self.change[1](args[0])
        return func(*args, **kwargs)


@dataclass(frozen=True)
class ForwardMutant:
    """The reference with one operation changed: what it computes (``truth``: every named value and
    gradient of its loss), and what changed, in words naming the value it makes (``at``)."""

    id: str
    words: str
    at: str  # the first named value (in the reference's order) the change changes
    truth: Truth


def forward_mutants(
    definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, Any]
) -> list[ForwardMutant]:
    """Every one-operation change of the reference's forward pass on one run that it can compute."""
    counted = _Sites()
    with counted:
        plain = truth_of(definition, inputs, cell)
    names = [n for n in plain.order if n not in inputs]
    found: list[ForwardMutant] = []
    for index, kind in enumerate(counted.kinds):
        for kind_id, words, fn in _changes(kind):
            mode = _Sites((index, fn))
            try:
                with mode:
                    truth = truth_of(definition, inputs, cell)
            except (SpecError, RuntimeError, ValueError):
                continue  # the change makes the reference fail (a shape it cannot take)
            if not all(bool(torch.isfinite(t).all()) for t in truth.values.values()):
                continue
            at = next((n for n in names if not torch.equal(truth.values[n], plain.values[n])), None)
            if at is not None:  # None: the change changes nothing (a relu of positive values)
                found.append(ForwardMutant(kind_id, words, at, truth))
    return found
