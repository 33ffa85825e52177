"""Two gradproof source trees, one batch, alternated: which grades faster through the CLI.

    git archive BASE | tar -x -C /tmp/base
    python bench/versus.py /tmp/base . [--count 100] [--rounds 6]

On a shared machine the load drifts by the minute, so a bench run before a change and another
after it compare two machines.  This runs ``gradproof grade`` (sandboxed, reports written) of
each tree in turn, A B, B A, A B, ... on the same batch (made as ``bench/throughput.py`` makes
it), and prints each round's wall time and steady-state rate (from the first fifth's last
verdict to the process's end, so the reports count), then the means and their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import CLI_MAIN, make_batch  # the bench's folder, put on the path above


def grade(tree: Path, batch: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, steady-state submissions/s) of one ``gradproof grade`` of ``tree``."""
    argv = [sys.executable, "-c", CLI_MAIN, "grade", str(batch), "--out", str(out)]
    started = time.monotonic()
    proc = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    stamps = [time.monotonic() for _ in proc.stdout]  # a line per verdict, then the last line
    if proc.wait() != 0:
        raise RuntimeError(f"{tree}: gradproof grade failed")
    ended = time.monotonic()
    n = len(stamps) - 1
    k = max(1, n // 5)
    return ended - started, (n - k) / (ended - stamps[k - 1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="a source tree (the base)")
    parser.add_argument("b", type=Path, help="another (the change)")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    trees = [args.a.resolve(), args.b.resolve()]
    results: dict[Path, list[tuple[float, float]]] = {t: [] for t in trees}
    with tempfile.TemporaryDirectory(prefix="gradproof-versus-") as tmp:
        batch = Path(tmp) / "batch"
        batch.mkdir()
        make_batch(batch, args.count)
        for r in range(args.rounds):
            for tree in trees if r % 2 == 0 else trees[::-1]:
                wall, steady = grade(tree, batch, Path(tmp) / f"out-{r}-{trees.index(tree)}")
                results[tree].append((wall, steady))
                load = Path("/proc/loadavg").read_text().split()[0]
                print(
                    f"round {r} {tree}: {wall:.2f} s, steady {steady:.2f}/s (reports included), load {load}", flush=True
                )
    means = {t: (sum(w for w, _ in xs) / len(xs), sum(s for _, s in xs) / len(xs)) for t, xs in results.items()}
    for tree, (wall, steady) in means.items():
        print(f"{tree}: mean {wall:.2f} s, mean steady {steady:.2f}/s over {len(results[tree])} runs")
    (wa, sa), (wb, sb) = means[trees[0]], means[trees[1]]
    print(f"b / a: steady rate {sb / sa:.2f}x, wall {wb / wa:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
