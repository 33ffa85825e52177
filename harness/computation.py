"""A course's reference computation: its inputs drawn, its truth by autograd in float64 (confirmed by
finite differences), and its graph (which named value each one is computed from).

The reference module is the course's own code, trusted: it runs here, in the grader, never in the
sandbox.  :func:`validate` runs it once per variant cell before anything is graded, so that a
mistake in the assignment is one line naming the file and the line, not a verdict.
"""

from __future__ import annotations

import importlib.util
import os
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

import harness.wire as wire
from harness.errors import SpecError
from harness.gradients import check_gradients
from harness.records.assignment import Assignment
from harness.records.definition import GRAD, NEW, Definition, InputSpec

_modules: dict[tuple[str, float], Callable[..., Any]] = {}
_resolved: dict[tuple[str, str], str] = {}  # (cwd for a relative path, path) -> its real path (a stat a call)


def reference_of(definition: Definition) -> Callable[..., Any]:
    """The reference function, imported from the assignment's folder (once per file version)."""
    path = Path(definition.folder) / definition.reference
    where = ("" if path.is_absolute() else os.getcwd(), str(path))
    real = _resolved.get(where)
    if real is None:
        real = _resolved[where] = str(path.resolve())
    key = (real, os.stat(real).st_mtime)
    found = _modules.get(key)
    if found is None:
        name = f"gradproof_reference_{re.sub(r'[^A-Za-z0-9_]', '_', definition.name)}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise SpecError(f"{path}:{_line_in(exc, path)}: the reference cannot be imported: {_one(exc)}") from None
        fn = getattr(module, definition.function, None)
        if not callable(fn):
            raise SpecError(f"{path}: defines no function {definition.function!r} ([assignment] function)")
        found = _modules[key] = fn
    return found


def _one(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def _line_in(exc: BaseException, path: Path) -> int:
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return int(lines[-1] or 0) if lines else 1


# ---------------------------------------------------------------- inputs


def substitution_of(
    definition: Definition, spec: InputSpec, run: int, seed: int, turn: int | None = None
) -> wire.Substitution:
    """How the grader draws ``spec`` on a run (the child draws the same on a script's runs): ``run``
    picks the sizes, ``turn`` (default ``run``) which of the grader's runs it is."""
    return wire.Substitution(seed, spec.kind, definition.classes_of(spec, run), run if turn is None else turn)


def draw_inputs(definition: Definition, run: int, seed: int) -> dict[str, Tensor]:
    """The inputs of one of the grader's runs: float64 (labels: int64), at run ``run``'s sizes."""
    drawn: dict[str, Tensor] = {}
    for spec in definition.inputs:
        shape = definition.shape_of(spec, run)
        entries = wire.draw_entries(substitution_of(definition, spec, run, seed), shape)
        dtype = torch.int64 if spec.kind == "labels" else torch.float64
        drawn[spec.name] = torch.tensor(entries, dtype=torch.float64).reshape(shape).to(dtype)
    return drawn


def run_seeds(seed: int, count: int) -> list[int]:
    """The seeds of the grader's runs of a submission whose own seed is ``seed`` (in the report)."""
    return [(seed * 7919 + 104729 * (k + 1)) % (2**31 - 1) for k in range(count)]


# ---------------------------------------------------------------- the truth


@dataclass(frozen=True)
class Truth:
    """Every quantity of one run and variant cell, float64; and the graph between the named ones."""

    values: Mapping[str, Tensor]
    order: tuple[str, ...]  # the named values in the order the reference computed them
    inputs_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> the named values it is made from
    confirmed: bool = True  # autograd's parameter gradients agree with finite differences

    def consumers(self, name: str) -> tuple[str, ...]:
        """The named values computed directly from ``name`` (its gradient flows back from them)."""
        return tuple(n for n in self.order if name in self.inputs_of.get(n, ()))


def leaves_of(definition: Definition, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A run's inputs as the reference takes them: float64 (labels int64), copies of their own, the
    parameters tracked by autograd."""
    leaves: dict[str, Tensor] = {}
    for spec in definition.inputs:
        value = inputs[spec.name].detach()
        value = value.to(torch.int64) if spec.kind == "labels" else value.to(torch.float64)
        leaves[spec.name] = value.clone().requires_grad_(spec.parameter)
    return leaves


def call_reference(definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, Any]) -> dict[str, Any]:
    """The reference's result on ``inputs`` in variant ``cell``; a reference that raises or returns
    something else than named tensors with a scalar loss is a :class:`SpecError` line."""
    fn = reference_of(definition)
    path = Path(definition.folder) / definition.reference
    rates = {i.name for i in definition.inputs if i.kind == "rate"}  # the update's, not the forward's
    try:
        result = fn(**{n: t for n, t in inputs.items() if n not in rates}, **cell)
    except Exception as exc:
        raise SpecError(
            f"{path}:{_line_in(exc, path)}: the reference raised {_one(exc)}{f' (cell {dict(cell)})' if cell else ''}"
        ) from None
    if not isinstance(result, Mapping) or not all(isinstance(k, str) for k in result):
        raise SpecError(
            f"{path}: {definition.function}() must return a dict of named tensors, got {type(result).__name__}"
        )
    loss = result.get(definition.loss)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise SpecError(
            f"{path}: {definition.function}() returned no scalar tensor under {definition.loss!r} ([assignment] loss)"
        )
    return dict(result)


def truth_of(
    definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, Any], confirm: bool = False
) -> Truth:
    """The reference on ``inputs`` in float64: every named value, ``grad.<name>`` of the loss for every
    parameter and every named intermediate, and ``new.<parameter>``."""
    leaves = leaves_of(definition, inputs)
    return _truth_from(definition, leaves, call_reference(definition, leaves, cell), cell, confirm)


def _truth_from(
    definition: Definition,
    leaves: Mapping[str, Tensor],
    result: Mapping[str, Any],
    cell: Mapping[str, Any],
    confirm: bool = False,
) -> Truth:
    """The truth of one call of the reference on ``leaves`` that returned ``result``."""
    named = {k: v for k, v in result.items() if isinstance(v, Tensor)}
    loss = named[definition.loss]
    wrt = {n: t for n, t in leaves.items() if t.requires_grad}
    wrt.update({n: t for n, t in named.items() if t.requires_grad and n != definition.loss and n not in wrt})
    values: dict[str, Tensor] = {n: t.detach() for n, t in leaves.items()}
    values.update({n: t.detach().to(torch.float64) for n, t in named.items()})
    if wrt:
        grads = torch.autograd.grad(loss, list(wrt.values()), allow_unused=True, retain_graph=True)
        for (n, t), g in zip(wrt.items(), grads):
            values[GRAD + n] = (g if g is not None else torch.zeros_like(t)).detach()
    values[GRAD + definition.loss] = torch.ones_like(loss.detach())
    lr = learning_rate(definition, leaves)
    if lr is not None:
        for n in definition.parameters:
            values[NEW + n] = (leaves[n] - lr * values[GRAD + n]).detach()
    order = tuple(leaves) + tuple(n for n in named if n not in leaves)
    confirmed = _confirm(definition, leaves, cell, values) if confirm else True
    return Truth(values=values, order=order, inputs_of=_graph_of(definition, leaves, named, cell), confirmed=confirmed)


_graphs: dict[tuple[int, str, tuple[Any, ...]], tuple[Definition, dict[str, tuple[str, ...]]]] = {}


def _graph_of(
    definition: Definition, leaves: Mapping[str, Tensor], named: Mapping[str, Tensor], cell: Mapping[str, Any]
) -> dict[str, tuple[str, ...]]:
    """:func:`_graph`, once per definition, variant cell and shapes (the runs of a batch share it)."""
    shapes = tuple((n, tuple(t.shape)) for n, t in [*leaves.items(), *named.items()])
    key = (id(definition), repr(sorted(cell.items())), shapes)
    kept = _graphs.get(key)
    if kept is not None and kept[0] is definition:
        return kept[1]
    graph = _graph(leaves, named)
    if len(_graphs) > 256:
        _graphs.clear()
    _graphs[key] = (definition, graph)  # holding it keeps its id from being reused
    return graph


class _Outputs(TorchFunctionMode):
    """Keeps what every torch call of a run returns; ``given``: call index -> what it returns instead."""

    def __init__(self, given: Mapping[int, Tensor] | None = None) -> None:
        super().__init__()
        self.outputs: list[Any] = []
        self.given = dict(given or {})

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        out = self.given.get(len(self.outputs), out)
        self.outputs.append(out)
        return out


def _given_at(
    definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, Any], given: Mapping[str, Tensor]
) -> dict[int, Tensor] | None:
    """``given`` by the index of the torch call of the reference that makes each name, in float64 and
    that value's shape; ``None`` where a name is not a value one call makes, or not of its size."""
    record = _Outputs()
    with record:
        result = call_reference(definition, leaves_of(definition, inputs), cell)
    at: dict[int, Tensor] = {}
    for name, value in given.items():
        made = result.get(name)
        k = next((i for i, o in enumerate(record.outputs) if o is made), None)
        if k is None or not isinstance(made, Tensor) or value.numel() != made.numel():
            return None
        at[k] = value.detach().to(torch.float64).reshape(made.shape)
    return at


def recomputed(
    definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, Any], given: Mapping[str, Tensor]
) -> dict[str, Tensor]:
    """The reference's named values when the named intermediates in ``given`` take those values (the
    submission's own ``Y_cap``, say: what its loss should be for its own prediction).  Empty where a
    name in ``given`` is not a value one torch call of the reference makes."""
    at = _given_at(definition, inputs, cell, given)
    if at is None:
        return {}
    replay = _Outputs(at)
    with replay:
        result = call_reference(definition, leaves_of(definition, inputs), cell)
    return {n: t.detach().to(torch.float64) for n, t in result.items() if isinstance(t, Tensor)}


def by_output(kind: str, y: Tensor) -> Tensor:
    """An activation's derivative written in terms of its output ``y`` (as students write it):
    ``y(1 − y)`` for sigmoid, ``1 − y²`` for tanh, ``y > 0`` for relu, ``y`` for exp."""
    if kind == "sigmoid":
        return y * (1 - y)
    if kind == "tanh":
        return 1 - y**2
    if kind == "relu":
        return (y > 0).to(y.dtype)
    return y


# the activations whose derivative is written by their output, by the node autograd records for them
_BY_OUTPUT = {"SigmoidBackward0": "sigmoid", "TanhBackward0": "tanh", "ReluBackward0": "relu", "ExpBackward0": "exp"}


class _AtOwn(torch.autograd.Function):
    """An activation's output replaced by a given value ``y``, its backward the derivative by the
    output at ``y``: the right local step at the submission's own value."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, y: Tensor, kind: str) -> Tensor:
        ctx.kind = kind
        ctx.save_for_backward(y)
        return y.clone()

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor, None, None]:
        (y,) = ctx.saved_tensors
        return grads[0] * by_output(ctx.kind, y), None, None


class _OwnOutputs(_Outputs):
    """:class:`_Outputs` whose given outputs keep a backward: an activation's the derivative by its
    output at the given value; any other call's its own, at its inputs (straight through)."""

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        value = self.given.get(len(self.outputs))
        if value is not None and isinstance(out, Tensor):
            kind = _BY_OUTPUT.get(type(out.grad_fn).__name__)
            x = args[0] if args else None
            if kind is not None and isinstance(x, Tensor) and x.shape == out.shape:
                out = _AtOwn.apply(x, value, kind)  # type: ignore[no-untyped-call]  # torch leaves apply untyped
            else:
                out = value + (out - out.detach())
        self.outputs.append(out)
        return out


def truth_at_own(
    definition: Definition, inputs: Mapping[str, Tensor], cell: Mapping[str, Any], given: Mapping[str, Tensor]
) -> Truth | None:
    """The reference's truth (autograd, float64) when the named intermediates in ``given`` take those
    values (the submission's own wrong forward values), each with the right backward step at them:
    an activation's derivative written by its output (``y(1 − y)``) taken at the given output, any
    other step's own backward at its inputs, which are the given upstream values.  What the right
    backward formulas give when fed with the submission's own forward values.  ``None`` where a name
    is not a value one torch call of the reference makes, or the reference then fails."""
    at = _given_at(definition, inputs, cell, given)
    if at is None:
        return None
    try:
        with torch.enable_grad():
            with _OwnOutputs(at):  # the leaves made under it too: the calls are counted as _given_at counts them
                leaves = leaves_of(definition, inputs)
                result = call_reference(definition, leaves, cell)
            return _truth_from(definition, leaves, result, cell)
    except (SpecError, RuntimeError, ValueError):
        return None


def learning_rate(definition: Definition, leaves: Mapping[str, Tensor]) -> float | None:
    """The step size of ``new.<parameter>``: the run's ``rate`` input, else ``[assignment] lr``."""
    rate = next((i.name for i in definition.inputs if i.kind == "rate"), None)
    if rate is not None:
        return float(leaves[rate])
    return definition.lr


def _graph(leaves: Mapping[str, Tensor], named: Mapping[str, Tensor]) -> dict[str, tuple[str, ...]]:
    """For each named value, the named values (or parameters) its autograd graph reaches first."""
    by_node: dict[Any, str] = {}
    for n, t in named.items():
        if t.grad_fn is not None and t.grad_fn not in by_node:
            by_node[t.grad_fn] = n
    by_leaf = {id(t): n for n, t in leaves.items() if t.requires_grad}
    graph: dict[str, tuple[str, ...]] = {}
    for n, t in named.items():
        if t.grad_fn is None:
            continue
        found: dict[str, None] = {}
        stack = [f for f, _ in t.grad_fn.next_functions if f is not None]
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            variable = getattr(node, "variable", None)
            if variable is not None and id(variable) in by_leaf:
                found[by_leaf[id(variable)]] = None
                continue
            if node in by_node and by_node[node] != n:
                found[by_node[node]] = None
                continue
            stack.extend(f for f, _ in node.next_functions if f is not None)
        graph[n] = tuple(found)
    return graph


def _confirm(
    definition: Definition, leaves: Mapping[str, Tensor], cell: Mapping[str, Any], values: Mapping[str, Tensor]
) -> bool:
    """Autograd's parameter gradients agree with central finite differences (the grader checks itself)."""
    params = list(definition.parameters)
    if not params:
        return True

    def loss(*ps: Tensor) -> Tensor:
        args = dict(leaves)
        args.update({n: p for n, p in zip(params, ps)})
        out: Tensor = call_reference(definition, args, cell)[definition.loss]
        return out

    result = check_gradients(
        loss,
        tuple(leaves[n].detach().clone().requires_grad_(True) for n in params),
        lambda *ps: tuple(values[GRAD + n] for n in params),
        mode="directions",
    )
    return bool(result.ok)


# ---------------------------------------------------------------- the assignment checks itself


def validate(assignment: Assignment) -> None:
    """Run the reference on the grader's inputs for every variant cell (at every size) and check that
    everything the spec names exists: a :class:`SpecError` line otherwise."""
    definition = assignment.definition
    if definition is None:
        return
    source = definition.source
    handles = {s.keep_as for s in definition.steps}
    for run in range(max(len(v) for v in definition.sizes.values()) if definition.sizes else 1):
        for cell in definition.cells():
            truth = truth_of(definition, draw_inputs(definition, run, 0), cell, confirm=run == 0)
            if not truth.confirmed:
                raise SpecError(
                    f"{source}: autograd's gradients of the reference disagree with finite differences "
                    f"(cell {cell}): is the reference differentiable (no in-place ops on inputs, no .detach())?"
                )
            for quantity in definition.read:
                if quantity not in truth.values:
                    raise SpecError(
                        f"{source}:{_line_of(source, quantity)}: read.{quantity}: {_unknown(quantity, truth)}"
                    )
            for check in definition.checks:
                for quantity in check.values:
                    if quantity not in truth.values:
                        raise SpecError(
                            f"{source}:{_line_of(source, quantity)}: checks.{check.name}: {_unknown(quantity, truth)}"
                        )
            for step in definition.steps:
                for arg in [*step.args, *step.kwargs.values()]:
                    for item in arg if isinstance(arg, list) else [arg]:
                        if isinstance(item, str) and item.startswith("$") and not item.startswith("$$"):
                            name = item[1:]
                            if (
                                name not in truth.values
                                and name not in definition.sizes
                                and name not in cell
                                and name not in handles
                            ):
                                raise SpecError(f"{source}:{step.line}: steps: {item!r}: {_unknown(name, truth)}")


def _unknown(quantity: str, truth: Truth) -> str:
    named = ", ".join(n for n in truth.order)
    return f"the reference computes no {quantity!r} (it computes {named}; and grad.<name>, new.<parameter>)"


def _line_of(source: str, word: str) -> int:
    try:
        lines = Path(source).read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    return next((k for k, line in enumerate(lines, 1) if f'"{word}"' in line or f"'{word}'" in line), 0)
