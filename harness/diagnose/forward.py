"""Forward-pass mistakes of a course's own assignment: the reference run again with one of its steps
changed, by rules per operation, not per network.

- an activation (relu, sigmoid, tanh): applied twice (``double-count``), another one in its place
  (``wrong-activation``), or given its input times 2 or ½ (``wrong-constant``: a sigmoid written as
  ``(1 + tanh(x)) / 2`` without the ``x / 2``);
- a product (``@``, ``*``): one operand replaced by another named value of its shape, or its
  transpose (``wrong-operand``: the second layer fed the pre-activation, as it is when the hidden
  activation is left out; an output left without its activation is another named value, the value
  rules' ``other-value``);
- an activation given minus its input (``sign-flip``: ``1 / (1 + exp(z))``);
- a square (``x ** 2``, ``square``) written as an absolute value (``loss-formula``): the only rule
  tried at the loss, whose other mistakes are its formula's (the value rules').

:meth:`Forward.truth` gives a mutant's every value and gradient (autograd on the changed reference):
a wrong gradient that is the right gradient of the submission's own wrong forward pass is named so
(``consistent-with-own-forward``, :mod:`harness.diagnose.values`).

A step is a call of a torch function the reference makes (seen through a
:class:`~torch.overrides.TorchFunctionMode`), numbered in call order: the n-th call is the same step
on every run.  A mutant is named only when it gives the submitted value on every failing run, and the
first rule above that does wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

from harness.computation import Truth, call_reference, leaves_of, truth_of
from harness.errors import SpecError
from harness.records.definition import Definition

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}
_ACTIVATION_OF: dict[Any, str] = {
    f: name for name in _ACTIVATIONS for f in (getattr(torch, name), getattr(Tensor, name), getattr(F, name))
}
_SQUARES = frozenset({torch.square, Tensor.square, torch.pow, Tensor.pow, Tensor.__pow__})
_PRODUCTS = frozenset(
    {
        torch.matmul,
        Tensor.matmul,
        Tensor.__matmul__,
        Tensor.__rmatmul__,
        torch.mm,
        Tensor.mm,
        torch.mv,
        Tensor.mv,
        torch.mul,
        Tensor.mul,
        Tensor.__mul__,
        Tensor.__rmul__,
    }
)

Edit = Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]
SQUARE = "square"  # the kind of a square step (the others: an activation's name, None for a product)


class _Steps(TorchFunctionMode):
    """While active: the reference's activation and product calls, numbered; the ``at``-th one made by
    ``edit`` instead (recorded in ``steps`` when there is no edit)."""

    def __init__(self, at: int = -1, edit: Edit | None = None) -> None:
        super().__init__()
        self.at, self.edit, self.count = at, edit, 0
        self.steps: list[tuple[str | None, tuple[Any, ...]]] = []  # (activation or None for a product, args)

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        activation = _ACTIVATION_OF.get(func)
        if func in _SQUARES:  # a square: x ** 2, pow(x, 2), square(x)
            if func not in (torch.square, Tensor.square) and (len(args) < 2 or args[1] != 2):
                return func(*args, **kwargs)
            activation = SQUARE
        elif activation is None and func not in _PRODUCTS:
            return func(*args, **kwargs)
        k, self.count = self.count, self.count + 1
        if self.edit is None:
            self.steps.append((activation, args))
        elif k == self.at:
            return self.edit(func, args, kwargs)
        return func(*args, **kwargs)


def _run(
    definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, object], mode: _Steps
) -> dict[str, Any]:
    with torch.no_grad(), mode:
        return call_reference(definition, leaves_of(definition, inputs), cell)


class Forward:
    """The reference's forward pass on one run, and its steps (:func:`mutants` changes them)."""

    def __init__(self, definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, object]) -> None:
        self.definition, self.inputs, self.cell = definition, inputs, cell
        recorder = _Steps()
        result = _run(definition, inputs, cell, recorder)
        self.steps = recorder.steps
        self.values = {n: v for n, v in result.items() if isinstance(v, Tensor)}
        self.values.update(leaves_of(definition, inputs))

    def truth(self, at: int, edit: Edit) -> Truth | None:
        """Every value and gradient of the reference with step ``at`` made by ``edit`` (autograd, float64);
        ``None`` if the reference then fails."""
        try:
            with torch.enable_grad(), _Steps(at, edit):  # the diagnosis searches under no_grad
                return truth_of(self.definition, self.inputs, self.cell)
        except (SpecError, RuntimeError, ValueError):
            return None

    def values_at(self, at: int, edit: Edit) -> dict[str, Tensor] | None:
        """Every named value when step ``at`` is made by ``edit`` (no gradients: cheap, to screen a
        mutant before its :meth:`truth`); ``None`` if the reference then fails."""
        try:
            found = _run(self.definition, self.inputs, self.cell, _Steps(at, edit))
        except Exception:  # a changed step the rest of the reference cannot take (a shape)
            return None
        return {n: v.detach().to(torch.float64) for n, v in found.items() if isinstance(v, Tensor)}

    def value(self, quantity: str, at: int, edit: Edit) -> Tensor | None:
        """``quantity`` when step ``at`` is made by ``edit``; ``None`` if the reference then fails."""
        try:
            found = _run(self.definition, self.inputs, self.cell, _Steps(at, edit)).get(quantity)
        except Exception:  # a changed step the rest of the reference cannot take (a shape)
            return None
        return found.detach().to(torch.float64) if isinstance(found, Tensor) else None


def _twice(f: Any, a: tuple[Any, ...], kw: dict[str, Any]) -> Any:
    return f(f(*a, **kw))


def _instead(g: Callable[[Tensor], Tensor]) -> Edit:
    return lambda f, a, kw: g(a[0])


def _operand(j: int, value: Tensor) -> Edit:
    return lambda f, a, kw: f(*a[:j], value.to(a[j].dtype), *a[j + 1 :], **kw)


def _input_times(c: float) -> Edit:
    return lambda f, a, kw: f(c * a[0], *a[1:], **kw)


def mutants(forward: Forward) -> Iterator[tuple[str, str, int, Edit, str]]:
    """(kind, detail, step, edit, what the student did) for every rule at every step, simplest first."""
    acts = [(k, a) for k, (a, _) in enumerate(forward.steps) if a is not None and a != SQUARE]
    squares = [k for k, (a, _) in enumerate(forward.steps) if a == SQUARE]
    products = [(k, args) for k, (a, args) in enumerate(forward.steps) if a is None]
    nth = {k: n + 1 for n, (k, _) in enumerate(acts)} | {k: n + 1 for n, (k, _) in enumerate(products)}
    nth.update({k: n + 1 for n, k in enumerate(squares)})

    def where(k: int, name: str | None) -> str:
        return f"activation {nth[k]} ({name})" if name is not None else f"product {nth[k]}"

    for k in squares:
        yield (
            "loss-formula",
            f"{k}:abs",
            k,
            _instead(torch.abs),
            f"the forward pass takes the absolute value where square {nth[k]} of it belongs",
        )

    for k, name in acts:
        yield "double-count", f"{k}:twice", k, _twice, f"the forward pass applies {where(k, name)} twice"
    pool = {n: v for n, v in forward.values.items() if v.dtype.is_floating_point}
    pool.update({f"{n}.T": v.T for n, v in list(pool.items()) if v.dim() == 2 and v.shape[0] != v.shape[1]})
    for k, args in products:
        for j, arg in enumerate(args):
            if not isinstance(arg, Tensor):
                continue
            fits = {label: v for label, v in pool.items() if v.shape == arg.shape}
            same = [label for label, v in fits.items() if torch.equal(v.to(arg.dtype), arg)]
            right = same[0] if same else "one of its operands"
            for label, value in fits.items():
                if label in same:
                    continue
                yield (
                    "wrong-operand",
                    f"{k}:{j}:{label}",
                    k,
                    _operand(j, value),
                    f"{where(k, None)} of the forward pass uses {label} in place of {right}",
                )
    for k, name in acts:
        for other, g in _ACTIVATIONS.items():
            if other != name:
                yield (
                    "wrong-activation",
                    f"{k}:{other}",
                    k,
                    _instead(g),
                    f"the forward pass uses {other} for {where(k, name)}",
                )
    for k, name in acts:
        yield (
            "sign-flip",
            f"{k}:minus",
            k,
            _input_times(-1.0),
            f"{where(k, name)} of the forward pass is given minus its input",
        )
    for k, name in acts:
        for factor, words in ((2.0, "twice"), (0.5, "half")):
            yield (
                "wrong-constant",
                f"{k}:input*{factor:g}",
                k,
                _input_times(factor),
                f"{where(k, name)} of the forward pass is given {words} its input",
            )
