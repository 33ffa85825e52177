"""Start-up of the CLI on one notebook against the floor, ``python -c "import torch"``, in one run.

    python bench/startup.py [--repeat 7] [--sandbox auto] [--against DIR] [FILE]

Runs, as fresh processes, round-robin (so that a change of load hits every command alike),
``--repeat`` times each:

1. **import torch**: ``python -c "import torch"``, the baseline: a command that grades anything
   with torch cannot start faster than this.
2. **grade**: ``gradproof grade FILE --out TMP --quiet`` (a fresh ``TMP`` each time: no journal
   to resume).
3. **selftest**: ``gradproof selftest FILE``.
4. **--version**: ``gradproof --version``, the CLI's own torch-free imports (for reference only).

``gradproof`` is the console entry point, ``harness.cli:run`` (click's standalone mode, then
``os._exit``), run as ``python -c "from harness.cli import run; run()"`` with this checkout
first on ``PYTHONPATH``, so that the bench measures this source tree whatever is installed.
``--against DIR`` times grade and selftest of another source tree too (``git worktree add DIR
COMMIT``, or ``git archive COMMIT | tar -x -C DIR``), in the same rounds: a before/after under
the same load.  FILE defaults to ``submissions/correct_notebook_classic.ipynb``.

Printed: the median wall-clock seconds of each (and every repeat), each median's ratio to the
baseline's median, the median of each round's own ratio ("paired": the load of the moment
divides out), the median CPU seconds of the command with the processes it started and
reaped (what a loaded machine must find cores for; a worker inside bubblewrap's pid namespace
is not among them, so compare it with ``--sandbox off``), and the goals (grade ≤ 1.5×, selftest ≤ 1.25×, judged on the ratio of the
medians), met or not.  A benchmark, not a test: the numbers depend on the machine and its load;
compare figures from one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "submissions" / "correct_notebook_classic.ipynb"
GOALS = {"grade": 1.5, "selftest": 1.25}
CLI = [sys.executable, "-c", "from harness.cli import run; run()"]
BASELINE = "import torch"


def environment(root: Path) -> dict[str, str]:
    """The environment that makes ``harness`` of ``root`` the one imported."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process reaped so far, theirs included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str], ok: tuple[int, ...]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of the command and every process it started)."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tempfile.gettempdir(), env=env)
    elapsed = time.perf_counter() - started
    if done.returncode not in ok:
        tail = done.stderr.decode(errors="replace")[-1000:]
        raise SystemExit(f"{' '.join(argv)} exited with {done.returncode}: {tail}")
    return elapsed, children_cpu() - cpu


class Command:
    """One row of the table: how to make its command line (afresh each time), where it runs from."""

    def __init__(self, label: str, make: Callable[[], list[str]], env: dict[str, str], ok: tuple[int, ...] = (0,)):
        self.label, self.make, self.env, self.ok = label, make, env, ok
        self.times: list[float] = []
        self.cpu: list[float] = []

    def run(self) -> None:
        wall, cpu = timed(self.make(), self.env, self.ok)
        self.times.append(wall)
        self.cpu.append(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE, help="the notebook (or .py) to grade")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command (the median is reported; ≥ 5)")
    parser.add_argument("--sandbox", choices=["auto", "require", "off"], default="auto")
    parser.add_argument("--against", type=Path, default=None, help="another source tree to time in the same rounds")
    parser.add_argument("--skip-version", action="store_true", help="do not time gradproof --version")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be ≥ 1")
    file = args.file.resolve()
    trees = [("", ROOT)] + ([(f" [{args.against}]", args.against.resolve())] if args.against else [])
    if args.against and not (args.against / "harness" / "cli.py").is_file():
        parser.error(f"--against {args.against}: no harness/cli.py there")

    with tempfile.TemporaryDirectory(prefix="gradproof-startup-") as tmp:
        runs = iter(range(1_000_000))

        def grade() -> list[str]:
            out = Path(tmp) / f"out{next(runs)}"
            return [*CLI, "grade", str(file), "--out", str(out), "--sandbox", args.sandbox, "--quiet"]

        def selftest() -> list[str]:
            return [*CLI, "selftest", str(file), "--sandbox", args.sandbox]

        commands = [Command(BASELINE, lambda: [sys.executable, "-c", "import torch"], environment(ROOT))]
        for suffix, root in trees:
            commands.append(Command("grade" + suffix, grade, environment(root)))
            commands.append(Command("selftest" + suffix, selftest, environment(root), ok=(0, 1)))
        if not args.skip_version:
            commands.append(Command("--version", lambda: [*CLI, "--version"], environment(ROOT)))
        print(
            f"{args.repeat} runs of each, round-robin, fresh processes; {os.cpu_count()} CPUs; "
            f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}\n"
            f'  {BASELINE:<12}  python -c "import torch"\n'
            f"  {'grade':<12}  gradproof grade {file.name} --out TMP --sandbox {args.sandbox} --quiet\n"
            f"  {'selftest':<12}  gradproof selftest {file.name} --sandbox {args.sandbox}\n"
            f"  {'--version':<12}  gradproof --version\n"
            f"  (gradproof: {' '.join(CLI[1:2])} 'from harness.cli import run; run()', this tree on PYTHONPATH)",
            flush=True,
        )
        for command in commands:  # warm the page cache for every command
            command.run()
            command.times.clear()
            command.cpu.clear()
        for _ in range(args.repeat):
            for command in commands:
                command.run()
                for old in Path(tmp).glob("out*"):
                    shutil.rmtree(old, ignore_errors=True)
        print(f"  load average at the end {os.getloadavg()[0]:.2f}")

    baseline = commands[0].times
    base = statistics.median(baseline)
    width = max(len(c.label) for c in commands)
    print(
        f"\n{'command':<{width}}  {'median s':>8}  {'x torch':>7}  {'paired':>6}  {'goal':<16}  {'cpu s':>5}  runs (s)"
    )
    met = True
    for command in commands:
        median = statistics.median(command.times)
        paired = statistics.median(v / t for v, t in zip(command.times, baseline, strict=True))
        goal = GOALS.get(command.label)
        verdict = ""
        if goal is not None:
            ratio_ok = median / base <= goal
            met = met and ratio_ok
            verdict = f"<= {goal:g}x {'met' if ratio_ok else 'NOT met'}"
        print(
            f"{command.label:<{width}}  {median:>8.3f}  {median / base:>6.2f}x  {paired:>5.2f}x  {verdict:<16}  "
            f"{statistics.median(command.cpu):>5.2f}  " + ", ".join(f"{v:.2f}" for v in command.times)
        )
    print(
        f"\ngoals of this tree (ratio of medians; grade <= {GOALS['grade']:g}x, selftest <= {GOALS['selftest']:g}x "
        f"import torch): {'met' if met else 'NOT met'}"
        + ("" if args.sandbox == "off" else "; cpu s leaves out a worker inside bubblewrap (see --sandbox off)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
