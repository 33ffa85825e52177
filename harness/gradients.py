"""Verify a hand-written gradient against finite differences, fast and sensitively.

:func:`check_gradients` compares an analytic gradient (from ``grad_fn`` or from
``fn``'s own backward) with numerical derivatives and returns a
:class:`GradientCheckResult`; :func:`assert_gradients` raises when it is not ok.

Two modes:

* ``"entries"``: a central difference per entry (``6 P`` evaluations of ``fn``);
  used for small inputs (``P <= ENTRIES_MODE_MAX_PARAMETERS``).
* ``"directions"``: random directional derivatives detect any discrepancy with
  ``6`` evaluations per direction whatever ``P`` is; group testing (bisection of
  the failing direction's support) then localises the wrong entries in about
  ``12 log2 P`` evaluations each, and a per-entry central difference reports
  their analytic and numeric values.

Every numerical derivative is a Richardson extrapolation over the steps
``h, h/2, h/4``; its tolerance is built from an error estimate (the difference
between two extrapolations, plus the evaluation noise of ``fn`` measured once by
high-order differences), never from a fixed ``eps``, so a correct gradient does
not false-alarm while an error far below ``gradcheck``'s ``rtol`` is still seen.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from harness.errors import invalid

__all__ = [
    "ENTRIES_MODE_MAX_PARAMETERS",
    "GradientCheckResult",
    "GradproofWarning",
    "Mismatch",
    "assert_gradients",
    "check_gradients",
]

Mode = Literal["auto", "entries", "directions"]
GradFn = Callable[..., "Tensor | Sequence[Tensor | None]"]

ENTRIES_MODE_MAX_PARAMETERS = 32
"""``mode="auto"`` checks every entry separately up to this many parameters."""

_MODES = ("auto", "entries", "directions")
_TRUNCATION_SAFETY = 4.0  # × |E2 − E1|, itself ≈ 15 × the truncation error of E2
_NOISE_SAFETY = 64.0  # × σ / h, where E2's rounding error has a std of ≈ 3.8 σ / h
_ROUNDING_SAFETY = 64.0  # × machine eps × the size of the analytic terms
_NOISE_SPACING = 1.0 / 16.0  # noise is sampled at steps of h / 16
_MAX_FRONTIER = 64  # wider bisection trees fall back to checking every entry in them
_DIRECT_SIZE = 4  # subsets this small are checked entry by entry
_MAX_ROUNDS = 8  # detect-localise rounds before checking every remaining entry


class GradproofWarning(UserWarning):
    """A check ran, but with less power than it could have (e.g. in float32)."""


@dataclass(frozen=True)
class Mismatch:
    """One gradient entry whose analytic value disagrees with the numerical one.

    ``input`` is the position of the tensor in ``inputs``, ``index`` the entry's
    index in that tensor; ``tolerance`` is the absolute error that was allowed
    (``atol + rtol |numeric|`` plus the estimated floating-point error).
    """

    input: int
    index: tuple[int, ...]
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    tolerance: float
    name: str

    @property
    def severity(self) -> float:
        """How many tolerances the error spans (``inf`` for a NaN or infinite entry)."""
        if math.isnan(self.abs_error):
            return math.inf
        return self.abs_error / self.tolerance if self.tolerance > 0 else math.inf

    def __str__(self) -> str:
        where = f"{self.name}[{', '.join(str(i) for i in self.index)}]"
        return (
            f"{where}: analytic={self.analytic:+.10e} numeric={self.numeric:+.10e} "
            f"abs_error={self.abs_error:.2e} rel_error={self.rel_error:.2e}"
        )


@dataclass(frozen=True)
class GradientCheckResult:
    """What :func:`check_gradients` found.

    ``mismatches`` lists the wrong entries found (at most ``max_mismatches``;
    ``truncated`` says the search stopped there).  ``function_evaluations``
    counts calls of ``fn``, ``gradient_evaluations`` calls of ``grad_fn`` or of
    autograd's backward.  ``eps``, ``atol`` and ``rtol`` are the values used;
    ``noise`` is the estimated evaluation noise of the scalar checked.
    """

    ok: bool
    mismatches: tuple[Mismatch, ...]
    mode: Literal["entries", "directions"]
    parameters: int
    inputs_checked: int
    function_evaluations: int
    gradient_evaluations: int
    directional_tests: int
    entries_checked: int
    eps: float
    atol: float
    rtol: float
    noise: float
    dtype: torch.dtype
    seed: int
    truncated: bool

    def worst(self, n: int = 5) -> tuple[Mismatch, ...]:
        """The ``n`` mismatches with the largest error relative to their tolerance."""
        return tuple(sorted(self.mismatches, key=lambda m: m.severity, reverse=True)[:n])

    def __str__(self) -> str:
        settings = (
            f"mode={self.mode}, {self.function_evaluations} evaluations of fn, "
            f"{self.directional_tests} directional tests, {self.entries_checked} entries checked; "
            f"eps={self.eps:.1e}, rtol={self.rtol:.1e}, atol={self.atol:.1e}, "
            f"{str(self.dtype).removeprefix('torch.')}, seed={self.seed}"
        )
        if self.ok:
            return (
                f"gradient check passed: {self.parameters:,} entries in {self.inputs_checked} "
                f"input(s) agree with finite differences ({settings})"
            )
        count = f"at least {len(self.mismatches)}" if self.truncated else str(len(self.mismatches))
        lines = [f"gradient check FAILED: {count} of {self.parameters:,} entries wrong; worst:"]
        shown = self.worst(10)
        lines += [f"  {m}" for m in shown]
        if len(self.mismatches) > len(shown):
            lines.append(f"  ... and {len(self.mismatches) - len(shown)} more")
        if self.truncated:
            lines.append("  (search stopped at max_mismatches; more entries may be wrong)")
        lines.append(f"  ({settings})")
        return "\n".join(lines)


# ---------------------------------------------------------------- the problem


@dataclass(frozen=True)
class _Slot:
    """One checked input inside the flat vector of all checked entries."""

    position: int
    offset: int
    shape: tuple[int, ...]
    name: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class _Problem:
    """``fn`` as a scalar function of the flat checked entries, with its analytic gradient.

    Evaluations shift a contiguous range of entries in place in per-input work
    buffers (and restore them), so one evaluation costs ``fn`` plus the range.
    """

    def __init__(
        self,
        fn: Callable[..., Tensor],
        args: list[Tensor],
        slots: list[_Slot],
        out_direction: Tensor | None,
    ) -> None:
        self.fn = fn
        self.args = args
        self.slots = slots
        self.out_direction = out_direction
        self.base = [args[s.position].detach().reshape(-1).clone() for s in slots]
        self.work = [b.clone() for b in self.base]
        for slot, buffer in zip(slots, self.work):
            self.args[slot.position] = buffer.view(slot.shape)
        self.x = torch.cat([b.double() for b in self.base])
        self.evaluations = 0

    @property
    def size(self) -> int:
        return int(self.x.numel())

    def scalar(self, out: Tensor) -> float:
        """The checked scalar: ``out`` itself, or ``Σ u · out`` for the output direction ``u``."""
        if self.out_direction is None:
            return float(out.double().reshape(()))
        return float((out.double() * self.out_direction).sum())

    def value_at(self, lo: int, hi: int, shift: Tensor) -> tuple[float, Tensor]:
        """``f`` with ``shift`` added to entries ``lo:hi``, and the shift that was really applied.

        The applied shift differs from ``shift`` by the rounding of ``x + shift``
        to each input's dtype; callers use it to keep that rounding out of the
        comparison.
        """
        applied = torch.empty(hi - lo, dtype=torch.float64)
        touched = []
        for k, slot in enumerate(self.slots):
            a, b = max(lo, slot.offset), min(hi, slot.offset + slot.numel)
            if a >= b:
                continue
            local = slice(a - slot.offset, b - slot.offset)
            moved = (self.x[a:b] + shift[a - lo : b - lo]).to(self.work[k].dtype)
            self.work[k][local] = moved
            applied[a - lo : b - lo] = moved.double() - self.x[a:b]
            touched.append((k, local))
        try:
            with torch.no_grad():
                value = self.scalar(self.fn(*self.args))
        finally:
            for k, local in touched:
                self.work[k][local] = self.base[k][local]
        self.evaluations += 1
        if not math.isfinite(value):
            invalid("fn(shifted inputs)", value, "expected a finite value near the inputs (try a smaller eps)")
        return value, applied


# ---------------------------------------------------------------- measurements


@dataclass(frozen=True)
class _Measurement:
    """A directional test on entries ``lo:hi``: numeric minus analytic derivative, and its tolerance."""

    lo: int
    hi: int
    discrepancy: float
    tolerance: float

    @property
    def ratio(self) -> float:
        if math.isnan(self.discrepancy):
            return math.inf
        if self.tolerance > 0:
            return abs(self.discrepancy) / self.tolerance
        return math.inf if self.discrepancy else 0.0

    @property
    def fails(self) -> bool:
        return self.ratio > 1.0


class _Checker:
    """The state of one check: problem, analytic gradient, error model, and the findings."""

    def __init__(
        self,
        problem: _Problem,
        analytic: Tensor,
        grad_scale: Tensor,
        scale: Tensor,
        *,
        h: float,
        atol: float,
        rtol: float,
        eps_grad: float,
        eps_fn: float,
        generator: torch.Generator,
    ) -> None:
        self.problem = problem
        self.analytic = analytic
        # what directional tests compare against: the analytic gradient, with the
        # entries already checked replaced by their numeric values
        self.reference = analytic.clone()
        # per-entry allowance density: Σ |w_i| allowance_i is what a test allows beyond
        # the numerical error, for the rounding of the analytic terms
        self.allowance = _ROUNDING_SAFETY * eps_grad * (analytic.abs() + grad_scale)
        self.allowance = torch.nan_to_num(self.allowance, nan=0.0, posinf=0.0)
        self.scale = scale
        self.h = h
        self.atol = atol
        self.rtol = rtol
        self.eps_fn = eps_fn
        self.generator = generator
        self.noise = 0.0
        self.directional_tests = 0
        self.checked: set[int] = set()
        self.mismatches: list[Mismatch] = []

    # -- directions and noise

    def direction(self) -> Tensor:
        """A random direction: signs ±1, magnitudes in [1, 2), scaled per input.

        Magnitudes of at least 1 mean a single wrong entry always shows; random
        magnitudes make two errors cancelling exactly a measure-zero event.
        """
        r = torch.rand(2, self.problem.size, generator=self.generator, dtype=torch.float64)
        return torch.where(r[0] < 0.5, -1.0, 1.0) * (1.0 + r[1]) * self.scale

    def estimate_noise(self) -> None:
        """Measure the evaluation noise σ of ``f`` (Moré & Wild's ECnoise).

        At a spacing δ much smaller than ``h``, the k-th differences of the smooth
        part of f vanish; iid noise of std σ leaves E[(Δᵏf)²] = C(2k, k) σ².
        """
        w = self.direction()
        delta = self.h * _NOISE_SPACING
        values = [self.problem.value_at(0, self.problem.size, j * delta * w)[0] for j in range(-3, 4)]
        estimates = [self.eps_fn * max(abs(v) for v in values)]
        diffs = values
        for k in range(1, 7):
            diffs = [b - a for a, b in zip(diffs, diffs[1:])]
            if k >= 4:
                estimates.append(math.sqrt(sum(d * d for d in diffs) / len(diffs) / math.comb(2 * k, k)))
        self.noise = max(estimates)

    # -- one directional test

    def central_discrepancy(self, lo: int, hi: int, w: Tensor, t: float) -> float:
        """Δ(t): the central difference of f along w over lo:hi minus the analytic g·w.

        The analytic side uses the shift really applied, so the rounding of x ± t·w
        to the inputs' dtype cancels out.
        """
        f_plus, moved_plus = self.problem.value_at(lo, hi, t * w[lo:hi])
        f_minus, moved_minus = self.problem.value_at(lo, hi, -t * w[lo:hi])
        analytic = float(self.reference[lo:hi] @ (moved_plus - moved_minus))
        return (f_plus - f_minus - analytic) / (2.0 * t)

    def measure(self, lo: int, hi: int, w: Tensor) -> _Measurement:
        """Compare numeric and analytic derivatives along w restricted to lo:hi.

        Central differences have error c₂h² + c₄h⁴ + …; Richardson's
        E = (4Δ(h/2) − Δ(h))/3 cancels the h² term.  Two extrapolations, E1 over
        (h, h/2) and E2 over (h/2, h/4), differ by ≈ 15/16 of E1's truncation
        error, i.e. 15 times E2's; E2's rounding error is ≈ 3.8 σ/h (std).
        """
        d1, d2, d3 = (self.central_discrepancy(lo, hi, w, self.h / 2**k) for k in range(3))
        e1 = (4.0 * d2 - d1) / 3.0
        e2 = (4.0 * d3 - d2) / 3.0
        tolerance = (
            _TRUNCATION_SAFETY * abs(e2 - e1)
            + _NOISE_SAFETY * self.noise / self.h
            + float(w[lo:hi].abs() @ self.allowance[lo:hi])
        )
        self.directional_tests += 1
        return _Measurement(lo, hi, e2, tolerance)

    # -- entries

    def check_entry(self, i: int) -> None:
        """Measure entry i alone, record a mismatch, and use its numeric value from now on."""
        w = torch.zeros(self.problem.size, dtype=torch.float64)
        w[i] = self.scale[i]
        m = self.measure(i, i + 1, w)
        step = float(self.scale[i])
        analytic = float(self.analytic[i])
        numeric = float(self.reference[i]) + m.discrepancy / step
        error = abs(analytic - numeric)
        allowed = self.atol + self.rtol * abs(numeric) + m.tolerance / step
        self.checked.add(i)
        self.reference[i] = numeric
        self.allowance[i] = m.tolerance / step
        if not error <= allowed:
            self.mismatches.append(self.mismatch(i, analytic, numeric, allowed))

    def mismatch(self, i: int, analytic: float, numeric: float, allowed: float) -> Mismatch:
        slot = next(s for s in reversed(self.problem.slots) if s.offset <= i)
        index = tuple(int(j) for j in torch.unravel_index(torch.tensor(i - slot.offset), slot.shape))
        error = abs(analytic - numeric)
        relative = error / abs(numeric) if numeric else (0.0 if error == 0 else math.inf)
        return Mismatch(slot.position, index, analytic, numeric, error, relative, allowed, slot.name)

    def full(self) -> bool:
        return self.max_mismatches is not None and len(self.mismatches) >= self.max_mismatches

    max_mismatches: int | None = None

    def check_entries(self, entries: Sequence[int]) -> None:
        """Check each entry not checked yet, stopping at ``max_mismatches``."""
        for i in entries:
            if self.full():
                return
            if i not in self.checked:
                self.check_entry(i)

    # -- the two modes

    def run_entries(self) -> None:
        self.check_entries(range(self.problem.size))

    def run_directions(self, n_directions: int) -> None:
        """Detect with random directions; localise and check; repeat on what is left."""
        for _ in range(_MAX_ROUNDS):
            failing = self.detect(n_directions)
            if failing is None or self.full():
                return
            before = len(self.checked)
            self.check_entries(self.localise(*failing))
            if len(self.checked) == before:
                break
        if self.detect(n_directions) is not None:
            self.check_entries(range(self.problem.size))

    def detect(self, n_directions: int) -> tuple[_Measurement, Tensor] | None:
        """The worst failing test among ``n_directions`` fresh directions over all entries."""
        tests = []
        for _ in range(n_directions):
            w = self.direction()
            tests.append((self.measure(0, self.problem.size, w), w))
        worst = max(tests, key=lambda mw: mw[0].ratio)
        return worst if worst[0].fails else None

    def localise(self, root: _Measurement, w: Tensor) -> list[int]:
        """Entries to check, found by bisecting the failing test's support.

        Each failing subset is split in halves tested along the same direction;
        failing halves are kept (or, when neither fails, the one closer to
        failing).  Cost: 12 evaluations per kept subset per level, so about
        12 k log2 P for k wrong entries; a tree wider than ``_MAX_FRONTIER``
        means many wrong entries, and every entry in it is checked instead.
        """
        frontier = [root]
        leaves: list[int] = []
        while frontier:
            if len(frontier) > _MAX_FRONTIER:
                return leaves + [i for m in frontier for i in range(m.lo, m.hi)]
            kept: list[_Measurement] = []
            for node in frontier:
                if node.hi - node.lo <= _DIRECT_SIZE:
                    leaves.extend(range(node.lo, node.hi))
                    continue
                mid = (node.lo + node.hi) // 2
                halves = [self.measure(node.lo, mid, w), self.measure(mid, node.hi, w)]
                kept.extend([m for m in halves if m.fails] or [max(halves, key=lambda m: m.ratio)])
            frontier = kept
        return leaves


# ---------------------------------------------------------------- validation


def _validate_options(
    eps: float | None,
    atol: float | None,
    rtol: float | None,
    seed: int,
    mode: str,
    n_directions: int,
    max_mismatches: int | None,
) -> None:
    if eps is not None and not (isinstance(eps, (int, float)) and 0 < eps < 1):
        invalid("eps", eps, "expected a number in (0, 1): the largest step, relative to each input's RMS")
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if tol is not None and not (isinstance(tol, (int, float)) and 0 <= tol < math.inf):
            invalid(name, tol, "expected a finite number >= 0")
    if isinstance(seed, bool) or not isinstance(seed, int):
        invalid("seed", seed, "expected an int")
    if mode not in _MODES:
        invalid("mode", mode, f"expected one of {', '.join(_MODES)}")
    if isinstance(n_directions, bool) or not isinstance(n_directions, int) or n_directions < 1:
        invalid("n_directions", n_directions, "expected an int >= 1")
    if max_mismatches is not None and (
        isinstance(max_mismatches, bool) or not isinstance(max_mismatches, int) or max_mismatches < 1
    ):
        invalid("max_mismatches", max_mismatches, "expected None or an int >= 1")


def _as_inputs(inputs: Tensor | Sequence[Tensor]) -> list[Tensor]:
    """``inputs`` as a list of floating-point tensors."""
    if isinstance(inputs, Tensor):
        return [inputs]
    if not isinstance(inputs, (list, tuple)) or not inputs:
        invalid("inputs", inputs, "expected a tensor or a non-empty sequence of tensors")
    for k, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            invalid(f"inputs[{k}]", t, "expected a tensor")
        if not t.is_floating_point():
            invalid(f"inputs[{k}].dtype", t.dtype, "expected a floating-point dtype")
    return list(inputs)


def _input_names(names: Sequence[str] | None, count: int) -> list[str]:
    if names is None:
        return [f"inputs[{k}]" for k in range(count)]
    if isinstance(names, str) or len(names) != count or not all(isinstance(n, str) for n in names):
        invalid("names", names, f"expected {count} strings, one per input")
    return list(names)


def _validated_output(out: object, grad_outputs: Tensor | None) -> Tensor:
    """``fn``'s output, checked: a finite floating tensor, shaped like ``grad_outputs``."""
    if not isinstance(out, Tensor) or not out.is_floating_point():
        invalid("fn(*inputs)", out, "expected a floating-point tensor")
    if not bool(torch.isfinite(out.detach()).all()):
        invalid("fn(*inputs)", out.detach(), "expected finite values at the inputs")
    if grad_outputs is not None:
        if not isinstance(grad_outputs, Tensor) or not grad_outputs.is_floating_point():
            invalid("grad_outputs", grad_outputs, "expected a floating-point tensor")
        if grad_outputs.shape != out.shape:
            invalid("grad_outputs.shape", tuple(grad_outputs.shape), f"expected {tuple(out.shape)}, fn's output shape")
    return out


def _out_direction(
    out: Tensor, grad_outputs: Tensor | None, generator: torch.Generator, has_grad_fn: bool
) -> Tensor | None:
    """The direction u of the vector-Jacobian product checked (None for a scalar output)."""
    if grad_outputs is not None:
        return grad_outputs.detach().double()
    if out.numel() == 1 and out.dim() == 0:
        return None
    if has_grad_fn:
        invalid(
            "grad_outputs",
            None,
            f"fn returns shape {tuple(out.shape)}: pass the grad_outputs that grad_fn's "
            "vector-Jacobian product was computed for",
        )
    return torch.randn(out.shape, generator=generator, dtype=torch.float64)


def _validated_gradients(grads: object, inputs: list[Tensor]) -> list[Tensor | None]:
    """``grad_fn``'s result as one gradient (or None) per input, shapes checked."""
    listed = [grads] if isinstance(grads, Tensor) else grads
    if not isinstance(listed, (list, tuple)):
        invalid("grad_fn(*inputs)", grads, "expected a tensor or a tuple of tensors, one per input")
    if len(listed) != len(inputs):
        invalid("len(grad_fn(*inputs))", len(listed), f"expected {len(inputs)}, one gradient (or None) per input")
    result: list[Tensor | None] = []
    for k, (g, x) in enumerate(zip(listed, inputs)):
        if g is None:
            result.append(None)
            continue
        if not isinstance(g, Tensor) or not g.is_floating_point():
            invalid(f"grad_fn(*inputs)[{k}]", g, "expected a floating-point tensor or None")
        if g.shape != x.shape:
            invalid(f"grad_fn(*inputs)[{k}].shape", tuple(g.shape), f"expected {tuple(x.shape)}, the shape of inputs[{k}]")
        result.append(g.detach())
    if all(g is None for g in result):
        invalid("grad_fn(*inputs)", grads, "expected at least one gradient that is not None")
    return result


def _analytic(
    fn: Callable[..., Tensor],
    inputs: list[Tensor],
    grad_fn: GradFn | None,
    grad_outputs: Tensor | None,
    generator: torch.Generator,
) -> tuple[list[Tensor | None], Tensor | None, Tensor]:
    """One gradient (or None: not checked) per input, the output direction, and fn's output."""
    if grad_fn is not None:
        with torch.no_grad():
            out = _validated_output(fn(*inputs), grad_outputs)
        u = _out_direction(out, grad_outputs, generator, has_grad_fn=True)
        grads = _validated_gradients(grad_fn(*[x.detach().clone() for x in inputs]), inputs)
        return grads, u, out
    wanted = [k for k, x in enumerate(inputs) if x.requires_grad]
    if not wanted:
        invalid("grad_fn", None, "no input requires grad: set requires_grad=True on the inputs to check, or pass grad_fn")
    leaves = [x.detach().clone().requires_grad_(x.requires_grad) for x in inputs]
    out = _validated_output(fn(*leaves), grad_outputs)
    if not out.requires_grad:
        invalid("fn(*inputs).requires_grad", False, "expected fn's output to depend on the inputs through autograd, or pass grad_fn")
    u = _out_direction(out, grad_outputs, generator, has_grad_fn=False)
    scalar = out.sum() if u is None else (out * u.to(out.dtype)).sum()
    found = torch.autograd.grad(scalar, [leaves[k] for k in wanted], allow_unused=True)
    grads: list[Tensor | None] = [None] * len(inputs)
    for k, g in zip(wanted, found):
        grads[k] = torch.zeros_like(inputs[k]) if g is None else g.detach()
    return grads, u, out


def _precision(dtypes: Sequence[torch.dtype]) -> float:
    """Machine epsilon of the least precise dtype."""
    return max(torch.finfo(d).eps for d in dtypes)


def _per_input_scale(x: Tensor, slots: list[_Slot], values: Sequence[Tensor]) -> Tensor:
    """Each entry's unit of step: its input's RMS (else all inputs' RMS, else 1)."""
    overall = float(x.square().mean().sqrt()) if x.numel() else 0.0
    parts = []
    for slot, v in zip(slots, values):
        rms = float(v.double().square().mean().sqrt()) if v.numel() else 0.0
        unit = rms if rms > 0 and math.isfinite(rms) else (overall if overall > 0 and math.isfinite(overall) else 1.0)
        parts.append(torch.full((slot.numel,), unit, dtype=torch.float64))
    return torch.cat(parts)


# ---------------------------------------------------------------- public API


def check_gradients(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_fn: GradFn | None = None,
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
    mode: Mode = "auto",
    grad_outputs: Tensor | None = None,
    n_directions: int = 2,
    max_mismatches: int | None = 100,
    names: Sequence[str] | None = None,
) -> GradientCheckResult:
    """Check the gradient of ``fn`` at ``inputs`` against finite differences.

    Args:
        fn: maps the input tensors to a scalar tensor, or to any tensor whose
            vector-Jacobian product with ``grad_outputs`` (or a seeded random
            direction) is then checked.  It must not modify its inputs.
        inputs: a tensor or a sequence of floating-point tensors.
        grad_fn: the hand-written gradient: ``grad_fn(*inputs)`` returns one
            tensor per input (a bare tensor for one input), ``None`` for an input
            not to check.  Without it, the inputs with ``requires_grad`` are
            checked against ``fn``'s own backward (e.g. a custom
            ``torch.autograd.Function``).  For a non-scalar ``fn`` it must
            return the vector-Jacobian product with ``grad_outputs``.
        eps: the largest finite-difference step, relative to each input's RMS
            (default: machine epsilon ** (1/5), the optimum for Richardson's
            fourth-order error).
        atol, rtol: slack allowed per entry beyond the estimated floating-point
            error: an entry is wrong when ``|analytic − numeric| > atol + rtol
            |numeric| + error``.  Default ``0`` and ``sqrt(machine epsilon)``.
        seed: seeds every random direction; the result is deterministic.
        mode: ``"entries"`` (each entry separately), ``"directions"`` (random
            directional tests and group testing) or ``"auto"`` (``"entries"``
            for at most ``ENTRIES_MODE_MAX_PARAMETERS`` entries).
        grad_outputs: the direction of the vector-Jacobian product checked
            for a non-scalar ``fn`` (shaped like ``fn``'s output).
        n_directions: random directions per detection round.
        max_mismatches: stop searching after this many wrong entries (None: all).
        names: a name per input, used in messages (default ``inputs[k]``).

    Returns:
        A :class:`GradientCheckResult`; a wrong gradient is a result, not an error.

    Raises:
        UsageError: for invalid arguments, or an ``fn``/``grad_fn`` that does
            not fit them (wrong count or shapes of gradients, non-finite output).
    """
    return _check(fn, inputs, grad_fn, eps, atol, rtol, seed, mode, grad_outputs, n_directions, max_mismatches, names, 3)


def assert_gradients(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_fn: GradFn | None = None,
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int = 0,
    mode: Mode = "auto",
    grad_outputs: Tensor | None = None,
    n_directions: int = 2,
    max_mismatches: int | None = 100,
    names: Sequence[str] | None = None,
) -> GradientCheckResult:
    """:func:`check_gradients`, raising ``AssertionError(str(result))`` when not ok."""
    result = _check(fn, inputs, grad_fn, eps, atol, rtol, seed, mode, grad_outputs, n_directions, max_mismatches, names, 3)
    if not result.ok:
        raise AssertionError(str(result))
    return result


def _check(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_fn: GradFn | None,
    eps: float | None,
    atol: float | None,
    rtol: float | None,
    seed: int,
    mode: Mode,
    grad_outputs: Tensor | None,
    n_directions: int,
    max_mismatches: int | None,
    names: Sequence[str] | None,
    stacklevel: int,
) -> GradientCheckResult:
    if not callable(fn):
        invalid("fn", fn, "expected a callable")
    if grad_fn is not None and not callable(grad_fn):
        invalid("grad_fn", grad_fn, "expected a callable or None")
    _validate_options(eps, atol, rtol, seed, mode, n_directions, max_mismatches)
    tensors = _as_inputs(inputs)
    labels = _input_names(names, len(tensors))
    generator = torch.Generator().manual_seed(seed)

    grads, u, out = _analytic(fn, tensors, grad_fn, grad_outputs, generator)
    checked = [k for k, g in enumerate(grads) if g is not None and tensors[k].numel() > 0]
    if not checked:
        invalid("inputs", [tuple(t.shape) for t in tensors], "expected at least one non-empty input to check")
    slots, offset = [], 0
    for k in checked:
        slots.append(_Slot(k, offset, tuple(tensors[k].shape), labels[k]))
        offset += tensors[k].numel()
    checked_grads = [g for g in grads if g is not None and g.numel() > 0]

    eps_fn = _precision([tensors[k].dtype for k in checked] + [out.dtype])
    eps_grad = max(eps_fn, _precision([g.dtype for g in checked_grads]))
    dtype = min((tensors[k].dtype for k in checked), key=lambda d: torch.finfo(d).bits)
    h = float(eps) if eps is not None else eps_fn**0.2
    atol_used = float(atol) if atol is not None else 0.0
    rtol_used = float(rtol) if rtol is not None else math.sqrt(eps_grad)
    if eps_fn > torch.finfo(torch.float64).eps:
        warnings.warn(
            f"checking gradients in {str(dtype).removeprefix('torch.')} (machine epsilon {eps_fn:.1e}): "
            f"finite differences resolve only relative errors far above that, so tolerances are derived "
            f"from it (eps={h:.1e}, rtol={rtol_used:.1e}) and small errors can go unseen; "
            "check with float64 inputs for a sensitive check",
            GradproofWarning,
            stacklevel=stacklevel,
        )

    problem = _Problem(fn, list(tensors), slots, u)
    problem.evaluations = 1
    analytic = torch.cat([g.double().reshape(-1) for g in checked_grads])
    grad_scale = torch.cat([torch.full((g.numel(),), float(g.double().square().mean().sqrt())) for g in checked_grads])
    scale = _per_input_scale(problem.x, slots, [tensors[k] for k in checked])
    checker = _Checker(
        problem, analytic, grad_scale.double(), scale,
        h=h, atol=atol_used, rtol=rtol_used, eps_grad=eps_grad, eps_fn=eps_fn, generator=generator,
    )
    checker.max_mismatches = max_mismatches
    checker.estimate_noise()
    used: Literal["entries", "directions"]
    used = "entries" if mode == "entries" or (mode == "auto" and problem.size <= ENTRIES_MODE_MAX_PARAMETERS) else "directions"
    if used == "entries":
        checker.run_entries()
    else:
        checker.run_directions(n_directions)

    return GradientCheckResult(
        ok=not checker.mismatches,
        mismatches=tuple(sorted(checker.mismatches, key=lambda m: (m.input, m.index))),
        mode=used,
        parameters=problem.size,
        inputs_checked=len(slots),
        function_evaluations=problem.evaluations,
        gradient_evaluations=1,
        directional_tests=checker.directional_tests,
        entries_checked=len(checker.checked),
        eps=h,
        atol=atol_used,
        rtol=rtol_used,
        noise=checker.noise,
        dtype=dtype,
        seed=seed,
        truncated=checker.full(),
    )
