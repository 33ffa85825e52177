"""Verify a hand-written gradient against finite differences, fast and sensitively.

:func:`check_gradients` compares an analytic gradient (from ``grad_fn`` or from
``fn``'s own backward) with numerical derivatives and returns a
:class:`GradientCheckResult`; :func:`assert_gradients` raises when it is not ok.

Two modes:

* ``"entries"``: a central difference per entry (``6 P`` evaluations of ``fn``);
  used for small inputs (``P <= ENTRIES_MODE_MAX_PARAMETERS``).
* ``"directions"``: random directional derivatives detect any discrepancy with
  ``6`` evaluations per direction whatever ``P`` is.  A single wrong entry is
  then decoded: directions coded by contiguous blocks of entries tell which
  block holds it, as many blocks per probe as the failing test's
  signal-to-tolerance ratio allows, and the other detection directions narrow
  it down for free (one or two probes at 1e5 entries for a relative error of
  1e-3).  When the tests say more than one entry is wrong, group testing
  (bisection of the failing direction's support) localises them in about
  ``12 log2 P`` evaluations each.  A per-entry central difference confirms
  each wrong entry and reports its analytic and numeric values.

Every numerical derivative is a Richardson extrapolation over the steps
``h, h/2, h/4``; its tolerance is built from an error estimate (the difference
between two extrapolations, plus the evaluation noise of ``fn`` measured once by
high-order differences), never from a fixed ``eps``, so a correct gradient does
not false-alarm while an error far below ``gradcheck``'s ``rtol`` is still seen.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
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
_DECODE_MARGIN = 4.0  # decoding: codes 4/r apart, r the failing test's signal-to-tolerance ratio
_DECODE_DIRECT = 2  # decoding probes stop at this many candidates (or at r/4 with a second direction)


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

    @property
    def where(self) -> str:
        """The entry as it would be indexed, e.g. ``W1[3, 0]``."""
        return f"{self.name}[{', '.join(map(str, self.index))}]" if self.index else self.name

    def __str__(self) -> str:
        where = self.where
        return (
            f"{where}: analytic={self.analytic:+.10e} numeric={self.numeric:+.10e} "
            f"abs_error={self.abs_error:.2e} rel_error={self.rel_error:.2e}"
        )


@dataclass(frozen=True)
class GradientCheckResult:
    """What :func:`check_gradients` found.

    ``mismatches`` lists the wrong entries found (at most ``max_mismatches``;
    ``truncated`` says the search stopped there).  ``evaluations`` (alias
    ``function_evaluations``) counts every call of ``fn``, the first one that
    gives its output included; ``gradient_evaluations`` counts calls of
    ``grad_fn`` or of autograd's backward.  ``eps``, ``atol`` and ``rtol`` are
    the values used; ``noise`` is the estimated evaluation noise of the scalar
    checked.
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

    @property
    def evaluations(self) -> int:
        """Every call of ``fn`` the check made (``function_evaluations``): the cost of the check."""
        return self.function_evaluations

    def worst(self, n: int = 5) -> tuple[Mismatch, ...]:
        """The ``n`` mismatches with the largest error relative to their tolerance."""
        return tuple(sorted(self.mismatches, key=lambda m: m.severity, reverse=True)[:n])

    def __str__(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        work = f"{self.function_evaluations:,} evaluations of fn"
        if self.mode == "directions":
            work += f", {self.directional_tests} directional tests"
        settings = (
            f"mode={self.mode}, {work}, {_count(self.entries_checked, 'entry', 'entries')} checked alone; "
            f"eps={self.eps:.1e}, rtol={self.rtol:.1e}, atol={self.atol:.1e}, {dtype}, seed={self.seed}"
        )
        total = f"{_count(self.parameters, 'entry', 'entries')} in {_count(self.inputs_checked, 'input', 'inputs')}"
        if self.ok:
            return f"gradient check passed: no wrong entry among {total}\n  ({settings})"
        found = len(self.mismatches)
        count = f"at least {found}" if self.truncated else str(found)
        lines = [f"gradient check FAILED: {count} wrong of {total}; worst first:"]
        shown = self.worst(10)
        lines += [f"  {m}" for m in shown]
        if found > len(shown):
            lines.append(f"  ... and {found - len(shown)} more (see .mismatches)")
        if self.truncated:
            lines.append(f"  (the search stopped at max_mismatches={found}: more entries may be wrong)")
        lines.append(f"  ({settings})")
        return "\n".join(lines)


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


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
    """``fn`` as a scalar function of the flat vector of checked entries.

    An evaluation shifts a contiguous range of entries in place in per-input
    work buffers (restored afterwards), so it costs ``fn`` plus the range.
    """

    def __init__(
        self,
        fn: Callable[..., Tensor],
        inputs: Sequence[Tensor],
        slots: list[_Slot],
        out_direction: Tensor | None,
    ) -> None:
        self.fn = fn
        self.slots = slots
        self.out_direction = out_direction
        self.args = [x.detach() for x in inputs]
        self.base = [self.args[s.position].reshape(-1).clone() for s in slots]
        self.work = [b.clone() for b in self.base]
        for slot, buffer in zip(slots, self.work):
            self.args[slot.position] = buffer.view(slot.shape)
        self.x = torch.cat([b.double().cpu() for b in self.base])
        self.evaluations = 0

    @property
    def size(self) -> int:
        return int(self.x.numel())

    def rms(self, flat: Tensor) -> list[float]:
        """The root mean square of ``flat`` over each input's entries."""
        return [float(flat[s.offset : s.offset + s.numel].square().mean().sqrt()) for s in self.slots]

    def overall_rms(self) -> float:
        """The RMS of all checked entries, or 1 when they are all zero."""
        rms = float(self.x.square().mean().sqrt())
        return rms if rms > 0 and math.isfinite(rms) else 1.0

    def expand(self, per_input: list[float]) -> Tensor:
        """One value per input spread over that input's entries."""
        return torch.cat([torch.full((s.numel,), v, dtype=torch.float64) for s, v in zip(self.slots, per_input)])

    def scalar(self, out: Tensor) -> float:
        """The checked scalar: ``out`` itself, or ``Σ u · out`` for the output direction ``u``."""
        if self.out_direction is None:
            return float(out.double().reshape(()))
        return float((out.double() * self.out_direction).sum())

    def value_at(self, lo: int, hi: int, w: Tensor, t: float, applied: Tensor | None = None) -> float:
        """``f`` with ``t w`` added to entries ``lo:hi``; the shift really applied goes to ``applied``.

        The applied shift differs from ``t w`` by the rounding of ``x + t w``
        to each input's dtype.  On the CPU the shifted entries are written into
        the work buffers directly (no temporary tensor).
        """
        touched = []
        for k, slot in enumerate(self.slots):
            a, b = max(lo, slot.offset), min(hi, slot.offset + slot.numel)
            if a >= b:
                continue
            local = slice(a - slot.offset, b - slot.offset)
            target, x, step = self.work[k][local], self.x[a:b], w[a - lo : b - lo]
            if target.device.type == "cpu":
                moved = torch.add(x, step, alpha=t, out=target)
            else:
                moved = torch.add(x, step, alpha=t).to(target.dtype)
                target.copy_(moved)
            if applied is not None:
                torch.sub(moved, x, out=applied[a - lo : b - lo])
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
        return value

    def mismatch(self, i: int, analytic: float, numeric: float, allowed: float) -> Mismatch:
        """The :class:`Mismatch` record of flat entry i."""
        slot = next(s for s in reversed(self.slots) if s.offset <= i)
        index = _unravel(i - slot.offset, slot.shape)
        error = abs(analytic - numeric)
        relative = error / abs(numeric) if numeric else (0.0 if error == 0 else math.inf)
        return Mismatch(slot.position, index, analytic, numeric, error, relative, allowed, slot.name)


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index of entry ``flat`` of a C-contiguous tensor of ``shape``.

    (``torch.unravel_index`` imports sympy on its first call: half a second.)
    """
    index = []
    for n in reversed(shape):
        flat, j = divmod(flat, n)
        index.append(j)
    return tuple(reversed(index))


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


@dataclass(frozen=True)
class _Probe:
    """The evaluations of a directional test along w (moving entries lo:hi), kept to assess it again."""

    lo: int
    hi: int
    w: Tensor
    size: Tensor  # |w|
    steps: tuple[float, ...]
    differences: tuple[float, ...]  # f(x + t w) − f(x − t w) for each step t
    moved: Tensor  # the shift really applied, x + t w minus x − t w: one row per step


class _Checker:
    """One check in progress: the problem, the error model, and what was found so far."""

    def __init__(
        self,
        problem: _Problem,
        analytic: Tensor,
        precision: _Precision,
        max_mismatches: int | None,
        generator: torch.Generator,
    ) -> None:
        self.problem = problem
        self.analytic = analytic
        self.precision = precision
        self.h = precision.h
        self.max_mismatches = max_mismatches
        self.generator = generator
        # what directional tests compare against: the analytic gradient, with the
        # entries already checked replaced by their numeric values
        self.reference = analytic.clone()
        # a test along w allows Σ |w_i| allowance_i beyond its numerical error: the
        # rounding of each analytic entry, ~ eps × (its size + its input's RMS gradient)
        finite = torch.nan_to_num(analytic, nan=0.0, posinf=0.0, neginf=0.0)
        rounding = finite.abs() + problem.expand(problem.rms(finite))
        self.allowance = _ROUNDING_SAFETY * precision.eps_grad * rounding
        # the unit of each entry's step: its input's RMS
        self.scale = problem.expand([rms if rms > 0 else problem.overall_rms() for rms in problem.rms(problem.x)])
        self.scratch = torch.empty(problem.size, dtype=torch.float64)  # the applied shifts of a probe's f(x + t w)
        self.noise = 0.0
        self.directional_tests = 0
        self.checked: set[int] = set()
        self.mismatches: list[Mismatch] = []

    @property
    def full(self) -> bool:
        """Whether ``max_mismatches`` wrong entries have been found."""
        return self.max_mismatches is not None and len(self.mismatches) >= self.max_mismatches

    # -- directions and noise

    def direction(self) -> Tensor:
        """A random direction: signs ±1, magnitudes in [1, 2), in units of each input's RMS.

        Magnitudes of at least 1 mean a single wrong entry always shows; random
        magnitudes make two errors cancelling exactly a probability-zero event.
        """
        r = torch.rand(2, self.problem.size, generator=self.generator, dtype=torch.float64)
        signs = r[0].mul_(2.0).floor_().mul_(2.0).sub_(1.0)  # −1 where r[0] < 1/2, else 1
        return r[1].add_(1.0).mul_(signs).mul_(self.scale)

    def estimate_noise(self) -> None:
        """Measure the evaluation noise σ of ``f`` (Moré & Wild's ECnoise, 7 evaluations).

        At a spacing δ much smaller than ``h`` the k-th differences of the smooth
        part of f vanish (k ≥ 4), and iid noise of std σ leaves
        E[(Δᵏf)²] = C(2k, k) σ².  The floor is one rounding of f's value.
        """
        w = self.direction()
        delta = self.h * _NOISE_SPACING
        values = [self.problem.value_at(0, self.problem.size, w, j * delta) for j in range(-3, 4)]
        estimates = [self.precision.eps_fn * max(abs(v) for v in values)]
        diffs = values
        for k in range(1, 7):
            diffs = [b - a for a, b in zip(diffs, diffs[1:])]
            if k >= 4:
                estimates.append(math.sqrt(sum(d * d for d in diffs) / len(diffs) / math.comb(2 * k, k)))
        self.noise = max(estimates)

    # -- one directional test

    def probe(self, lo: int, hi: int, w: Tensor) -> _Probe:
        """Evaluate f along w (which moves entries lo:hi) at steps ±h, ±h/2, ±h/4: 6 evaluations."""
        steps, differences = [], []
        moved = torch.empty(3, hi - lo, dtype=torch.float64)
        plus = self.scratch[: hi - lo]
        for k in range(3):
            t = self.h / 2**k
            f_plus = self.problem.value_at(lo, hi, w, t, plus)
            f_minus = self.problem.value_at(lo, hi, w, -t, moved[k])
            torch.sub(plus, moved[k], out=moved[k])
            steps.append(t)
            differences.append(f_plus - f_minus)
        return _Probe(lo, hi, w, w.abs(), tuple(steps), tuple(differences), moved)

    def assess(self, probe: _Probe) -> _Measurement:
        """Compare the numeric derivative along a probe's direction with the reference's (no evaluation).

        Δ(t), the central difference minus the reference g·w, uses the shift
        really applied, so the rounding of x ± t·w to the inputs' dtype cancels
        out.  Central differences have error c₂t² + c₄t⁴ + …; Richardson's
        E = (4Δ(t/2) − Δ(t))/3 cancels the t² term.  Two extrapolations, E1 over
        (h, h/2) and E2 over (h/2, h/4), differ by ≈ 15/16 of E1's truncation
        error, i.e. 15 times E2's; E2's rounding error has a std of ≈ 3.8 σ/h.
        The evaluations do not depend on the reference, so a probe is assessed
        again for free once entries have been checked.
        """
        lo, hi = probe.lo, probe.hi
        reference = self.reference[lo:hi]
        d1, d2, d3 = (
            (difference - float(reference @ moved)) / (2.0 * t)
            for t, difference, moved in zip(probe.steps, probe.differences, probe.moved)
        )
        e1 = (4.0 * d2 - d1) / 3.0
        e2 = (4.0 * d3 - d2) / 3.0
        tolerance = (
            _TRUNCATION_SAFETY * abs(e2 - e1)
            + _NOISE_SAFETY * self.noise / self.h
            + float(probe.size @ self.allowance[lo:hi])
        )
        return _Measurement(lo, hi, e2, tolerance)

    def measure(self, lo: int, hi: int, w: Tensor) -> _Measurement:
        """Compare numeric and reference derivatives along w, which moves entries lo:hi (6 evaluations)."""
        return self.assess(self.probe(lo, hi, w))

    # -- entries

    def check_entry(self, i: int) -> None:
        """Measure entry i alone; record a mismatch; use its numeric value from now on."""
        step = float(self.scale[i])
        self.reference[i] = 0.0  # so the measurement is the numeric derivative itself
        m = self.measure(i, i + 1, self.scale[i : i + 1])
        analytic = float(self.analytic[i])
        numeric = m.discrepancy / step
        error = abs(analytic - numeric)
        allowed = self.precision.atol + self.precision.rtol * abs(numeric) + m.tolerance / step
        self.checked.add(i)
        self.reference[i] = numeric
        self.allowance[i] = m.tolerance / step
        if not error <= allowed:  # also true for a NaN analytic entry
            self.mismatches.append(self.problem.mismatch(i, analytic, numeric, allowed))

    def check_entries(self, entries: Iterable[int], until_passing: Sequence[_Probe] = ()) -> None:
        """Check each entry not checked yet, in order, until ``max_mismatches``.

        With ``until_passing``, also stop once a wrong entry is found and those
        probes all pass again (assessing them costs no evaluation).
        """
        for i in entries:
            if self.full:
                return
            if i not in self.checked:
                found = len(self.mismatches)
                self.check_entry(i)
                if until_passing and len(self.mismatches) > found:
                    if not any(self.assess(p).fails for p in until_passing):
                        return

    def result(self, mode: Literal["entries", "directions"], seed: int) -> GradientCheckResult:
        """What was found, as the public record."""
        return GradientCheckResult(
            ok=not self.mismatches,
            mismatches=tuple(sorted(self.mismatches, key=lambda m: (m.input, m.index))),
            mode=mode,
            parameters=self.problem.size,
            inputs_checked=len(self.problem.slots),
            function_evaluations=self.problem.evaluations,
            gradient_evaluations=1,
            directional_tests=self.directional_tests,
            entries_checked=len(self.checked),
            eps=self.h,
            atol=self.precision.atol,
            rtol=self.precision.rtol,
            noise=self.noise,
            dtype=self.precision.dtype,
            seed=seed,
            truncated=self.full,
        )

    # -- directions: detect, localise, repeat

    def run_directions(self, n_directions: int) -> None:
        """Detect with random directions; localise and check; repeat on what is left.

        Checked entries join the reference with their numeric values, and the
        detection probes are assessed again against it (no evaluation): a round
        that found wrong entries is confirmed by the same directions.  A round
        that found none draws fresh directions (a failing test may have been
        spurious, e.g. a step across a kink).  Decoding assumes one wrong entry;
        once it finds nothing, bisection takes over.  Rounds that stop making
        progress end in checking every entry.
        """
        probes = self.detection_probes(n_directions)
        decoding = True
        for _ in range(_MAX_ROUNDS):
            if self.full:
                return
            tests = [self.assess(p) for p in probes]
            k = max(range(len(tests)), key=lambda j: tests[j].ratio)
            if not tests[k].fails:
                return
            checked, found = len(self.checked), len(self.mismatches)
            decoded = self.decode(probes, tests, k) if decoding else None
            if decoded is not None:
                self.check_entries(decoded, until_passing=probes)
            else:
                self.check_entries(self.localise(tests[k], probes[k].w))
            if len(self.mismatches) == found:
                decoding = False
                if len(self.checked) == checked:
                    break
                probes = self.detection_probes(n_directions)
        if not self.full and any(self.assess(p).fails for p in self.detection_probes(n_directions)):
            self.check_entries(range(self.problem.size))

    def detection_probes(self, n_directions: int) -> list[_Probe]:
        """Probes along ``n_directions`` fresh random directions over all entries."""
        self.directional_tests += n_directions
        return [self.probe(0, self.problem.size, self.direction()) for _ in range(n_directions)]

    def decode(self, probes: list[_Probe], tests: list[_Measurement], k: int) -> list[int] | None:
        """The entries to check if a single entry is wrong, best candidate first; None if the tests say otherwise.

        If one entry j is wrong, a direction ``c ⊙ w`` (codes c on w's entries)
        has the discrepancy ``c_j D``, where ``D`` is the failing test's along w.
        The candidates are split into K contiguous blocks coded ``−1 … 1``; one
        probe (6 evaluations) keeps the blocks whose code fits the measured
        discrepancy within the two tolerances.  K grows with the failing test's
        signal-to-tolerance ratio r (K − 1 ≈ r / 4, at least 2), so a clear
        error is found in one or two probes rather than ``log2 P``.  The other
        detection tests decode for free: entry j must fit ``D' = (w'_j / w_j) D``,
        which leaves about ``2 n / r`` of n candidates, so probing stops at
        ``n ≤ r / 4`` candidates and those that fit are returned, best fit first.
        """
        root = tests[k]
        w = probes[k].w
        signal, noise = root.discrepancy, root.tolerance
        if not (math.isfinite(signal) and math.isfinite(noise)) or signal == 0:
            return None
        ratio = abs(signal) / noise if noise > 0 else math.inf
        others = [(p, t) for j, (p, t) in enumerate(zip(probes, tests)) if j != k]
        enough = max(float(_DECODE_DIRECT), ratio / _DECODE_MARGIN if others else 0.0)
        blocks_wanted = 1 + int(min(ratio / _DECODE_MARGIN, float(root.hi - root.lo)))
        lo, hi = root.lo, root.hi
        while hi - lo > enough:
            n = hi - lo
            blocks = max(2, min(n, blocks_wanted))
            bounds = [lo + g * n // blocks for g in range(blocks + 1)]
            codes = torch.linspace(-1.0, 1.0, blocks, dtype=torch.float64)
            sizes = torch.tensor([b - a for a, b in zip(bounds, bounds[1:])])
            m = self.measure(lo, hi, torch.repeat_interleave(codes, sizes) * w[lo:hi])
            self.directional_tests += 1
            if not math.isfinite(m.discrepancy):
                return None
            misfit = (m.discrepancy - codes * signal).abs()
            allowed = m.tolerance + codes.abs() * noise
            fits = torch.nonzero(misfit <= allowed).reshape(-1)
            if not fits.numel():
                return None  # no single entry explains it
            first, last = int(fits[0]), int(fits[-1])
            if first == 0 and last == blocks - 1:  # no progress: follow the best fit
                first = last = int(torch.argmin(misfit / allowed))
            lo, hi = bounds[first], bounds[last + 1]
        candidates = torch.arange(lo, hi)
        worst_fit = torch.zeros(hi - lo, dtype=torch.float64)
        for probe, test in others:
            ratios = probe.w[lo - probe.lo : hi - probe.lo] / w[lo:hi]
            fit = (test.discrepancy - ratios * signal).abs() / (test.tolerance + ratios.abs() * noise)
            worst_fit = torch.maximum(worst_fit, fit)
        kept = worst_fit <= 1.0
        order = torch.argsort(worst_fit[kept], stable=True)
        return [int(i) for i in candidates[kept][order]] or None

    def localise(self, root: _Measurement, w: Tensor) -> list[int]:
        """The entries to check, found by bisecting the failing test's support.

        Each failing subset is split in halves, tested along the same direction;
        failing halves are kept (when neither fails, the one closer to failing).
        That costs 12 evaluations per kept subset per level: about 12 k log2 P
        for k wrong entries.  A tree wider than ``_MAX_FRONTIER`` means many
        wrong entries: then every entry in it is returned.
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
                halves = [self.measure(node.lo, mid, w[node.lo : mid]), self.measure(mid, node.hi, w[mid : node.hi])]
                self.directional_tests += 2
                kept.extend([m for m in halves if m.fails] or [max(halves, key=lambda m: m.ratio)])
            frontier = kept
        return leaves


# ---------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Options:
    """The keyword arguments of :func:`check_gradients`, validated on construction."""

    eps: float | None
    atol: float | None
    rtol: float | None
    seed: int
    mode: Mode
    grad_outputs: Tensor | None
    n_directions: int
    max_mismatches: int | None
    names: Sequence[str] | None

    def __post_init__(self) -> None:
        if self.eps is not None and not (_is_number(self.eps) and 0 < self.eps < 1):
            invalid("eps", self.eps, "expected a number in (0, 1): the largest step relative to each input's RMS")
        for name, tol in (("atol", self.atol), ("rtol", self.rtol)):
            if tol is not None and not (_is_number(tol) and 0 <= tol < math.inf):
                invalid(name, tol, "expected a finite number >= 0")
        if not (_is_int(self.seed) and 0 <= self.seed < 2**63):
            invalid("seed", self.seed, "expected an int in [0, 2**63)")
        if self.mode not in _MODES:
            invalid("mode", self.mode, f"expected one of {', '.join(map(repr, _MODES))}")
        if not (_is_int(self.n_directions) and self.n_directions >= 1):
            invalid("n_directions", self.n_directions, "expected an int >= 1")
        if self.max_mismatches is not None and not (_is_int(self.max_mismatches) and self.max_mismatches >= 1):
            invalid("max_mismatches", self.max_mismatches, "expected None or an int >= 1")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_inputs(inputs: Tensor | Sequence[Tensor]) -> list[Tensor]:
    """``inputs`` as a list of floating-point tensors."""
    if not isinstance(inputs, (Tensor, list, tuple)) or not len(inputs):
        invalid("inputs", inputs, "expected a tensor or a non-empty sequence of tensors")
    listed = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for k, t in enumerate(listed):
        if not isinstance(t, Tensor):
            invalid(f"inputs[{k}]", t, "expected a tensor")
        if not t.is_floating_point():
            invalid(f"inputs[{k}].dtype", t.dtype, "expected a floating-point dtype")
    return listed


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
    bad = int((~torch.isfinite(out.detach())).sum())
    if bad:
        value = float(out) if out.numel() == 1 else f"<{bad} non-finite of {out.numel()} values>"
        invalid("fn(*inputs)", value, "expected finite values at the inputs")
    if grad_outputs is not None:
        if not isinstance(grad_outputs, Tensor) or not grad_outputs.is_floating_point():
            invalid("grad_outputs", grad_outputs, "expected a floating-point tensor")
        if grad_outputs.shape != out.shape:
            invalid("grad_outputs.shape", tuple(grad_outputs.shape), f"expected {tuple(out.shape)}, fn's output shape")
    return out


def _out_direction(
    out: Tensor, grad_outputs: Tensor | None, generator: torch.Generator, has_grad_fn: bool
) -> Tensor | None:
    """The direction u of the vector-Jacobian product checked (None: the output is the scalar)."""
    if grad_outputs is not None:
        return grad_outputs.detach().double().to(out.device)
    if out.numel() == 1:
        return None
    if has_grad_fn:
        invalid(
            "grad_outputs",
            None,
            f"fn returns shape {tuple(out.shape)}, not a scalar: pass the grad_outputs "
            "that grad_fn's vector-Jacobian product is computed for",
        )
    return torch.randn(out.shape, generator=generator, dtype=torch.float64).to(out.device)


def _validated_gradients(grads: object, inputs: list[Tensor]) -> list[Tensor | None]:
    """``grad_fn``'s result as one gradient (or None) per input, shapes checked."""
    listed = [grads] if isinstance(grads, Tensor) else grads
    if not isinstance(listed, (list, tuple)):
        invalid("grad_fn(*inputs)", grads, "expected a tensor or a tuple of tensors, one per input")
    if len(listed) != len(inputs):
        invalid("len(grad_fn(*inputs))", len(listed), f"expected {len(inputs)}, one gradient (or None) per input")
    result: list[Tensor | None] = []
    for k, (g, x) in enumerate(zip(listed, inputs)):
        if g is not None:
            if not isinstance(g, Tensor) or not g.is_floating_point():
                invalid(f"grad_fn(*inputs)[{k}]", g, "expected a floating-point tensor or None")
            if g.shape != x.shape:
                invalid(
                    f"grad_fn(*inputs)[{k}].shape",
                    tuple(g.shape),
                    f"expected {tuple(x.shape)}, the shape of inputs[{k}]",
                )
            g = g.detach()
        result.append(g)
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
    """One gradient per input (None: not checked), the output direction, and fn's output."""
    if grad_fn is not None:
        with torch.no_grad():
            out = _validated_output(fn(*inputs), grad_outputs)
        u = _out_direction(out, grad_outputs, generator, has_grad_fn=True)
        return _validated_gradients(grad_fn(*[x.detach().clone() for x in inputs]), inputs), u, out
    wanted = [k for k, x in enumerate(inputs) if x.requires_grad]
    if not wanted:
        invalid(
            "grad_fn", None, "no input requires grad: set requires_grad=True on the inputs to check, or pass grad_fn"
        )
    leaves = [x.detach().clone().requires_grad_(x.requires_grad) for x in inputs]
    out = _validated_output(fn(*leaves), grad_outputs)
    if not out.requires_grad:
        invalid(
            "fn(*inputs).requires_grad",
            False,
            "expected an output computed from the inputs by autograd, or pass grad_fn",
        )
    u = _out_direction(out, grad_outputs, generator, has_grad_fn=False)
    scalar = out.sum() if u is None else (out * u.to(out.dtype)).sum()
    found = torch.autograd.grad(scalar, [leaves[k] for k in wanted], allow_unused=True)
    grads: list[Tensor | None] = [None] * len(inputs)
    for k, g in zip(wanted, found):
        grads[k] = torch.zeros_like(inputs[k]) if g is None else g.detach()
    return grads, u, out


def _slots(inputs: list[Tensor], grads: list[Tensor | None], names: list[str]) -> list[_Slot]:
    """The checked inputs (a gradient, at least one entry) laid out in one flat vector."""
    slots, offset = [], 0
    for k, (x, g) in enumerate(zip(inputs, grads)):
        if g is not None and x.numel() > 0:
            slots.append(_Slot(k, offset, tuple(x.shape), names[k]))
            offset += x.numel()
    if not slots:
        invalid("inputs", [tuple(x.shape) for x in inputs], "expected at least one non-empty input to check")
    return slots


@dataclass(frozen=True)
class _Precision:
    """Step and tolerances derived from the dtypes involved."""

    dtype: torch.dtype  # the least precise of the checked inputs and the output
    eps_fn: float  # machine epsilon of fn's evaluation
    eps_grad: float  # machine epsilon of the analytic gradient
    h: float
    atol: float
    rtol: float

    @classmethod
    def of(
        cls,
        dtypes: list[torch.dtype],
        grad_dtypes: list[torch.dtype],
        eps: float | None,
        atol: float | None,
        rtol: float | None,
    ) -> _Precision:
        dtype = max(dtypes, key=lambda d: torch.finfo(d).eps)
        eps_fn = torch.finfo(dtype).eps
        eps_grad = max([eps_fn] + [torch.finfo(d).eps for d in grad_dtypes])
        return cls(
            dtype=dtype,
            eps_fn=eps_fn,
            eps_grad=eps_grad,
            # h⁴ truncation against σ/h rounding: optimal h ~ eps^(1/5)
            h=float(eps) if eps is not None else eps_fn**0.2,
            atol=float(atol) if atol is not None else 0.0,
            rtol=float(rtol) if rtol is not None else math.sqrt(eps_grad),
        )

    def warn_if_low(self, stacklevel: int) -> None:
        """Warn when the check cannot be as sensitive as in float64."""
        if self.eps_fn <= torch.finfo(torch.float64).eps:
            return
        name = str(self.dtype).removeprefix("torch.")
        warnings.warn(
            f"checking gradients in {name} (machine epsilon {self.eps_fn:.1e}): finite differences "
            f"in {name} only resolve errors far larger than that, so the tolerances come from {name} "
            f"precision (eps={self.h:.1e}, rtol={self.rtol:.1e}) and small errors can go unseen; "
            "use float64 inputs for a sensitive check",
            GradproofWarning,
            stacklevel=stacklevel + 1,
        )


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
        fn: maps the input tensors to a scalar tensor; or to any tensor, and
            then its vector-Jacobian product with ``grad_outputs`` (or with a
            seeded random direction) is checked.  It must not modify its inputs.
        inputs: a floating-point tensor or a sequence of them.
        grad_fn: the hand-written gradient: ``grad_fn(*inputs)`` returns one
            tensor per input (a bare tensor for one input), or ``None`` for an
            input not to check.  Without it the inputs that require grad are
            checked against ``fn``'s own backward (e.g. a custom
            ``torch.autograd.Function``).  For a non-scalar ``fn`` it returns
            the vector-Jacobian product with ``grad_outputs``.
        eps: the largest finite-difference step, relative to each input's RMS
            (default: machine epsilon ** (1/5)).
        atol, rtol: what an entry may be off beyond the estimated floating-point
            error: it is wrong when ``|analytic − numeric| > atol + rtol |numeric|
            + error``.  Defaults: ``0`` and ``sqrt(machine epsilon)``.
        seed: seeds every random direction: the result is deterministic.
        mode: ``"entries"`` (each entry by central differences), ``"directions"``
            (random directional derivatives, then group testing) or ``"auto"``
            (``"entries"`` up to ``ENTRIES_MODE_MAX_PARAMETERS`` entries).
        grad_outputs: the direction of the vector-Jacobian product, shaped
            like ``fn``'s output (required with ``grad_fn`` for non-scalar ``fn``).
        n_directions: random directions per detection round.
        max_mismatches: stop the search at this many wrong entries (None: never).
        names: one name per input for messages (default ``inputs[k]``).

    Returns:
        A :class:`GradientCheckResult`: a wrong gradient is a result, not an error.

    Raises:
        UsageError: invalid arguments, or ``fn``/``grad_fn`` not fitting them
            (wrong count or shapes of gradients, non-finite output, ...).

    Warns:
        GradproofWarning: when inputs or output are less precise than float64.
    """
    options = _Options(eps, atol, rtol, seed, mode, grad_outputs, n_directions, max_mismatches, names)
    return _check(fn, inputs, grad_fn, options, stacklevel=2)


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
    """:func:`check_gradients`, raising ``AssertionError(str(result))`` unless the result is ok."""
    options = _Options(eps, atol, rtol, seed, mode, grad_outputs, n_directions, max_mismatches, names)
    result = _check(fn, inputs, grad_fn, options, stacklevel=2)
    if not result.ok:
        raise AssertionError(str(result))
    return result


def _check(
    fn: Callable[..., Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_fn: GradFn | None,
    options: _Options,
    stacklevel: int,
) -> GradientCheckResult:
    """Validate everything, then run the check in the mode chosen."""
    if not callable(fn):
        invalid("fn", fn, "expected a callable")
    if grad_fn is not None and not callable(grad_fn):
        invalid("grad_fn", grad_fn, "expected a callable or None")
    o = options
    tensors = _as_inputs(inputs)
    names = _input_names(o.names, len(tensors))
    generator = torch.Generator().manual_seed(o.seed)

    grads, u, out = _analytic(fn, tensors, grad_fn, o.grad_outputs, generator)
    slots = _slots(tensors, grads, names)
    checked_grads = [g for g in (grads[s.position] for s in slots) if g is not None]
    precision = _Precision.of(
        [tensors[s.position].dtype for s in slots] + [out.dtype],
        [g.dtype for g in checked_grads],
        o.eps,
        o.atol,
        o.rtol,
    )
    precision.warn_if_low(stacklevel + 1)

    problem = _Problem(fn, tensors, slots, u)
    problem.evaluations = 1  # the call that gave fn's output above
    analytic = torch.cat([g.double().cpu().reshape(-1) for g in checked_grads])
    checker = _Checker(problem, analytic, precision, o.max_mismatches, generator)
    checker.estimate_noise()
    entries = o.mode == "entries" or (o.mode == "auto" and problem.size <= ENTRIES_MODE_MAX_PARAMETERS)
    if entries:
        checker.check_entries(range(problem.size))
    else:
        checker.run_directions(o.n_directions)
    return checker.result("entries" if entries else "directions", o.seed)
