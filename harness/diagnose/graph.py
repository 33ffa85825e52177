"""The reference's backward pass replayed step by step, and the plausible wrong versions of each step.

A course's reference is a forward function; autograd records it as a graph of nodes (``MmBackward0``,
``ReluBackward0``, ...).  :class:`Trace` runs the reference on one run's inputs, orders those nodes
(the loss first) and replays the backward pass itself, node by node, keeping every contribution that
flows along every edge.  A *mutant* replaces the contributions of one node by what a student's wrong
derivation of that step gives: rules per operation, not per network.

- any differentiable step: its local derivative dropped (``missing-local-derivative``); one branch's
  contribution off by a sign or a factor 2 or ½ (``scale-*``); a branch of a value used twice left
  out (``missing-branch``);
- an activation (relu, sigmoid, tanh, exp, log): its derivative at the wrong tensor (the formula
  applied to the output, or at the pre-activation: ``derivative-at-wrong-tensor``), the derivative of
  another activation (``other-activation-derivative``), applied twice (``double-count``);
- a product (``@``, ``*``): another operand of the same or a broadcastable shape, transposes included
  (``wrong-operand``), a missing transpose (``missing-transpose``), elementwise where a matrix product
  belongs (``elementwise-vs-matmul``);
- a power: the exponent or its factor off (``wrong-constant``); log-softmax: the one-hot left out
  (``softmax-no-onehot``); an embedding lookup: repeated rows overwritten, not added
  (``missing-branch``); a transpose replaced by a reshape or left out (``missing-transpose``).

Backward is linear in the gradient that flows in, so a mutant's effect on a gradient is its change at
the mutated edge carried down the *right* backward pass: only the nodes between the edge and the
gradient asked for are replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from harness.computation import by_output

Edge = tuple[int, int]  # (node index, output number)


@dataclass
class Node:
    fn: Any  # the autograd node
    op: str  # "Mm", "Relu", ... ("AccumulateGrad" for a parameter)
    edges: list[Edge | None]  # per input of the step (next_functions): where its gradient goes
    shapes: list[tuple[int, ...]]  # the shape of the gradient of each output
    name: str | None = None  # the named value (or parameter) the output is
    parents: list[int] = field(default_factory=list)  # nodes whose contributions flow in


@dataclass(frozen=True)
class Mutant:
    """One wrong version of one step: what flows along each of its edges instead of the right value."""

    kind: str  # the diagnosis id
    node: int
    detail: str  # which version (stable across runs: names, not values)
    replaced: Mapping[int, Tensor]  # edge -> the contribution instead
    words: str  # what the student did, in the assignment's names (without the answer's formula)


def _op(fn: Any) -> str:
    name = type(fn).__name__
    for suffix in ("Backward0", "Backward1", "Backward2"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class Trace:
    """The reference on one run's inputs: its nodes (loss first), the right gradient at every node and
    the right contribution along every edge."""

    def __init__(self, loss: Tensor, named: Mapping[str, Tensor], leaves: Mapping[str, Tensor]) -> None:
        self.values = {n: t.detach() for n, t in named.items()}
        self.values.update({n: t.detach() for n, t in leaves.items()})
        self.nodes: list[Node] = []
        self.index: dict[Any, int] = {}
        self._build(loss)
        for n, t in named.items():
            if t.grad_fn is not None and t.grad_fn in self.index:
                node = self.nodes[self.index[t.grad_fn]]
                node.name = node.name or n
        by_leaf = {id(t): n for n, t in leaves.items() if t.requires_grad}
        for node in self.nodes:
            variable = getattr(node.fn, "variable", None)
            if variable is not None and id(variable) in by_leaf:
                node.name = by_leaf[id(variable)]
        self.of_name = {node.name: k for k, node in enumerate(self.nodes) if node.name is not None}
        self.grads: dict[Edge, Tensor] = {}
        self.flows: dict[tuple[int, int], Tensor] = {}  # (node, edge) -> the right contribution
        self._adjoints: dict[int, tuple[Tensor, dict[Edge, Tensor]] | None] = {}
        self._kept_rules: dict[tuple[int, Hashable], tuple[list[Mutant], Iterator[Mutant]]] = {}
        self.pools: dict[Hashable, dict[str, Tensor]] = {}  # the operand pools made for it, by name
        with torch.no_grad():  # the saved tensors require grad: the replay would record a graph of itself
            self._backward()

    def _build(self, loss: Tensor) -> None:
        order: list[Any] = []
        seen: set[Any] = set()
        stack: list[tuple[Any, bool]] = [(loss.grad_fn, False)]
        while stack:  # depth-first post-order, reversed: every node before the ones it sends gradients to
            fn, done = stack.pop()
            if done:
                order.append(fn)
                continue
            if fn in seen:
                continue
            seen.add(fn)
            stack.append((fn, True))
            stack.extend((f, False) for f, _ in fn.next_functions if f is not None and f not in seen)
        order.reverse()
        self.index = {fn: k for k, fn in enumerate(order)}
        for fn in order:
            shapes = [tuple(m.shape) for m in getattr(fn, "_input_metadata", ())]
            edges: list[Edge | None] = [
                (self.index[f], nr) if f is not None and f in self.index else None for f, nr in fn.next_functions
            ]
            self.nodes.append(Node(fn, _op(fn), edges, shapes))
        for k, node in enumerate(self.nodes):
            for edge in node.edges:
                if edge is not None and k not in self.nodes[edge[0]].parents:
                    self.nodes[edge[0]].parents.append(k)

    def _call(self, k: int, grads: Mapping[int, Tensor]) -> list[Tensor | None]:
        node = self.nodes[k]
        args = [grads.get(nr, torch.zeros(shape, dtype=torch.float64)) for nr, shape in enumerate(node.shapes)]
        out = node.fn(*args)
        return list(out) if isinstance(out, tuple) else [out]

    def _taken(self, pending: dict[Edge, Tensor], k: int) -> dict[int, Tensor]:
        """What ``pending`` holds for the outputs of node ``k``, taken out of it."""
        return {nr: pending.pop((k, nr)) for nr in range(len(self.nodes[k].shapes)) if (k, nr) in pending}

    def _pass_on(self, k: int, outs: list[Tensor | None], pending: dict[Edge, Tensor], target: int) -> bool:
        """Add what step ``k`` sends back along each edge (``outs``) to ``pending``, for the nodes up to
        ``target``; ``False`` if one of them does not fit its input's shape."""
        node = self.nodes[k]
        for e, out in enumerate(outs):
            edge = node.edges[e] if e < len(node.edges) else None
            if edge is None or out is None or edge[0] > target:
                continue
            fitted = _fit(out, self.nodes[edge[0]].shapes[edge[1]])
            if fitted is None:
                return False
            pending[edge] = pending[edge] + fitted if edge in pending else fitted
        return True

    def _backward(self) -> None:
        pending: dict[Edge, Tensor] = {(0, 0): torch.ones(self.nodes[0].shapes[0], dtype=torch.float64)}
        for k, node in enumerate(self.nodes):
            grads = self._taken(pending, k)
            for nr, g in grads.items():
                self.grads[(k, nr)] = g
            if node.op == "AccumulateGrad" or not grads:
                continue
            for e, flow in enumerate(self._call(k, grads)):
                edge = node.edges[e] if e < len(node.edges) else None
                if edge is None or flow is None:
                    continue
                flow = _fit(flow, self.nodes[edge[0]].shapes[edge[1]])
                if flow is None:
                    continue
                self.flows[(k, e)] = flow
                pending[edge] = pending[edge] + flow if edge in pending else flow

    # ------------------------------------------------------------ reading

    def grad(self, name: str) -> Tensor | None:
        """The gradient of the loss with respect to the named value or parameter ``name``."""
        k = self.of_name.get(name)
        return None if k is None else self.grads.get((k, 0))

    def input_value(self, k: int, e: int = 0) -> Tensor | None:
        """The forward value that input ``e`` of node ``k`` is, where it is a named value or parameter."""
        edge = self.nodes[k].edges[e] if e < len(self.nodes[k].edges) else None
        if edge is None:
            return None
        name = self.nodes[edge[0]].name
        return self.values.get(name) if name is not None else None

    def above(self, k: int) -> str:
        """The nearest named value at or above node ``k`` (its gradient is what flows into the step)."""
        while self.nodes[k].name is None and self.nodes[k].parents:
            k = self.nodes[k].parents[0]
        return self.nodes[k].name or "the loss"

    def below(self, k: int, e: int) -> str:
        """The nearest named value at or below input ``e`` of node ``k``."""
        edge = self.nodes[k].edges[e] if e < len(self.nodes[k].edges) else None
        while edge is not None:
            node = self.nodes[edge[0]]
            if node.name is not None:
                return node.name
            edge = next((x for x in node.edges if x is not None), None)
        return "a constant"

    def picks(self) -> dict[str, int]:
        """The whole-number scalars among the inputs and values (a label: the outside word, a class)."""
        return {n: int(v) for n, v in self.values.items() if v.dim() == 0 and not v.dtype.is_floating_point}

    def reaches(self, target: int) -> set[int]:
        """The nodes whose contributions can reach node ``target``."""
        found = {target}
        for k in range(target, -1, -1):
            if k in found:
                found.update(self.nodes[k].parents)
        return found

    def between(self, tops: list[int], target: int) -> set[int]:
        """The nodes on a path from one of ``tops`` down to ``target`` (``target`` excluded)."""
        down: set[int] = set(tops)
        for k in range(min(tops), target):
            if k in down:
                down.update(e[0] for e in self.nodes[k].edges if e is not None)
        return (down & self.reaches(target)) - {target}

    # ------------------------------------------------------------ mutants

    def adjoints(self, target: int) -> tuple[Tensor, dict[Edge, Tensor]] | None:
        """A fixed random direction ``r`` of the gradient at node ``target``, and for every gradient slot
        (node, output) above it the vector ``u`` with ``u · d = r · (the change at target)`` for a change
        ``d`` added there: backward is linear, and ``u`` is its transpose applied to ``r``, one
        differentiation of the replay for every slot at once.  ``None`` if a step cannot be
        differentiated again."""
        if target not in self._adjoints:
            try:
                self._adjoints[target] = self._transposed(target)
            except RuntimeError:
                self._adjoints[target] = None
        return self._adjoints[target]

    def _transposed(self, target: int) -> tuple[Tensor, dict[Edge, Tensor]] | None:
        slots: dict[Edge, Tensor] = {}
        pending: dict[Edge, Tensor] = {(0, 0): torch.ones(self.nodes[0].shapes[0], dtype=torch.float64)}
        at: Tensor | None = None
        with torch.enable_grad():
            for k in range(target + 1):
                grads = self._taken(pending, k)
                for nr, shape in enumerate(self.nodes[k].shapes):  # every slot a change may be added at
                    z = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
                    slots[(k, nr)] = z
                    grads[nr] = grads[nr] + z if nr in grads else z
                if k == target:
                    at = grads.get(0)
                    break
                if grads and self.nodes[k].op != "AccumulateGrad":
                    self._pass_on(k, self._call(k, grads), pending, target)
            if at is None or not at.requires_grad:
                return None
            r = torch.randn(at.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(12))
            keys = list(slots)
            found = torch.autograd.grad((at * r).sum(), [slots[e] for e in keys], allow_unused=True)
        return r, {e: u.detach() for e, u in zip(keys, found) if u is not None}

    def projected(self, mutant: Mutant, target: int) -> float | None:
        """``r · (the change mutant makes at target)`` with the ``r`` of :meth:`adjoints`, without
        replaying it; ``None`` where it cannot tell (the mutant does not fit, no adjoints)."""
        found = self.adjoints(target)
        if found is None:
            return None
        with torch.no_grad():
            return self._projected(mutant, found[1])

    def _changed(self, mutant: Mutant) -> list[tuple[int, Edge, Tensor]] | None:
        """Each edge ``mutant`` changes: its output index, the edge, the new flow in the shape the edge
        takes; ``None`` if one does not fit."""
        node = self.nodes[mutant.node]
        found = []
        for e, flow in mutant.replaced.items():
            edge = node.edges[e]
            if edge is None:
                continue
            fitted = _fit(flow, self.nodes[edge[0]].shapes[edge[1]])
            if fitted is None:
                return None
            found.append((e, edge, fitted))
        return found

    def _projected(self, mutant: Mutant, us: Mapping[Edge, Tensor]) -> float | None:
        total = 0.0
        changed = self._changed(mutant)
        if changed is None:
            return None
        for e, edge, fitted in changed:
            u = us.get(edge)
            if u is not None:
                right = self.flows.get((mutant.node, e))
                total += float((u * fitted).sum()) - (float((u * right).sum()) if right is not None else 0.0)
        return total

    def projections(self, mutants: Sequence[Mutant], target: int) -> list[float | None]:
        """:meth:`projected` for each of ``mutants``, a few operations for all: the changes along one
        edge are stacked and projected together."""
        found = self.adjoints(target)
        if found is None:
            return [None] * len(mutants)
        us = found[1]
        out: list[float | None] = [0.0] * len(mutants)
        along: dict[tuple[int, int], list[tuple[int, Tensor]]] = {}
        for i, mutant in enumerate(mutants):
            changed = self._changed(mutant)
            if changed is None:
                out[i] = None
                continue
            for e, edge, fitted in changed:
                if edge in us:
                    along.setdefault((mutant.node, e), []).append((i, fitted))
        with torch.no_grad():
            for (k, e), changes in along.items():
                into = self.nodes[k].edges[e]
                assert into is not None
                u = us[into].reshape(-1)
                right = self.flows.get((k, e))
                base = float(torch.dot(u, right.reshape(-1).to(u.dtype))) if right is not None else 0.0
                stacked = torch.stack([f.reshape(-1).to(u.dtype) for _, f in changes])
                for (i, _), value in zip(changes, (stacked @ u).tolist()):
                    done = out[i]
                    if done is not None:
                        out[i] = done + value - base
        return out

    def effect(self, mutant: Mutant, target: int) -> Tensor | None:
        """The gradient at node ``target`` (output 0) under ``mutant``; ``None`` if it does not fit."""
        right = self.grads.get((target, 0))
        if right is None:
            return None
        delta: dict[Edge, Tensor] = {}
        changed = self._changed(mutant)
        if changed is None:
            return None
        for e, edge, fitted in changed:
            change = fitted - self.flows.get((mutant.node, e), torch.zeros_like(fitted))
            delta[edge] = delta[edge] + change if edge in delta else change
        for k in range(mutant.node + 1, target):
            grads = self._taken(delta, k)
            if not grads or self.nodes[k].op == "AccumulateGrad":
                continue
            if not self._pass_on(k, self._call(k, grads), delta, target):
                return None
        total = delta.get((target, 0))
        return right if total is None else right + total

    def replay(
        self, edit: Callable[[int, Tensor], Mapping[int, Tensor] | None], target: int, start: int = 0
    ) -> Tensor | None:
        """The gradient at node ``target`` when ``edit(k, g)`` replaces what step ``k`` sends back (given
        the gradient ``g`` that now flows into it): several steps wrong at once, each seeing the
        others' mistakes.  ``edit`` changes no step before ``start``: what those send is the right
        backward's, taken as it is."""
        pending: dict[Edge, Tensor] = {}
        if start <= 0:
            pending[(0, 0)] = torch.ones(self.nodes[0].shapes[0], dtype=torch.float64)
        for (k, e), flow in self.flows.items() if start > 0 else ():
            edge = self.nodes[k].edges[e]
            if k < start and edge is not None and start <= edge[0] <= target:
                pending[edge] = pending[edge] + flow if edge in pending else flow
        for k in range(max(start, 0), target + 1):
            grads = self._taken(pending, k)
            if k == target:
                return grads.get(0)
            if not grads or self.nodes[k].op == "AccumulateGrad":
                continue
            outs = self._call(k, grads)
            replaced = edit(k, grads[0]) if 0 in grads else None
            for e, flow in (replaced or {}).items():
                if e < len(outs):
                    outs[e] = flow
            if not self._pass_on(k, outs, pending, target):
                return None
        return None

    def mutants(self, nodes: set[int], pool: Mapping[str, Tensor], key: Hashable = None) -> Iterator[Mutant]:
        """Every mutant of the steps ``nodes``; ``pool``: the values a wrong operand may be (``key``, if
        given, names it: the mutants are then kept for the next search on this trace)."""
        for k in sorted(nodes):
            node = self.nodes[k]
            if node.op == "AccumulateGrad" or (k, 0) not in self.grads:
                continue
            yield from self._rules_of(k, pool) if key is None else self.rules_at(k, pool, key)

    def rules_at(self, k: int, pool: Mapping[str, Tensor], key: Hashable) -> Iterator[Mutant]:
        """The mutants of step ``k`` with the operands ``pool`` (named ``key``), each made once: every
        check of a submission searches the traces of the same runs, and the other runs look their
        candidate up among them (made only as far as it is)."""
        kept = self._kept_rules.get((k, key))
        if kept is None:
            kept = self._kept_rules[(k, key)] = ([], self._rules_of(k, pool))
        made, rest = kept
        yield from made
        for mutant in rest:
            made.append(mutant)
            yield mutant

    def _rules_of(self, k: int, pool: Mapping[str, Tensor]) -> Iterator[Mutant]:
        try:
            yield from _rules(self, k, pool)
        except (RuntimeError, AttributeError, IndexError, TypeError, ValueError):
            return  # a step whose saved tensors this rule cannot read: no (more) mutants of it


def _fit(flow: Tensor, shape: tuple[int, ...]) -> Tensor | None:
    """``flow`` summed down to ``shape`` (as autograd does for a broadcast input), or ``None``."""
    if tuple(flow.shape) == shape:
        return flow
    if broadcast(tuple(flow.shape), shape) != tuple(flow.shape):
        return None
    try:
        return flow.sum_to_size(shape)
    except RuntimeError:
        return None


def broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape ``a`` and ``b`` broadcast to, or ``None``.  (``torch.broadcast_shapes`` imports sympy
    through torch.fx on its first call: a second and more, once per process.)"""
    out = []
    for x, y in zip(((1,) * (len(b) - len(a)) + a), ((1,) * (len(a) - len(b)) + b)):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(out)


# ---------------------------------------------------------------- the rules, per operation

_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Exp": "exp", "Log": "log"}
ACTIVATION_OPS = frozenset(_ACTIVATIONS)


_INVERSES = {"sigmoid": torch.logit, "tanh": torch.atanh, "exp": torch.log}


def _derivative(kind: str, x: Tensor) -> Tensor:
    """The derivative of activation ``kind`` at ``x``."""
    if kind == "relu":
        return (x > 0).to(x.dtype)
    if kind == "sigmoid":
        s = torch.sigmoid(x)
        return s * (1 - s)
    if kind == "tanh":
        return 1 - torch.tanh(x) ** 2
    if kind == "exp":
        return torch.exp(x)
    return 1 / x


def _rules(trace: Trace, k: int, pool: Mapping[str, Tensor], g: Tensor | None = None) -> Iterator[Mutant]:
    """The mutants of step ``k``, given the gradient ``g`` that flows into it (the right one by default)."""
    node = trace.nodes[k]
    g = trace.grads[(k, 0)] if g is None else g
    live = [e for e in range(len(node.edges)) if (k, e) in trace.flows]
    top = trace.above(k)

    def step(e: int) -> str:
        return f"the step from {top} back to {trace.below(k, e)}"

    for e in live:  # any step: one branch's contribution off by a constant, or left out
        flow = trace.flows[(k, e)]
        child = node.edges[e]
        shared = child is not None and len(trace.nodes[child[0]].parents) > 1
        for factor, words in (
            (-1.0, "has the opposite sign"),
            (2.0, "is twice the right one"),
            (0.5, "is half the right one"),
        ):
            if factor == 2.0 and shared:  # a value used more than once: this use's contribution added twice
                yield Mutant(
                    "double-count",
                    k,
                    f"edge{e}",
                    {e: factor * flow},
                    f"the contribution of {step(e)} is added twice: {trace.below(k, e)} is used more than once, "
                    "and each use adds its own part once",
                )
                continue
            yield Mutant(
                f"scale-{factor:g}",
                k,
                f"edge{e}",
                {e: factor * flow},
                f"the contribution of {step(e)} {words}",
            )
        if shared:
            below = trace.below(k, e)
            yield Mutant(
                "missing-branch",
                k,
                f"edge{e}",
                {e: torch.zeros_like(flow)},
                f"the gradient that flows back to {below} through {top} is left out: {below} is used more "
                "than once in the forward pass, and each use adds to its gradient",
            )
    op = node.op
    if op in _ACTIVATIONS:
        yield from _activation(trace, k, g, _ACTIVATIONS[op], step(0))
    elif op == "Mul":
        yield from _mul(trace, k, g, pool, step)
    elif op == "Mm":
        yield from _mm(trace, k, g, pool, step)
    elif op == "Mv":
        yield from _mv(trace, k, g, pool, step)
    elif op == "Pow":
        x, p = node.fn._saved_self, float(node.fn._saved_exponent)
        yield Mutant(
            "missing-local-derivative", k, "drop", {0: g}, f"the derivative of the power in {step(0)} is left out"
        )
        for detail, local in (("x^p", p * x**p), ("no-p", x ** (p - 1)), ("p-2", p * x ** (p - 2))):
            yield Mutant(
                "wrong-constant", k, detail, {0: g * local}, f"the power's exponent or factor is off in {step(0)}"
            )
        below = trace.below(k, 0)
        named = trace.values.get(below)
        if named is not None and named.shape == x.shape and not torch.equal(named, x):
            yield Mutant(
                "derivative-at-wrong-tensor",
                k,
                "at-named",
                {0: g * p * named.to(x.dtype) ** (p - 1)},
                f"the derivative of the power in {step(0)} is evaluated at {below}, not at what is raised to the power",
            )
    elif op == "Div":
        b = node.fn._saved_other
        if 0 in live:
            yield Mutant("missing-local-derivative", k, "drop0", {0: g}, f"the division is left out of {step(0)}")
            if isinstance(b, Tensor) and b.numel() == 1 and 1 not in live:
                yield from _count_off(k, g, float(b), True, step(0))
        if 1 in live:
            a = node.fn._saved_self
            yield Mutant(
                "wrong-constant", k, "no-square", {1: -g * a / b}, f"the derivative of 1/x is off in {step(1)}"
            )
    elif op == "LogSoftmax":
        r, dim = node.fn._saved_result, int(node.fn._saved_dim)
        prob = torch.exp(r)
        yield Mutant(
            "softmax-no-onehot",
            k,
            "no-onehot",
            {0: -prob * g.sum(dim, keepdim=True)},
            f"the softmax gradient in {step(0)} does not take the labels' one-hot away",
        )
        yield Mutant(  # log_softmax(s) = s - logsumexp(s): its derivative without the normaliser's term
            "missing-branch",
            k,
            "drop",
            {0: g},
            f"in {step(0)} the gradient through the normaliser (the log of the sum of exponentials) is left out: "
            "only the label's own score is differentiated",
        )
        yield Mutant(
            "scale--1",
            k,
            "onehot-sign",
            {0: -g - prob * g.sum(dim, keepdim=True)},
            f"in {step(0)} the labels' one-hot enters with the wrong sign",
        )
        right = g - prob * g.sum(dim, keepdim=True)
        yield Mutant(
            "double-count",
            k,
            "softmax-again",
            {0: right * prob * (1 - prob)},
            f"in {step(0)} the softmax's own derivative is applied again on top of the cross-entropy's",
        )
        classes = g.shape[dim] if g.dim() > 0 else 1
        if classes > 1:
            yield Mutant(
                "double-count",
                k,
                "onehot-per-class",
                {0: classes * g - prob * g.sum(dim, keepdim=True)},
                f"in {step(0)} the labels' one-hot is taken away once per class (inside the loop over them), not once",
            )
        for label, value in _others(pool, prob):
            if value.shape == prob.shape:
                yield Mutant(
                    "wrong-operand",
                    k,
                    f"softmax={label}",
                    {0: g - value * g.sum(dim, keepdim=True)},
                    f"the softmax gradient in {step(0)} uses {label} in place of the softmax's probabilities",
                )
        support = g != 0
        if g.dim() == 2 and dim in (1, -1) and bool((support.sum(1) == 1).all()):  # g is a scaled one-hot
            columns = support.any(0, keepdim=True).expand_as(g).to(g.dtype) * g.sum(1, keepdim=True)
            yield Mutant(
                "wrong-operand",
                k,
                "onehot-columns",
                {0: columns - prob * g.sum(dim, keepdim=True)},
                f"in {step(0)} the labels' one-hot is built on the wrong index (whole columns, not one entry per row)",
            )
            labels = support.to(torch.int64).argmax(1)
            picked = torch.unique(labels[labels < g.shape[0]])
            if picked.numel() and bool((g[support] == g[support][0]).all()):  # dscores[y] -= 1: rows y_i
                rows = torch.zeros_like(g)
                rows[picked] = 1.0
                yield Mutant(
                    "softmax-no-onehot",
                    k,
                    "onehot-rows",
                    {0: rows * g.sum(dim, keepdim=True) - prob * g.sum(dim, keepdim=True)},
                    f"in {step(0)} the labels pick whole rows (the rows numbered by the labels), not the entry of "
                    "each row's label, so the labels' entries never have their one-hot taken away",
                )
        if g.dim() == 1 and int(support.sum()) == 1:  # one label: its one-hot moved to another index
            at = int(support.nonzero()[0, 0])
            wrong = {"next": (at + 1) % g.numel(), "previous": (at - 1) % g.numel(), "argmax": int(prob.argmax())}
            for detail, j in wrong.items():
                if j == at:
                    continue
                moved = torch.zeros_like(g)
                moved[j] = g[at]
                yield Mutant(
                    "softmax-no-onehot",
                    k,
                    f"onehot-{detail}",
                    {0: moved - prob * g.sum()},
                    f"in {step(0)} the one-hot of the label is at the wrong index "
                    f"({'the most likely word' if detail == 'argmax' else 'one off'}), so the label's is never taken away",
                )
    elif op == "NllLoss":
        target = node.fn._saved_target
        logp = node.fn._saved_self
        if logp.dim() == 2 and int(node.fn._saved_reduction) in (1, 2):
            count = logp.shape[0] if int(node.fn._saved_reduction) == 1 else 1
            columns = torch.zeros_like(logp)
            columns[:, target] = 1.0
            yield Mutant(
                "wrong-operand",
                k,
                "onehot-columns",
                {0: -columns * g / count},
                f"in {step(0)} the labels' one-hot is built on the wrong index (whole columns, not one entry per row)",
            )
    elif op == "Softmax":
        p, dim = node.fn._saved_result, int(node.fn._saved_dim)
        yield Mutant(
            "missing-local-derivative", k, "drop", {0: g}, f"the softmax's derivative is left out of {step(0)}"
        )
        yield Mutant(
            "softmax-no-onehot", k, "no-sum", {0: p * g}, f"the softmax gradient in {step(0)} misses its sum term"
        )
    elif op == "Mean":
        child = node.edges[0]
        if child is not None:
            shape = trace.nodes[child[0]].shapes[child[1]]
            yield Mutant("scale-batch", k, "sum", {0: g.expand(shape)}, f"{step(0)} is a mean: it divides by the count")
    elif op == "Index":
        indices = node.fn._saved_indices
        sizes = tuple(int(s) for s in node.fn._saved_self_sym_sizes)
        overwritten = torch.zeros(sizes, dtype=g.dtype).index_put(tuple(indices), g, accumulate=False)
        yield Mutant(
            "missing-branch",
            k,
            "overwrite",
            {0: overwritten},
            f"in {step(0)} a row picked more than once gets its gradients added, not overwritten",
        )
        if len(indices) == 2 and g.dim() == 1 and len(sizes) == 2:  # picked by (row, column) pairs
            cols = indices[1]
            whole = torch.zeros(sizes, dtype=g.dtype)
            whole[:, cols] = g.reshape(-1)[0]
            if bool((g == g.reshape(-1)[0]).all()):  # one value for every pick (a mean's 1/n)
                yield Mutant(
                    "wrong-operand",
                    k,
                    "whole-columns",
                    {0: whole},
                    f"in {step(0)} every row of the picked columns gets the gradient, not one entry per row",
                )
    elif op in ("T", "Permute", "Transpose"):
        want = trace.nodes[node.edges[0][0]].shapes[node.edges[0][1]] if node.edges[0] else None
        if want is not None and g.numel() == torch.Size(want).numel():
            yield Mutant(
                "missing-transpose", k, "reshape", {0: g.reshape(want)}, f"{step(0)} reshapes where it transposes"
            )
        if want is not None and tuple(g.shape) == want:
            yield Mutant("missing-transpose", k, "none", {0: g}, f"the transpose in {step(0)} is left out")


def _activation(trace: Trace, k: int, g: Tensor, kind: str, where: str) -> Iterator[Mutant]:
    node = trace.nodes[k]
    fn = node.fn
    out = fn._saved_result if kind in ("relu", "sigmoid", "tanh", "exp") else None
    z = trace.input_value(k)
    if z is None and kind == "log":
        z = fn._saved_self
    if z is None and out is not None and kind in _INVERSES:
        z = _INVERSES[kind](out)
    right = _derivative(kind, z) if z is not None else None
    yield Mutant("missing-local-derivative", k, "drop", {0: g}, f"the derivative of {kind} is left out of {where}")
    if kind == "relu":
        yield Mutant(
            "derivative-at-wrong-tensor",
            k,
            "mask-from-gradient",
            {0: g * (g > 0).to(g.dtype)},
            f"the mask of relu in {where} is taken from the gradient that flows in, not from relu's input",
        )
    if kind == "log" and z is not None:
        yield Mutant(
            "derivative-at-wrong-tensor",
            k,
            "log-by-input",
            {0: g * z},
            f"{where} multiplies by the log's input, where its derivative divides by it",
        )
    if kind == "tanh" and out is not None:
        yield Mutant(
            "wrong-constant",
            k,
            "no-square",
            {0: g * (1 - out)},
            f"the derivative of tanh in {where} leaves out the square of its output",
        )
    if right is not None:
        yield Mutant(
            "double-count", k, "twice", {0: g * right * right}, f"the derivative of {kind} is applied twice in {where}"
        )
    if out is not None:  # the formula for the derivative, applied to the output instead of the input
        yield Mutant(
            "derivative-at-wrong-tensor",
            k,
            "at-output",
            {0: g * _derivative(kind, out)},
            f"the derivative of {kind} in {where} is evaluated at its output, not at its input",
        )
        if z is not None:  # the output's formula (s(1-s), 1-t²) with the input put in for the output
            yield Mutant(
                "derivative-at-wrong-tensor",
                k,
                "formula-on-input",
                {0: g * by_output(kind, z)},
                f"the derivative of {kind} in {where} is written for its output but given its input",
            )
        if kind != "exp":
            yield Mutant(
                "derivative-at-wrong-tensor",
                k,
                "by-output",
                {0: g * out},
                f"{where} multiplies by the {kind}'s output, not by its derivative",
            )
    if z is not None and kind in ("relu", "sigmoid", "tanh"):
        for name, bias in _biases(trace, k):  # at the layer's product, without the bias added to it
            yield Mutant(
                "derivative-at-wrong-tensor",
                k,
                f"without-{name}",
                {0: g * _derivative(kind, z - bias)},
                f"the derivative of {kind} in {where} is evaluated without {name}, the bias added to its input",
            )
    for other in ("sigmoid", "tanh", "relu"):
        if other == kind:
            continue
        if z is not None:
            yield Mutant(
                "other-activation-derivative",
                k,
                f"{other}-at-input",
                {0: g * _derivative(other, z)},
                f"{where} uses the derivative of {other} where {kind}'s belongs",
            )
        if out is not None and other != "relu":
            yield Mutant(
                "other-activation-derivative",
                k,
                f"{other}-formula",
                {0: g * by_output(other, out)},
                f"{where} uses the derivative of {other} where {kind}'s belongs",
            )


def _biases(trace: Trace, k: int) -> Iterator[tuple[str, Tensor]]:
    """The parameters added to the input of step ``k`` (``x @ W + b``: ``b``), by name."""
    edge = trace.nodes[k].edges[0] if trace.nodes[k].edges else None
    if edge is None or trace.nodes[edge[0]].op != "Add":
        return
    for term in trace.nodes[edge[0]].edges:
        leaf = trace.nodes[term[0]] if term is not None else None
        if leaf is not None and leaf.op == "AccumulateGrad" and leaf.name in trace.values:
            yield leaf.name, trace.values[leaf.name]


def _others(pool: Mapping[str, Tensor], right: Tensor) -> Iterator[tuple[str, Tensor]]:
    for label, value in pool.items():
        if value is right or not value.dtype.is_floating_point:
            continue
        if value.shape == right.shape and torch.equal(value, right):
            continue
        yield label, value


def _count_off(k: int, g: Tensor, c: float, divides: bool, where: str) -> Iterator[Mutant]:
    """A step that multiplies (or divides) by a constant of the forward that is a count ``m`` or ``1/m``
    (a mean's 1/n, Bessel's 1/(n-1)): its derivative taken with the count one off (n where n-1 belongs,
    or the other way round)."""
    for inverse in (False, True):
        x = 1 / c if inverse and c != 0 else c
        m = round(x)
        if m < 2 or abs(x - m) > 1e-9 * m:
            continue
        for d in (-1, 1):
            if m + d < 2:  # a count of 1: the constant left out, a scale rule's
                continue
            other = 1 / (m + d) if inverse else float(m + d)
            yield Mutant(
                "wrong-constant",
                k,
                f"count{d:+d}",
                {0: g / other if divides else g * other},
                f"in {where} the constant is a count off by one (n where n - 1 belongs, or the other way round)",
            )
        return


def _mul(trace: Trace, k: int, g: Tensor, pool: Mapping[str, Tensor], step: Any) -> Iterator[Mutant]:
    fn = trace.nodes[k].fn
    saved = {0: getattr(fn, "_saved_other", None), 1: getattr(fn, "_saved_self", None)}
    constant = saved[0]
    if isinstance(constant, Tensor) and constant.numel() == 1 and (k, 0) in trace.flows and (k, 1) not in trace.flows:
        yield from _count_off(k, g, float(constant), False, step(0))
    for e in (0, 1):
        if (k, e) not in trace.flows:
            continue
        other = saved[e]
        if not isinstance(other, Tensor):
            continue
        yield Mutant(
            "missing-local-derivative", k, f"drop{e}", {e: g}, f"a factor of the product is left out of {step(e)}"
        )
        yield Mutant(
            "double-count",
            k,
            f"twice{e}",
            {e: g * other * other},
            f"a factor of the product is counted twice in {step(e)}",
        )
        for label, value in _others(pool, other):
            if broadcast(tuple(g.shape), tuple(value.shape)) is None:  # cheaper than the error of trying
                continue
            flow = g * value
            yield Mutant(
                "wrong-operand",
                k,
                f"{e}:{label}",
                {e: flow},
                f"the product in {step(e)} uses {label} in place of the right factor",
            )


def _mm(trace: Trace, k: int, g: Tensor, pool: Mapping[str, Tensor], step: Any) -> Iterator[Mutant]:
    fn = trace.nodes[k].fn
    a, b = getattr(fn, "_saved_self", None), getattr(fn, "_saved_mat2", None)
    for e, other in ((0, b), (1, a)):
        if (k, e) not in trace.flows or not isinstance(other, Tensor):
            continue
        right = trace.flows[(k, e)]

        def product(x: Tensor, e: int = e) -> Tensor:
            return g @ x.T if e == 0 else x.T @ g

        for label, value in _others(pool, other):
            if value.dim() == 2 and value.shape == other.shape:
                yield Mutant(
                    "wrong-operand",
                    k,
                    f"{e}:{label}",
                    {e: product(value)},
                    f"the product in {step(e)} uses {label} in place of the right operand",
                )
            elif value.dim() <= 2 and value.shape != other.shape:  # broadcasting where a product belongs
                shape = broadcast(tuple(g.shape), tuple(value.shape))
                if shape is None or broadcast(shape, tuple(right.shape)) != shape:  # it would not fit
                    continue
                flow = g * value if e == 0 else value * g
                if _fit(flow, right.shape) is not None:
                    yield Mutant(
                        "wrong-operand",
                        k,
                        f"{e}:{label}*",
                        {e: flow},
                        f"{step(e)} multiplies by {label} elementwise in place of the right operand",
                    )
        for label, value in _others(pool, g):
            if value.shape == g.shape:
                flow = value @ other.T if e == 0 else other.T @ value
                yield Mutant(
                    "wrong-operand",
                    k,
                    f"{e}:g={label}",
                    {e: flow},
                    f"the product in {step(e)} uses {label} in place of the gradient that flows in",
                )
        for x in (g, g.T):
            for y in (other, other.T):
                for p, q in ((x, y), (y, x)):
                    try:
                        flow = p @ q
                    except RuntimeError:
                        continue
                    if flow.shape == right.shape and not torch.allclose(flow, right):
                        yield Mutant(
                            "missing-transpose",
                            k,
                            f"{e}:{'gT' if x is not g else 'g'}{'bT' if y is not other else 'b'}{'' if p is x else 'r'}",
                            {e: flow},
                            f"a transpose is missing or misplaced in the product of {step(e)}",
                        )
        yield from _reshaped(k, e, g, other, right, step)
        elementwise: Tensor | None
        try:
            elementwise = g * (other.T if e == 0 else other)
        except RuntimeError:
            elementwise = None
        if elementwise is not None and _fit(elementwise, right.shape) is not None:
            yield Mutant(
                "elementwise-vs-matmul",
                k,
                f"{e}:elementwise",
                {e: elementwise},
                f"{step(e)} multiplies elementwise where it is a matrix product",
            )


def _reshaped(k: int, e: int, g: Tensor, other: Tensor, right: Tensor, step: Any) -> Iterator[Mutant]:
    """A product whose transposed factor is a reshape instead (``a.reshape(H, N)`` where ``a.T``
    belongs), written either way round."""

    def flipped(x: Tensor) -> Tensor | None:
        return x.reshape(x.shape[1], x.shape[0]) if x.dim() == 2 and x.shape[0] != x.shape[1] else None

    o_r, g_r = flipped(other), flipped(g)
    candidates: list[tuple[str, Tensor | None]] = []
    if e == 0:
        candidates = [("b", g @ o_r if o_r is not None else None), ("g", (other @ g_r).T if g_r is not None else None)]
    else:
        candidates = [("a", o_r @ g if o_r is not None else None), ("g", (g_r @ other).T if g_r is not None else None)]
    for which, flow in candidates:
        if flow is not None and flow.shape == right.shape and not torch.allclose(flow, right):
            yield Mutant(
                "missing-transpose",
                k,
                f"{e}:reshape-{which}",
                {e: flow},
                f"in the product of {step(e)} a factor is reshaped where it should be transposed",
            )


def _mv(trace: Trace, k: int, g: Tensor, pool: Mapping[str, Tensor], step: Any) -> Iterator[Mutant]:
    """A matrix times a vector, ``A @ x``: the matrix's gradient is an outer product, the vector's ``A.T @ g``."""
    fn = trace.nodes[k].fn
    a, x = getattr(fn, "_saved_self", None), getattr(fn, "_saved_vec", None)
    if not isinstance(a, Tensor) or not isinstance(x, Tensor):
        return
    if (k, 0) in trace.flows:
        full = torch.outer(g, x)
        for label, at in trace.picks().items():  # only the row the label picks: every row's score feeds the softmax
            if a.dim() == 2 and 0 <= at < a.shape[0]:
                only = torch.zeros_like(full)
                only[at] = full[at]
                yield Mutant(
                    "missing-branch",
                    k,
                    f"0:only-{label}",
                    {0: only},
                    f"in {step(0)} only the row {label} picks gets a gradient, though every row's score enters the loss",
                )
        for label, value in _others(pool, x):
            if value.shape == x.shape:
                yield Mutant(
                    "wrong-operand",
                    k,
                    f"0:{label}",
                    {0: torch.outer(g, value)},
                    f"the outer product in {step(0)} uses {label} in place of the right vector",
                )
        for label, value in _others(pool, g):
            if value.shape == g.shape:
                yield Mutant(
                    "wrong-operand",
                    k,
                    f"0:g={label}",
                    {0: torch.outer(value, x)},
                    f"the outer product in {step(0)} uses {label} in place of the gradient that flows in",
                )
    if (k, 1) in trace.flows:
        for label, value in _others(pool, a):
            if value.shape == a.shape:
                yield Mutant(
                    "wrong-operand",
                    k,
                    f"1:{label}",
                    {1: value.T @ g},
                    f"the product in {step(1)} uses {label} in place of the right matrix",
                )
        for label, value in _others(pool, g):
            if value.shape == g.shape:
                yield Mutant(
                    "wrong-operand",
                    k,
                    f"1:g={label}",
                    {1: a.T @ value},
                    f"the product in {step(1)} uses {label} in place of the gradient that flows in",
                )
        if a.dim() == 2 and a.shape[0] != a.shape[1]:
            yield Mutant(
                "missing-transpose",
                k,
                "1:reshape",
                {1: a.reshape(a.shape[1], a.shape[0]) @ g},
                f"{step(1)} reshapes the matrix where it transposes it",
            )
        elif a.dim() == 2:
            yield Mutant("missing-transpose", k, "1:none", {1: a @ g}, f"the transpose in {step(1)} is left out")
