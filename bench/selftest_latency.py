"""Self-test latency against the floor, ``python -c "import torch"``.

    python bench/selftest_latency.py [--repeat 5] [FILE]

Runs ``gradproof selftest FILE`` (default: submissions/correct_script.py) and
``python -c "import torch"`` alternately, ``--repeat`` times each, as fresh
processes, and prints the median wall-clock times and their ratio (goal
≤ 1.25: a self-test should cost about one torch import).  A benchmark, not a
test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/tmp")
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited with {done.returncode}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", default=str(ROOT / "submissions" / "correct_script.py"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    selftest = [sys.executable, "-c", "from harness.cli import run; run()", "selftest", str(Path(args.file).resolve())]
    floor = [sys.executable, "-c", "import torch"]
    timed(floor)  # warm the page cache for both
    timed(selftest)
    torch_s: list[float] = []
    selftest_s: list[float] = []
    for _ in range(args.repeat):
        torch_s.append(timed(floor))
        selftest_s.append(timed(selftest))
    t, s = statistics.median(torch_s), statistics.median(selftest_s)
    print(f"python -c 'import torch': median {t:.3f} s  ({', '.join(f'{x:.2f}' for x in torch_s)})")
    print(f"gradproof selftest:       median {s:.3f} s  ({', '.join(f'{x:.2f}' for x in selftest_s)})")
    print(f"ratio selftest / import torch: {s / t:.2f}  (goal <= 1.25)")


if __name__ == "__main__":
    main()
