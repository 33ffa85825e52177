"""Detection and diagnosis rates over the mutant catalogue.

Two measurements:

* ``catalogue`` (default): every mutant of every key is planted on many
  random problems (the notebook's 4-3-1 network with target 0, and generic
  networks of other sizes), rounded to float32 like a student's numbers.
  *Detected*: the check's comparison fails.  *Named*: :func:`diagnose` gives the
  planted mutant's id.  *Exact*: it names that very mutant.  *Coincident*:
  it names another mutant that gives the same numbers on that input (the
  data cannot tell them apart).  The right values, rounded the same way, are
  diagnosed too: every diagnosis there is a false alarm.
* ``--pipeline``: the mistakes of ``tests/test_mutations.py`` written as
  submissions (script and function style, module and notebook) and graded
  by the real pipeline; rates per planted check, plus the correct variants.

    python bench/diagnosis_rates.py [--problems 12] [--pipeline] [--jobs 2]
"""

# ruff: noqa: E402  (the imports follow the sys.path set-up)

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from harness.check.compare import compare
from harness.diagnose.catalogue import catalogue
from harness.diagnose.engine import diagnose, explain
from harness.diagnose.evidence import Case, expected_of, matches
from harness.records.assignment import Assignment
from harness.records.problem import Problem
from harness.truth import truth_of

KEYS = ("dE_dW1", "dE_dW2", "Y_cap", "H", "O", "E", "sigmoid", "sigmoid_grad")
SIZES = ((4, 3, 1), (4, 3, 1), (3, 4, 2), (2, 5, 3), (3, 3, 1), (5, 2, 2))


def problems(count: int, seed: int = 7) -> list[tuple[Problem, dict[str, object]]]:
    gen = torch.Generator().manual_seed(seed)
    found = []
    for i in range(count):
        n_in, n_h, n_out = SIZES[i % len(SIZES)]
        notebook = i % len(SIZES) == 0

        def draw(*shape: int, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
            return low + (high - low) * torch.rand(*shape, generator=gen, dtype=torch.float64)

        W1 = draw(n_in, n_h, low=0.0) if notebook else draw(n_in, n_h)
        W2 = draw(n_h, n_out, low=0.0) if notebook else draw(n_h, n_out)
        Y = torch.zeros(1, n_out, dtype=torch.float64) if notebook else draw(1, n_out, low=0.0, high=1.0)
        p = Problem(X=draw(n_in, 1, low=0.1, high=1.0), Y=Y, W1=W1, W2=W2, dtype="float32")
        context = {
            "lr": 0.1,
            "own_y_cap": draw(1, n_out, low=0.05, high=0.95),
            "z": draw(n_h, 1, low=-4, high=4),
            "h": draw(n_h, 1, low=0.05, high=0.95),
        }
        found.append((p, context))
    return found


def f32(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.float32).to(torch.float64)


def bench_catalogue(count: int) -> None:
    tol = Assignment().tolerance("float32")
    cases = [(p, truth_of(p), ctx) for p, ctx in problems(count)]
    print(f"catalogue: every mutant planted on {count} problems (float32), sizes {sorted(set(SIZES))}")
    print(
        f"{'key':<13}{'mutants':>8}{'planted':>9}{'detected':>10}{'named':>8}{'exact':>8}{'coincident':>11}"
        f"{'wrong':>7}{'none':>7}{'ms/diag':>9}"
    )
    totals: dict[str, int] = defaultdict(int)
    by_id: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false_alarms = 0
    for key in KEYS:
        counts: dict[str, int] = defaultdict(int)
        spent = 0.0
        for p, t, ctx in cases:
            base = Case(t.grads.dE_dW1, p, t, dict(ctx))
            right = expected_of(key, base)
            assert right is not None
            if diagnose(key, f32(right), p, t, **ctx) is not None:
                false_alarms += 1
            for m in catalogue(key):
                value = m.rule(base)
                if value is None:
                    continue
                value = f32(value.reshape(right.shape))
                counts["planted"] += 1
                if compare(value, right, tol).ok:
                    continue  # equal to the truth at this input: nothing to detect
                counts["detected"] += 1
                started = time.perf_counter()
                found = explain(key, value, p, t, **ctx)
                spent += time.perf_counter() - started
                by_id[m.id][1] += 1
                if found is None:
                    counts["none"] += 1
                    continue
                if found.diagnosis.id == m.id:
                    counts["named"] += 1
                    by_id[m.id][0] += 1
                if found.mutant == m.name:
                    counts["exact"] += 1
                    continue
                other = next((x for x in catalogue(key) if x.name == found.mutant), None)
                alt = other.rule(base) if other is not None else None
                if alt is not None and matches(f32(alt.reshape(right.shape)), value, 1e-3):
                    counts["coincident"] += 1
                else:
                    counts["wrong"] += 1
        det = counts["detected"] or 1
        print(
            f"{key:<13}{len(catalogue(key)):>8}{counts['planted']:>9}"
            f"{counts['detected'] / max(counts['planted'], 1):>10.1%}{counts['named'] / det:>8.1%}"
            f"{counts['exact'] / det:>8.1%}{counts['coincident'] / det:>11.1%}{counts['wrong'] / det:>7.1%}"
            f"{counts['none'] / det:>7.1%}{1e3 * spent / det:>9.2f}"
        )
        for k, v in counts.items():
            totals[k] += v
    det = totals["detected"] or 1
    print(
        f"{'all':<13}{'':>8}{totals['planted']:>9}{totals['detected'] / max(totals['planted'], 1):>10.1%}"
        f"{totals['named'] / det:>8.1%}{totals['exact'] / det:>8.1%}{totals['coincident'] / det:>11.1%}"
        f"{totals['wrong'] / det:>7.1%}{totals['none'] / det:>7.1%}"
    )
    print(f"false alarms on the right values: {false_alarms} of {len(cases) * len(KEYS)}")
    print("named rate by id: " + ", ".join(f"{i} {n / max(d, 1):.0%}" for i, (n, d) in sorted(by_id.items())))


def bench_pipeline(jobs: int) -> None:
    from test_mutations import plant  # the mutation suite's templates

    from harness.batch import grade_batch

    with tempfile.TemporaryDirectory() as folder:
        planted = plant(Path(folder))
        started = time.perf_counter()
        verdicts = grade_batch([p.path for p in planted], jobs=jobs)
        elapsed = time.perf_counter() - started
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # planted checks, failed, named
    false_alarms = checked = 0
    for p, v in zip(planted, verdicts):
        checks = {c["name"]: c for c in v["checks"]}
        if not p.mistake:
            checked += len(checks)
            false_alarms += sum(c["status"] != "pass" or c["diagnosis"] is not None for c in checks.values())
            continue
        for name, want in p.expected.items():
            row = rows[(p.style, p.kind)]
            row[0] += 1
            row[1] += checks[name]["status"] != "pass"
            row[2] += bool(checks[name]["diagnosis"]) and checks[name]["diagnosis"]["id"] == want
    print(f"pipeline: {len(planted)} generated submissions graded in {elapsed:.1f} s ({jobs} jobs)")
    print(f"{'style':<10}{'kind':<10}{'planted checks':>15}{'detected':>10}{'named':>8}")
    for (style, kind), (n, failed, named) in sorted(rows.items()):
        print(f"{style:<10}{kind:<10}{n:>15}{failed / n:>10.1%}{named / n:>8.1%}")
    print(f"correct variants: {false_alarms} failing or diagnosed checks of {checked}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=12, help="random problems per mutant [12]")
    parser.add_argument("--pipeline", action="store_true", help="also grade the mutation suite's submissions")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    bench_catalogue(args.problems)
    if args.pipeline:
        print()
        bench_pipeline(args.jobs)


if __name__ == "__main__":
    main()
