"""Detection and diagnosis rates of the grader, through the real pipeline.

Two measurements:

* default (or ``--pipeline``): the mistakes of ``tests/test_mutations.py`` written as submissions
  to the default assignment (mlp-4-3-1: script and function style, module and notebook) and graded
  by the real pipeline.  Per planted check: *detected* (the check fails) and *named* (its diagnosis
  id is the one the suite plants, exactly); every miss listed; then the correct variants (any
  failing or diagnosed check is a false alarm).
* ``--assignment NAME`` (repeatable; ``all``: every built-in course assignment with a
  ``bench/planted/<name>/PLANTED.toml``): the held-out planted-bug corpus of a course assignment
  (hand-written single-mistake submissions and correct variants, labelled in ``PLANTED.toml``;
  see ``bench/planted_corpus.py``), each file graded by the real pipeline
  (:func:`harness.grade.grade_submission`).  *Detected*: the labelled check fails.  *Named
  exactly*: its diagnosis id is the planted kind (a pair ``a+b`` in either order).  *Named
  anything*: it has a diagnosis.  Then every miss (``file: check: expected kind, got id or none
  (message)``), the correct variants blamed (a failing check or any diagnosis), and the cost of
  diagnosing one failing check: the diagnosis call timed in-process on each failing check's
  evidence.  Without ``--pipeline``, ``--assignment`` replaces the default run.

    python bench/diagnosis_rates.py [--jobs 2]
    python bench/diagnosis_rates.py --assignment all [--pipeline]
    python bench/diagnosis_rates.py --assignment two-layer-softmax --assignment mlp-class
"""

# ruff: noqa: E402  (the imports follow the sys.path set-up)

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from planted_corpus import PLANTED, corpus_names, load

from harness.definition import load_assignment


def bench_pipeline(jobs: int) -> None:
    from test_mutations import plant  # the mutation suite's templates

    from harness.grade import grade_submission
    from harness.run.pool import Pool

    assignment = load_assignment(None)
    gc.collect()
    gc.freeze()  # as the grader's processes do (see bench_assignment)
    spent: list[float] = []
    cpu: list[float] = []
    names: list[str] = []
    which: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        planted = plant(Path(folder))
        started = time.perf_counter()
        verdicts = []
        with Pool(jobs) as pool, timed_diagnosis(spent, names, cpu=cpu):
            for p in planted:
                done = len(names)
                verdicts.append(grade_submission(p.path, pool, assignment).to_data())
                which += [f"{p.path.name}: {c}" for c in names[done:]]
        elapsed = time.perf_counter() - started
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # planted checks, failed, named
    by_id: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # planted, named exactly
    false_alarms = checked = 0
    misses: list[str] = []
    for p, v in zip(planted, verdicts):
        checks = {c["name"]: c for c in v["checks"]}
        if not p.mistake:
            checked += len(checks)
            false_alarms += sum(c["status"] != "pass" or c["diagnosis"] is not None for c in checks.values())
            continue
        for name, want in p.expected.items():
            got = checks[name]["diagnosis"]["id"] if checks[name]["diagnosis"] else None
            row = rows[(p.style, p.kind)]
            row[0] += 1
            row[1] += checks[name]["status"] != "pass"
            row[2] += got == want
            by_id[want][0] += 1
            by_id[want][1] += got == want
            if got != want:
                misses.append(f"{p.path.name}: {name}: expected {want}, got {got} ({_short(checks[name]['message'])})")
    total = sum(r[0] for r in rows.values())
    print(f"mlp-4-3-1 mutation suite: {len(planted)} generated submissions graded in {elapsed:.1f} s ({jobs} jobs)")
    print(f"{'style':<10}{'kind':<10}{'planted checks':>15}{'detected':>10}{'named':>8}")
    for (style, kind), (n, failed, named) in sorted(rows.items()):
        print(f"{style:<10}{kind:<10}{n:>15}{failed / n:>10.1%}{named / n:>8.1%}")
    detected = sum(r[1] for r in rows.values())
    named = sum(r[2] for r in rows.values())
    print(f"{'all':<20}{total:>15}{detected / max(total, 1):>10.1%}{named / max(total, 1):>8.1%}")
    print("named exactly by id: " + ", ".join(f"{i} {n}/{d}" for i, (d, n) in sorted(by_id.items())))
    for line in misses:
        print(f"  miss: {line}")
    print(f"correct variants: {false_alarms} failing or diagnosed checks of {checked}")
    if spent:
        slowest = max(range(len(spent)), key=spent.__getitem__)
        busiest = max(range(len(cpu)), key=cpu.__getitem__)
        print(
            f"diagnosis of one failing check: median {statistics.median(spent):.2f} ms, max {spent[slowest]:.2f} ms "
            f"({len(spent)} failing checks; the slowest: {which[slowest]}; load average {_load()})"
        )
        print(
            f"  CPU of the diagnosing thread: median {statistics.median(cpu):.2f} ms, max {cpu[busiest]:.2f} ms "
            f"({which[busiest]})"
        )


@contextmanager
def timed_diagnosis(
    spent: list[float],
    which: list[str] | None = None,
    collecting: list[float] | None = None,
    cpu: list[float] | None = None,
) -> Iterator[None]:
    """While it lasts, the pipeline's diagnosis call is timed (ms) on every failing check with evidence
    (``which``: the check's name, ``collecting``: the ms of it the garbage collector ran, ``cpu``: the
    CPU ms of the diagnosing thread, what a busy machine does not stretch; in the same order)."""
    import harness.grade as grade

    original = grade.diagnose_check
    collected = [0.0, 0.0]  # ms collecting since the diagnosis began, the start of the running collection

    def collector(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collected[1] = time.perf_counter()
        else:
            collected[0] += 1e3 * (time.perf_counter() - collected[1])

    def timing(result: Any) -> Any:
        if result.evidence is None or result.status == "pass":
            return original(result)
        collected[0] = 0.0
        started, busy = time.perf_counter(), time.thread_time()
        try:
            return original(result)
        finally:
            spent.append(1e3 * (time.perf_counter() - started))
            if cpu is not None:
                cpu.append(1e3 * (time.thread_time() - busy))
            if which is not None:
                which.append(result.name)
            if collecting is not None:
                collecting.append(collected[0])

    grade.diagnose_check = timing
    gc.callbacks.append(collector)
    try:
        yield
    finally:
        grade.diagnose_check = original
        gc.callbacks.remove(collector)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "unknown"


def planted_names(asked: list[str]) -> list[str]:
    """The assignments asked for; ``all``: every built-in course assignment with a corpus."""
    from harness.definition import built_in_names

    built_in = set(built_in_names())
    with_corpus = [n for n in corpus_names() if n in built_in]
    names: list[str] = []
    for name in asked:
        for n in with_corpus if name == "all" else [name]:
            if n not in with_corpus:
                raise SystemExit(f"--assignment {n}: no built-in assignment with {PLANTED / n / 'PLANTED.toml'}")
            if n not in names:
                names.append(n)
    return names


def _short(text: str | None, width: int = 110) -> str:
    one = " ".join((text or "").split())
    return one if len(one) <= width else one[: width - 3] + "..."


def bench_assignment(name: str, jobs: int) -> dict[str, int]:
    """Grade one assignment's planted corpus and print its rates; returns the counts."""
    from harness.grade import grade_submission
    from harness.run.pool import Pool

    assignment = load_assignment(name)
    corpus = load(name)
    # As the grader's processes do (harness.run.pool.first_import): what is alive now (torch's
    # ~150,000 objects, the earlier corpora's verdicts) is never searched for cycles again, so that
    # a full collection falling inside a timed diagnosis does not add 0.1-0.3 s of traversing them.
    gc.collect()
    gc.freeze()
    spent: list[float] = []
    which: list[str] = []  # "file: check" of each timed diagnosis
    verdicts: dict[str, Any] = {}
    started = time.perf_counter()
    checks: list[str] = []
    collecting: list[float] = []
    cpu: list[float] = []
    with Pool(jobs) as pool, timed_diagnosis(spent, checks, collecting, cpu):
        for entry in corpus:
            done = len(checks)
            verdicts[entry.file] = grade_submission(PLANTED / name / entry.file, pool, assignment)
            which += [f"{entry.file}: {c}" for c in checks[done:]]
    elapsed = time.perf_counter() - started
    bugs = [e for e in corpus if not e.correct]
    right = [e for e in corpus if e.correct]
    counts: dict[str, int] = defaultdict(int)
    misses: list[str] = []
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # named exactly, planted
    for e in bugs:
        v = verdicts[e.file]
        checks = {c.name: c for c in v.checks}
        c = checks.get(e.check or "")
        by_kind[e.kind][1] += 1
        if v.status != "graded" or c is None:
            misses.append(f"{e.file}: {e.check}: expected {e.kind}, got none (not graded: {_short(v.error)})")
            continue
        failed = c.status != "pass"
        counts["detected"] += failed
        found = c.diagnosis.id if c.diagnosis is not None else None
        counts["named"] += found is not None
        exact = e.named_by(found)
        counts["exact"] += exact
        by_kind[e.kind][0] += exact
        if not exact:
            if not failed:
                misses.append(f"{e.file}: {e.check}: expected {e.kind}, got none (the check passes)")
            else:
                why = c.diagnosis.message if c.diagnosis is not None else c.message
                misses.append(f"{e.file}: {e.check}: expected {e.kind}, got {found or 'none'} ({_short(why)})")
    blamed_files = blamed_checks = checked = 0
    blamed: list[str] = []
    for e in right:
        v = verdicts[e.file]
        bad = [c for c in v.checks if c.status != "pass" or c.diagnosis is not None]
        checked += len(v.checks)
        blamed_checks += len(bad)
        if v.status != "graded" or bad:
            blamed_files += 1
            what = ", ".join(f"{c.name} {c.status} {c.diagnosis.id if c.diagnosis else 'none'}" for c in bad)
            blamed.append(f"{e.file}: {what or _short(v.error)}")
    n = len(bugs) or 1
    print(f"{name}: {len(bugs)} planted bugs, {len(right)} correct variants, graded in {elapsed:.1f} s")
    print(
        f"  detected        {counts['detected']:>3}/{len(bugs)} {counts['detected'] / n:>7.1%}  (the labelled check fails)"
    )
    print(
        f"  named exactly   {counts['exact']:>3}/{len(bugs)} {counts['exact'] / n:>7.1%}  (its diagnosis id == the kind)"
    )
    print(f"  named anything  {counts['named']:>3}/{len(bugs)} {counts['named'] / n:>7.1%}  (it has a diagnosis)")
    print(
        f"  correct variants blamed: {blamed_files} of {len(right)} "
        f"({blamed_checks} failing or diagnosed checks of {checked})"
    )
    for line in blamed:
        print(f"    {line}")
    if spent:
        print(
            f"  diagnosis of one failing check: median {statistics.median(spent):.2f} ms, "
            f"max {max(spent):.2f} ms ({len(spent)} failing checks; the slowest: {which[spent.index(max(spent))]}; "
            f"load average {_load()})"
        )
        own = [t - c for t, c in zip(spent, collecting)]
        print(
            f"    without the garbage collections that fell inside one: max {max(own):.2f} ms "
            f"({which[own.index(max(own))]}); collecting, in all: {sum(collecting):.0f} ms"
        )
        print(
            f"    CPU of the diagnosing thread (torch on one thread): median {statistics.median(cpu):.2f} ms, "
            f"max {max(cpu):.2f} ms ({which[cpu.index(max(cpu))]})"
        )
    else:
        print("  diagnosis of one failing check: no failing check had evidence")
    print("  named exactly by kind: " + ", ".join(f"{k} {x}/{t}" for k, (x, t) in sorted(by_kind.items())))
    print(f"  misses ({len(misses)}):")
    for line in misses:
        print(f"    {line}")
    return {"bugs": len(bugs), "correct": len(right), "blamed": blamed_files, **counts}


def bench_assignments(names: list[str], jobs: int) -> None:
    totals: dict[str, int] = defaultdict(int)
    for i, name in enumerate(names):
        if i:
            print()
        for k, v in bench_assignment(name, jobs).items():
            totals[k] += v
    if len(names) > 1:
        n = totals["bugs"] or 1
        print()
        print(
            f"all {len(names)} assignments: {totals['bugs']} planted bugs, detected {totals['detected'] / n:.1%}, "
            f"named exactly {totals['exact'] / n:.1%}, named anything {totals['named'] / n:.1%}; "
            f"correct variants blamed {totals['blamed']} of {totals['correct']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", action="store_true", help="with --assignment: the mutation suite too")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--assignment",
        action="append",
        default=[],
        metavar="NAME",
        help="grade bench/planted/NAME/ (repeatable; 'all': every course assignment with a corpus)",
    )
    args = parser.parse_args()
    names = planted_names(args.assignment)
    if args.pipeline or not names:
        bench_pipeline(args.jobs)
    if names:
        if args.pipeline:
            print()
        bench_assignments(names, args.jobs)


if __name__ == "__main__":
    main()
