"""Property-based checks of function-style submissions.

The grader (the trusted parent) drives hypothesis; every example is evaluated
by calling the submission's function in its isolated child over the data
channel (:class:`harness.check.calls.Calls`).  Inputs come from a grid of multiples
of 1/16, scaled so that no pre-activation leaves [−3, 3] (far from sigmoid
saturation) and exactly representable in every float dtype; they are sent in
the submission's dtype.  A failing example is shrunk (towards zeros and, where
the assignment allows other sizes, towards a 1-1-1 network) and the check
reports the smallest failing input with both values.

Runs are reproducible: hypothesis is seeded with the submission's seed
(recorded in the report), ``database=None``, ``deadline=None``, a bounded
number of examples and a bounded number of new calls while shrinking.  Each
distinct input is sent to the child once (calls are cached), so the
``dE_dW1`` and ``dE_dW2`` properties share the ``backward()`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st
from torch import Tensor

import reference
from harness.check.calls import Calls, generated_problems
from harness.check.compare import UPDATE_FACTOR, _judged, _result, compare, fit, update_tolerance
from harness.diagnose.evidence import Case
from harness.diagnose.messages import instance_diagnosis, shape_diagnosis, sizes_diagnosis
from harness.records.assignment import Assignment, Tolerance
from harness.records.outcome import Value
from harness.records.problem import Problem
from harness.records.result import CheckResult, Diagnosis, Evidence, Status
from harness.truth import truth_of

DEFAULT_SHRINK_BUDGET = 60  # new calls of the child while shrinking one failure
PROBE_SIZES = ((3, 2, 2), (2, 3, 1))  # tried once, for information, where the assignment has fixed sizes
MAX_GENERAL_SIZE = 5
GRID = 16  # inputs are multiples of 1/GRID (times a power-of-two scale)
FUNCTION_OF = {  # check -> the submission's function it calls
    "forward": "forward",
    "loss": "loss",
    "dE_dW1": "backward",
    "dE_dW2": "backward",
    "update": "update",
    "sigmoid": "sigmoid",
    "sigmoid_grad": "sigmoid_grad",
}


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Draw:
    """One generated input: a network problem, plus what the other functions take.

    ``code`` is what hypothesis drew (the sizes, the bytes of every grid, lr):
    equal codes, equal inputs, so it is the cache key.
    """

    problem: Problem
    lr: float = 0.1
    y_cap: Tensor | None = None  # loss(Y_cap, Y)
    grads: tuple[Tensor, Tensor] | None = None  # update(W1, W2, dE_dW1, dE_dW2, lr)
    z: Tensor | None = None  # sigmoid(z)
    h: Tensor | None = None  # sigmoid_grad(h)
    code: tuple[Any, ...] | None = None

    @property
    def sizes(self) -> tuple[int, int, int]:
        return self.problem.sizes

    def key(self) -> tuple[Any, ...]:
        if self.code is not None:
            return self.code
        p = self.problem
        parts: list[Any] = [self.lr]
        for t in (p.X, p.Y, p.W1, p.W2, self.y_cap, self.z, self.h, *(self.grads or ())):
            parts.append(None if t is None else (tuple(t.shape), tuple(t.reshape(-1).tolist())))
        return tuple(parts)

    def __repr__(self) -> str:  # hypothesis prints its examples: keep that cheap
        return f"Draw(sizes={self.sizes}, lr={self.lr})"


def _scale(n: int) -> float:
    """A power of two ≤ 1 that keeps a sum of ``n`` terms of size ≤ 1 within ±3."""
    return 2.0 ** math.floor(math.log2(min(1.0, 3.0 / n))) if n > 3 else 1.0


class Grid:
    """Bytes → multiples of ``1/GRID`` in ``[low, high]·scale``; the byte 0 is the value nearest 0.

    One ``st.binary`` draw per array keeps generation cheap, and hypothesis
    shrinks bytes towards 0, that is values towards 0.
    """

    def __init__(self, low: int, high: int, scale: float = 1.0, grid: float = GRID) -> None:
        # the integers of [low, high] ordered by distance from 0: 0, 1, -1, 2, -2, ... (or from low when low > 0)
        start = min(max(0, low), high)
        order = sorted(range(low, high + 1), key=lambda k: (abs(k - start), k < start))
        self.values = [k * scale / grid for k in order]

    def __call__(self, data: bytes, *shape: int) -> Tensor:
        n = len(self.values)
        return torch.tensor([self.values[b % n] for b in data], dtype=torch.float64).reshape(shape)


SIGNED = Grid(-GRID, GRID)
UNIT = Grid(0, GRID)  # targets Y in [0, 1]
OPEN_UNIT = Grid(1, GRID - 1)  # sigmoid outputs in (0, 1)
Z_GRID = Grid(-24, 24, grid=4)  # pre-activations in [-6, 6]


def _bytes(n: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=n, max_size=n)


def sizes_strategy(assignment: Assignment) -> st.SearchStrategy[tuple[int, int, int]]:
    if not assignment.general_sizes:
        return st.just(assignment.sizes)
    n = st.integers(1, MAX_GENERAL_SIZE)
    return st.tuples(n, n, n)


@st.composite
def problems(draw: st.DrawFn, sizes: st.SearchStrategy[tuple[int, int, int]]) -> Draw:
    n_in, n_h, n_out = draw(sizes)
    bx, b1, b2, by = draw(_bytes(n_in)), draw(_bytes(n_in * n_h)), draw(_bytes(n_h * n_out)), draw(_bytes(n_out))
    W1 = Grid(-GRID, GRID, _scale(n_in))(b1, n_in, n_h)
    W2 = Grid(-GRID, GRID, _scale(n_h))(b2, n_h, n_out)
    p = Problem(X=SIGNED(bx, n_in, 1), Y=UNIT(by, 1, n_out), W1=W1, W2=W2)
    return Draw(p, code=((n_in, n_h, n_out), bx, b1, b2, by))


def _blank(n_in: int, n_h: int, n_out: int, Y: Tensor | None = None) -> Problem:
    zeros = torch.zeros
    return Problem(
        X=zeros(n_in, 1, dtype=torch.float64),
        Y=zeros(1, n_out, dtype=torch.float64) if Y is None else Y,
        W1=zeros(n_in, n_h, dtype=torch.float64),
        W2=zeros(n_h, n_out, dtype=torch.float64),
    )


@st.composite
def loss_draws(draw: st.DrawFn, sizes: st.SearchStrategy[tuple[int, int, int]]) -> Draw:
    n_in, n_h, n_out = draw(sizes)
    bc, by = draw(_bytes(n_out)), draw(_bytes(n_out))
    return Draw(
        _blank(n_in, n_h, n_out, UNIT(by, 1, n_out)), y_cap=OPEN_UNIT(bc, 1, n_out), code=((n_in, n_h, n_out), bc, by)
    )


@st.composite
def update_draws(draw: st.DrawFn, sizes: st.SearchStrategy[tuple[int, int, int]], lrs: Sequence[float]) -> Draw:
    base = draw(problems(sizes))
    n_in, n_h, n_out = base.sizes
    b1, b2 = draw(_bytes(n_in * n_h)), draw(_bytes(n_h * n_out))
    lr = draw(st.sampled_from(list(lrs)))
    return Draw(
        base.problem, lr=lr, grads=(SIGNED(b1, n_in, n_h), SIGNED(b2, n_h, n_out)), code=(base.code, b1, b2, lr)
    )


@st.composite
def helper_draws(draw: st.DrawFn, sizes: st.SearchStrategy[tuple[int, int, int]], which: str) -> Draw:
    n_in, n_h, n_out = draw(sizes)
    b = draw(_bytes(n_h))
    code = ((n_in, n_h, n_out), which, b)
    if which == "z":
        return Draw(_blank(n_in, n_h, n_out), z=Z_GRID(b, n_h, 1), code=code)
    return Draw(_blank(n_in, n_h, n_out), h=OPEN_UNIT(b, n_h, 1), code=code)


def learning_rates(assignment: Assignment) -> list[float]:
    """The assignment's lr first (what shrinking goes back to), then others: a hard-coded lr shows."""
    return list(dict.fromkeys([assignment.lr, 0.5, 0.05, 1.0]))


# ---------------------------------------------------------------- observations


@dataclass
class Observation:
    """What one call gave, judged."""

    ok: bool
    status: Status
    message: str
    inputs: dict[str, Any]
    sizes: tuple[int, int, int]
    submitted: Tensor | None = None
    expected: Tensor | None = None
    diagnosis: Diagnosis | None = None
    notes: tuple[str, ...] = ()
    case: Case | None = None  # the evidence diagnose() reads
    tolerance: Tolerance | None = None  # where it depends on the inputs (the update's)


@dataclass
class Search:
    """The outcome of one property: how many inputs were tried, and the failing ones in the order found."""

    examples: int = 0
    failures: list[Observation] = field(default_factory=list)
    passes_at: set[tuple[int, int, int]] = field(default_factory=set)
    generic_failed: bool = False  # it failed on a seeded generic input, not only on hypothesis's special ones

    @property
    def minimal(self) -> Observation | None:
        return self.failures[-1] if self.failures else None


class _Falsified(Exception):
    pass


def falsify(
    observe: Callable[[Draw], Observation],
    strategy: st.SearchStrategy[Draw],
    generic: Sequence[Draw],
    *,
    examples: int,
    seed_value: int,
    shrink_budget: int = DEFAULT_SHRINK_BUDGET,
) -> Search:
    """Look for an input on which ``observe`` fails: the ``generic`` inputs first, then hypothesis.

    The last failure recorded is the smallest hypothesis found (it replays the
    shrunk example last).  Inputs already judged are not sent again; once a
    failure is found, at most ``shrink_budget`` new inputs are tried.
    """
    search = Search()
    seen: dict[tuple[Any, ...], Observation] = {}
    fresh_after_failure = 0

    def judge(d: Draw) -> Observation | None:
        nonlocal fresh_after_failure
        key = d.key()
        if key in seen:
            return seen[key]
        if search.failures:
            if fresh_after_failure >= shrink_budget:
                return None
            fresh_after_failure += 1
        obs = observe(d)
        seen[key] = obs
        search.examples += 1
        if obs.ok:
            search.passes_at.add(d.sizes)
        return obs

    for d in generic:
        obs = judge(d)
        if obs is not None and not obs.ok:
            search.failures.append(obs)
            search.generic_failed = True

    def prop(d: Draw) -> None:
        obs = judge(d)
        if obs is not None and not obs.ok:
            search.failures.append(obs)
            raise _Falsified

    run = seed(seed_value)(
        settings(
            max_examples=examples,
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            phases=(Phase.generate, Phase.shrink),
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            print_blob=False,
        )(given(strategy)(prop))
    )
    try:
        run()
    except _Falsified:
        pass
    except Exception as exc:  # hypothesis's own complaints (flaky child, ...): keep what was found
        if not search.failures:
            raise RuntimeError(f"property search failed: {exc!r}") from exc
    return search


# ---------------------------------------------------------------- the properties


@dataclass(repr=False)
class Runner:
    """Runs the function-style properties of one submission."""

    calls: Calls
    assignment: Assignment
    defined: set[str]
    seed: int
    own: Problem | None = None  # the submission's own X, Y, W1, W2 (globals), if it has them
    budget: int | None = None  # new calls while shrinking; None: the assignment's (or the default)
    results: dict[str, CheckResult] = field(default_factory=dict)

    def __repr__(self) -> str:  # hypothesis describes the strategies it reports, this included: keep it cheap
        return f"Runner(seed={self.seed})"

    @property
    def dtype(self) -> str:
        return self.calls.dtype

    @property
    def tol(self) -> Tolerance:
        return self.assignment.tolerance(self.dtype)

    @property
    def examples(self) -> int:
        return int(getattr(self.assignment, "examples", 8))

    @property
    def shrink_budget(self) -> int:
        if self.budget is not None:
            return self.budget
        return int(getattr(self.assignment, "shrink_budget", DEFAULT_SHRINK_BUDGET))

    def rounded(self, p: Problem) -> Problem:
        r = self.calls.round
        return Problem(X=r(p.X), Y=r(p.Y), W1=r(p.W1), W2=r(p.W2), dtype=self.dtype)

    # -------- generic inputs (the first evidence a diagnosis reads)

    def generic(self, count: int = 2) -> list[Problem]:
        fixed = replace(self.assignment, general_sizes=False) if self.assignment.general_sizes else self.assignment
        return [self.rounded(p) for p in generated_problems(fixed, self.seed, count)]

    # -------- one function, start to end

    def check(self, name: str) -> CheckResult:
        fn = FUNCTION_OF[name]
        if fn not in self.defined:
            result = _result(name, "missing", self.assignment, f"The function {fn}() is not defined.")
            self.results[name] = result
            return result
        observe, strategy, generic = self._property(name)
        try:
            search = falsify(
                observe,
                strategy,
                generic,
                examples=self.examples,
                seed_value=self.seed,
                shrink_budget=self.shrink_budget,
            )
        except Exception as exc:  # the grader's own failure: this check cannot be judged, the others can
            result = _result(
                name,
                "error",
                self.assignment,
                f"{fn}() could not be checked: the grader failed ({type(exc).__name__}: {exc}).",
            )
            self.results[name] = result
            return result
        if not search.failures:
            notes = self._probe_other_sizes(name, observe)
            result = _result(
                name,
                "pass",
                self.assignment,
                f"{fn}() is correct on {search.examples} generated inputs (hypothesis, seed {self.seed}).",
                tolerance=self._tolerance_text(name),
                notes=notes,
            )
        else:
            result = self._failed(name, fn, search, observe)
        self.results[name] = result
        return result

    def _tol(self, name: str) -> Tolerance:
        return self.tol  # the update's depends on its inputs: Observation.tolerance

    def _tolerance_text(self, name: str) -> str:
        tol = self.tol
        if name == "update":
            return f"step W_new − W: rtol={tol.rtol * UPDATE_FACTOR:g}, atol={tol.atol:g} + {tol.rtol * UPDATE_FACTOR:g}·max|W|"
        return str(tol)

    def _property(self, name: str) -> tuple[Callable[[Draw], Observation], st.SearchStrategy[Draw], list[Draw]]:
        sizes = sizes_strategy(self.assignment)
        generic = self.generic()
        if name == "forward":
            return self._forward, problems(sizes).map(self._round_draw), [Draw(p) for p in generic]
        if name in ("dE_dW1", "dE_dW2"):
            return (
                (lambda d: self._backward(d, name)),
                problems(sizes).map(self._round_draw),
                [Draw(p) for p in generic],
            )
        if name == "loss":
            return (
                self._loss,
                loss_draws(sizes).map(self._round_draw),
                [Draw(p, y_cap=self.calls.round(reference.forward(p.X, p.Y, p.W1, p.W2).Y_cap)) for p in generic],
            )
        if name == "update":

            def true_step(p: Problem) -> Draw:
                g = reference.autograd_backward(p.X, p.Y, p.W1, p.W2)
                return Draw(p, lr=self.assignment.lr, grads=(self.calls.round(g.dE_dW1), self.calls.round(g.dE_dW2)))

            return (
                self._update,
                update_draws(sizes, learning_rates(self.assignment)).map(self._round_draw),
                [true_step(p) for p in generic],
            )
        if name == "sigmoid":
            return (
                self._sigmoid,
                helper_draws(sizes, "z").map(self._round_draw),
                [Draw(p, z=self.calls.round(p.W1.T @ p.X * 2.0)) for p in generic],
            )
        return (
            self._sigmoid_grad,
            helper_draws(sizes, "h").map(self._round_draw),
            [Draw(p, h=self.calls.round(torch.sigmoid(p.W1.T @ p.X * 2.0))) for p in generic],
        )

    def _round_draw(self, d: Draw) -> Draw:
        """The values the child will see (grid values are exact in every float dtype; this is a safeguard)."""
        r = self.calls.round
        return Draw(
            self.rounded(d.problem),
            lr=d.lr,
            y_cap=None if d.y_cap is None else r(d.y_cap),
            grads=None if d.grads is None else (r(d.grads[0]), r(d.grads[1])),
            z=None if d.z is None else r(d.z),
            h=None if d.h is None else r(d.h),
            code=d.code,
        )

    # -------- observers: call, fit, compare

    def _judge(
        self,
        name: str,
        fn: str,
        d: Draw,
        value: Tensor | None,
        expected: Tensor,
        inputs: dict[str, Any],
        context: dict[str, Any],
        raw: Value | None,
        key: str | None = None,
    ) -> Observation:
        sizes = d.sizes
        if value is None:
            kind = raw.kind if raw is not None else "nothing"
            return Observation(False, "fail", f"{fn}() returned {kind}, not an array of numbers.", inputs, sizes)
        fitted, note = fit(value, expected)
        if fitted is None:
            return Observation(
                False,
                "fail",
                f"{fn}() returned shape {tuple(value.shape)}; expected {tuple(expected.shape)}.",
                inputs,
                sizes,
                submitted=value,
                expected=expected,
                diagnosis=shape_diagnosis(key or name, tuple(value.shape), tuple(expected.shape), fn),
            )
        ok = compare(fitted, expected, self._tol(name)).ok
        p = d.problem
        case = Case(fitted.to(torch.float64), p, truth_of(p), {**context, "fn": fn}) if not ok else None
        return Observation(
            ok,
            "pass" if ok else "fail",
            "",
            inputs,
            sizes,
            submitted=fitted,
            expected=expected,
            notes=(note,) if note else (),
            case=case,
        )

    def _error(self, fn: str, d: Draw, inputs: dict[str, Any], error: Any) -> Observation:
        return Observation(False, "error", f"{fn}() raised {error}.", inputs, d.sizes)

    def _forward(self, d: Draw) -> Observation:
        p = d.problem
        inputs = _inputs(X=p.X, W1=p.W1, W2=p.W2)
        result = self.calls("forward", p.X, p.W1, p.W2)
        if result.error is not None:
            return self._error("forward", d, inputs, result.error)
        raw = result.value
        value = _last_item(raw) if raw is not None else None
        expected = reference.forward(p.X, p.Y, p.W1, p.W2).Y_cap
        return self._judge("forward", "forward", d, value.tensor if value else None, expected, inputs, {}, raw, "Y_cap")

    def _loss(self, d: Draw) -> Observation:
        p, y_cap = d.problem, d.y_cap
        assert y_cap is not None
        inputs = _inputs(Y_cap=y_cap, Y=p.Y)
        result = self.calls("loss", y_cap, p.Y)
        if result.error is not None:
            return self._error("loss", d, inputs, result.error)
        expected = ((p.Y - y_cap) ** 2).sum()
        value = result.value.tensor if result.value is not None else None
        return self._judge("loss", "loss", d, value, expected, inputs, {"own_y_cap": y_cap}, result.value, "E")

    def _backward(self, d: Draw, name: str) -> Observation:
        p = d.problem
        inputs = _inputs(X=p.X, Y=p.Y, W1=p.W1, W2=p.W2)
        result = self.calls("backward", p.X, p.Y, p.W1, p.W2)
        if result.error is not None:
            return self._error("backward", d, inputs, result.error)
        truth = truth_of(p)
        returned = result.value
        if returned is None or len(returned.items) != 2 or any(i.tensor is None for i in returned.items):
            return Observation(
                False, "fail", "backward() must return a pair (dE_dW1, dE_dW2) of arrays.", inputs, d.sizes
            )
        first, second = (i.tensor for i in returned.items)
        assert first is not None and second is not None
        notes: list[str] = []
        if (
            fit(first, truth.grads.dE_dW1)[0] is None
            and fit(second, truth.grads.dE_dW1)[0] is not None
            and fit(first, truth.grads.dE_dW2)[0] is not None
        ):
            first, second = second, first
            notes.append("backward() returned (dE_dW2, dE_dW1); read in that order")
        value = first if name == "dE_dW1" else second
        obs = self._judge(name, "backward", d, value, getattr(truth.grads, name), inputs, {}, returned)
        obs.notes = tuple(notes) + obs.notes
        return obs

    def _update(self, d: Draw) -> Observation:
        p = d.problem
        assert d.grads is not None
        g1, g2 = d.grads
        inputs = _inputs(W1=p.W1, W2=p.W2, dE_dW1=g1, dE_dW2=g2, lr=d.lr)
        result = self.calls("update", p.W1, p.W2, g1, g2, d.lr)
        if result.error is not None:
            return self._error("update", d, inputs, result.error)
        W = torch.cat([p.W1.reshape(-1), p.W2.reshape(-1)])
        gradient = torch.cat([g1.reshape(-1), g2.reshape(-1)])
        value = result.value
        if value is None or len(value.items) != 2 or any(v.tensor is None for v in value.items):
            kind = value.kind if value is not None else "nothing"
            return Observation(
                False, "fail", f"update() must return a pair (W1_new, W2_new) of arrays, not {kind}.", inputs, d.sizes
            )
        parts = []
        for item, like, label in zip(value.items, (p.W1, p.W2), ("W1_new", "W2_new")):
            assert item.tensor is not None
            fitted, _ = fit(item.tensor, like)
            if fitted is None:
                return Observation(
                    False,
                    "fail",
                    f"update() returned {label} with shape {tuple(item.tensor.shape)}; expected {tuple(like.shape)}.",
                    inputs,
                    d.sizes,
                    diagnosis=shape_diagnosis(label, tuple(item.tensor.shape), tuple(like.shape), "update"),
                )
            parts.append(fitted.reshape(-1))
        step, expected_step = torch.cat(parts) - W, -d.lr * gradient
        ok = compare(step, expected_step, update_tolerance(self.tol, W)).ok
        case = (
            None
            if ok
            else Case(step.to(torch.float64), p, truth_of(p), {"gradient": gradient, "lr": d.lr, "fn": "update"})
        )
        return Observation(
            ok,
            "pass" if ok else "fail",
            "",
            inputs,
            d.sizes,
            submitted=step,
            expected=expected_step,
            case=case,
            tolerance=update_tolerance(self.tol, W),
        )

    def _sigmoid(self, d: Draw) -> Observation:
        assert d.z is not None
        inputs = _inputs(z=d.z)
        result = self.calls("sigmoid", d.z)
        if result.error is not None:
            return self._error("sigmoid", d, inputs, result.error)
        value = result.value.tensor if result.value is not None else None
        return self._judge("sigmoid", "sigmoid", d, value, torch.sigmoid(d.z), inputs, {"z": d.z}, result.value)

    def _sigmoid_grad(self, d: Draw) -> Observation:
        assert d.h is not None
        inputs = _inputs(h=d.h)
        result = self.calls("sigmoid_grad", d.h)
        if result.error is not None:
            return self._error("sigmoid_grad", d, inputs, result.error)
        value = result.value.tensor if result.value is not None else None
        return self._judge("sigmoid_grad", "sigmoid_grad", d, value, d.h * (1 - d.h), inputs, {"h": d.h}, result.value)

    # -------- verdicts

    def _failed(self, name: str, fn: str, search: Search, observe: Callable[[Draw], Observation]) -> CheckResult:
        minimal = search.minimal
        assert minimal is not None
        counterexample: dict[str, Any] = {
            "inputs": minimal.inputs,
            "sizes": list(minimal.sizes),
            "seed": self.seed,
            "examples": search.examples,
        }
        if minimal.submitted is not None and minimal.expected is not None:
            counterexample["submitted"] = minimal.submitted.tolist()
            counterexample["expected"] = minimal.expected.tolist()
        found = self._evidence(name, fn, search, observe)
        diagnosis = found if isinstance(found, Diagnosis) else None
        evidence = found if isinstance(found, Evidence) else None
        where = f" (smallest failing input: a {_sizes(minimal.sizes)} network)" if self.assignment.general_sizes else ""
        if (
            minimal.status == "error"
            or minimal.submitted is None
            or minimal.expected is None
            or minimal.submitted.shape != minimal.expected.shape
        ):
            status: Status = "error" if minimal.status == "error" else "fail"
            return _result(
                name,
                status,
                self.assignment,
                minimal.message + where,
                counterexample=counterexample,
                diagnosis=diagnosis,
                evidence=evidence,
                notes=minimal.notes,
            )
        what = {
            "dE_dW1": "dE_dW1 from backward()",
            "dE_dW2": "dE_dW2 from backward()",
            "update": "The step W_new − W of update()",
        }.get(name, f"{fn}()")
        result = _judged(
            name,
            self.assignment,
            minimal.submitted,
            minimal.expected,
            minimal.tolerance or self._tol(name),
            what,
            list(minimal.notes),
            diagnosis=diagnosis,
            evidence=evidence,
            counterexample=counterexample,
        )
        if where:
            result = replace(result, message=result.message + where)
        return result

    def _evidence(
        self, name: str, fn: str, search: Search, observe: Callable[[Draw], Observation]
    ) -> Diagnosis | Evidence | None:
        """What this check learnt about its failure: a diagnosis it can give itself (shapes, sizes, right
        only on the submission's own inputs), or the evidence the diagnose stage reads."""
        failures = search.failures
        sizes = self.assignment.sizes
        # right at the assignment's sizes, wrong only at others it allows: hard-coded sizes, when the failures are
        # errors or shapes, or when nothing else explains the values (a transpose shows on square matrices only)
        only_elsewhere = (
            self.assignment.general_sizes and sizes in search.passes_at and all(f.sizes != sizes for f in failures)
        )
        elsewhere = sizes_diagnosis(fn, _sizes(sizes), _sizes(failures[-1].sizes))
        if only_elsewhere and all(f.case is None for f in failures):
            return elsewhere
        instance = self._instance(name, observe) if search.generic_failed else None
        if instance is not None and any(f.case is None for f in failures):
            return instance_diagnosis(fn)  # it raised or changed shape on other inputs: the lesson is the same
        fixed = [f.diagnosis for f in failures if f.diagnosis is not None]
        if fixed:
            return fixed[0]
        cases = [f.case for f in failures if f.case is not None]
        if not cases:
            return None
        # the most generic evidence first (the seeded inputs), then hypothesis's first failure and the smallest
        chosen = cases[:2] + ([cases[-1]] if len(cases) > 2 else [])
        primary = chosen[0]
        context: dict[str, Any] = dict(primary.context)
        context["evidence"] = chosen[1:]
        if instance is not None:
            context["instance"] = instance
        if name in ("dE_dW1", "dE_dW2"):
            forward = self.results.get("forward")
            loss = self.results.get("loss")
            context["forward_ok"] = forward is None or forward.status in ("pass", "missing")
            context["loss_ok"] = loss is None or loss.status in ("pass", "missing")
            if not (context["forward_ok"] and context["loss_ok"]) and "forward" in self.defined:
                context["own_gradients"] = self._own_gradients
                context["own"] = self._own_values(primary.problem)
        return Evidence(
            _key(name),
            primary.submitted,
            primary.problem,
            primary.truth,
            context,
            fallback=elsewhere if only_elsewhere else None,
        )

    def _instance(self, name: str, observe: Callable[[Draw], Observation]) -> tuple[Tensor, Tensor] | None:
        """On the submission's own X, Y, W1, W2: (its value, the right value), when it is right there."""
        if self.own is None or name not in ("forward", "dE_dW1", "dE_dW2"):
            return None
        obs = observe(Draw(self.rounded(self.own)))
        if obs.ok and obs.submitted is not None and obs.expected is not None:
            return obs.submitted, obs.expected
        return None

    def _own_values(self, p: Problem) -> dict[str, Tensor]:
        """What the submission's forward() gives at ``p``: (Z, H, O, Y_cap), or Y_cap alone, in canonical shapes."""
        result = self.calls("forward", p.X, p.W1, p.W2)
        if result.error is not None or result.value is None:
            return {}
        fwd = reference.forward(p.X, p.Y, p.W1, p.W2)
        value = result.value
        items = value.items if value.kind == "tuple" and value.items else (value,)
        keys: tuple[str, ...] = ("Z", "H", "O", "Y_cap")
        if len(items) != 4:  # only the last item is known for sure: Y_cap
            items, keys = items[-1:], ("Y_cap",)
        own: dict[str, Tensor] = {}
        for key, item in zip(keys, items):
            if item.tensor is not None:
                fitted, _ = fit(item.tensor, getattr(fwd, key))
                if fitted is not None:
                    own[key] = fitted
        return own

    def _own_gradients(self, p: Problem) -> tuple[Tensor, Tensor] | None:
        """Central differences of the submission's own forward() (and loss(), if defined) at ``p``."""
        h = 2.0**-12 if self.dtype == "float64" else 2.0**-6

        def error(W1: Tensor, W2: Tensor) -> float | None:
            result = self.calls("forward", p.X, W1, W2)
            item = _last_item(result.value) if result.value is not None else None
            if result.error is not None or item is None or item.tensor is None:
                return None
            y_cap = item.tensor.reshape(p.Y.shape) if item.tensor.numel() == p.Y.numel() else None
            if y_cap is None:
                return None
            if "loss" in self.defined:
                out = self.calls("loss", self.calls.round(y_cap), p.Y)
                if (
                    out.error is not None
                    or out.value is None
                    or out.value.tensor is None
                    or out.value.tensor.numel() != 1
                ):
                    return None
                return float(out.value.tensor.reshape(()))
            return float(((p.Y - y_cap) ** 2).sum())

        grads = []
        for which in ("W1", "W2"):
            W: Tensor = getattr(p, which)
            g = torch.zeros_like(W)
            for index in range(W.numel()):
                values = []
                for sign in (1.0, -1.0):
                    moved = W.clone().reshape(-1)
                    moved[index] += sign * h
                    moved = self.calls.round(moved.reshape(W.shape))
                    args = (moved, p.W2) if which == "W1" else (p.W1, moved)
                    e = error(*args)
                    if e is None:
                        return None
                    values.append(e)
                g.reshape(-1)[index] = (values[0] - values[1]) / (2 * h)
            grads.append(g)
        return grads[0], grads[1]

    def _probe_other_sizes(self, name: str, observe: Callable[[Draw], Observation]) -> tuple[str, ...]:
        """Information only: does a function that passed at the assignment's fixed sizes also work at others?"""
        if self.assignment.general_sizes or name not in ("forward", "dE_dW1", "dE_dW2", "loss"):
            return ()
        probe = next(s for s in PROBE_SIZES if s != self.assignment.sizes)
        gen = torch.Generator().manual_seed(self.seed)
        n_in, n_h, n_out = probe

        def draw(*shape: int, low: float = -1.0) -> Tensor:
            return low + (1.0 - low) * torch.rand(*shape, generator=gen, dtype=torch.float64)

        p = self.rounded(
            Problem(X=draw(n_in, 1, low=0.0), Y=draw(1, n_out, low=0.0), W1=draw(n_in, n_h), W2=draw(n_h, n_out))
        )
        d = Draw(p, y_cap=self.calls.round(reference.forward(p.X, p.Y, p.W1, p.W2).Y_cap))
        obs = observe(d)
        if obs.ok:
            return ()
        fn = "backward" if name.startswith("dE_") else name
        how = "raised an error" if obs.status == "error" else "gave other values than the general formula"
        return (
            f"(info) {fn}() was also tried on a {_sizes(probe)} network and {how}: it handles this "
            f"assignment's {_sizes(self.assignment.sizes)} network only, which is all this assignment asks.",
        )


def _key(name: str) -> str:
    return {"forward": "Y_cap", "loss": "E"}.get(name, name)


def _sizes(sizes: Sequence[int]) -> str:
    return "-".join(str(n) for n in sizes)


def _inputs(**tensors: Tensor | float) -> dict[str, Any]:
    return {k: (v.tolist() if isinstance(v, Tensor) else v) for k, v in tensors.items()}


def _last_item(value: Value) -> Value | None:
    """A function returning a tuple (Z, H, O, Y_cap) is read by its last item."""
    if value.kind in ("tuple", "list") and value.items and (value.tensor is None or value.kind == "tuple"):
        return value.items[-1]
    return value
