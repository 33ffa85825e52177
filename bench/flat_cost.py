"""Flat cost per submission: ``gradproof grade`` on 100, 1,000, 10,000 copies, time and peak memory.

    python bench/flat_cost.py [--sizes 100,1000] [--jobs N] [--sandbox auto] [--formats json,md]

Each size is one ``gradproof grade FOLDER --out OUT`` in its own process (the CLI as course
staff run it: sandboxed where bubblewrap works, every report written), on a batch made as
``bench/throughput.py`` makes it (copies of the classic notebook, one in six another bundled
notebook, each copy its own digest).  Printed per size: the wall time, the time per
submission, the peak resident memory of the grader's own process (its ``VmHWM``) and the peak
of the resident memory of the whole tree (the grader, its grader processes, their workers and
children; sampled from ``/proc`` every 0.2 s; shared pages such as torch's are counted once per
process, so the sum is an upper bound), and the ratio of each size's time to ten times the
previous one's (the goal: 10,000 in at most 1.1 x 10 x the time of 1,000).

The default sizes are 100 and 1,000 (a 10,000 run takes tens of minutes on 2 cores at
~10 submissions/s): ``--sizes 100,1000,10000`` for the full set.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import CLI_MAIN, ROOT, make_batch  # the bench's folder, put on the path above


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in KiB (empty once it is gone)."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith((b"VmRSS:", b"VmHWM:")):
                    key, value = line.split(b":", 1)
                    found[key.decode()] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return found


def _tree(root: int) -> list[int]:
    """``root`` and every live process below it."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                parents[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    below, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent and pid not in below]
        below.update(kids)
        frontier.extend(kids)
    return sorted(below)


class _Sampler(threading.Thread):
    """Samples the tree's resident memory until told to stop."""

    def __init__(self, root: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.tree_peak_kib = 0
        self.parent_peak_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            total = 0
            for pid in _tree(self.root):
                status = _status(pid)
                total += status.get("VmRSS", 0)
                if pid == self.root:
                    self.parent_peak_kib = max(self.parent_peak_kib, status.get("VmHWM", 0))
            self.tree_peak_kib = max(self.tree_peak_kib, total)
            self.done.wait(self.every)


def grade(folder: Path, out: Path, jobs: int, sandbox: str, formats: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    argv = [sys.executable, "-c", CLI_MAIN, "grade", str(folder), "--out", str(out), "--jobs", str(jobs)]
    argv += ["--sandbox", sandbox, "--format", formats, "--quiet"]
    started = time.monotonic()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        sampler = _Sampler(proc.pid)
        sampler.start()
        code = proc.wait()
        elapsed = time.monotonic() - started
        sampler.done.set()
        sampler.join()
        if code != 0:
            errors.seek(0)
            raise RuntimeError(f"gradproof grade exited {code}: {errors.read().decode(errors='replace')[-2000:]}")
    return {"elapsed": elapsed, "parent_mib": sampler.parent_peak_kib / 1024, "tree_mib": sampler.tree_peak_kib / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="100,1000", help="comma-separated batch sizes (the full set: 100,1000,10000)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sandbox", choices=["auto", "require", "off"], default="auto")
    parser.add_argument("--formats", default="json,md", help="the CLI's --format (the reports it writes)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"gradproof grade, {args.jobs} jobs, sandbox {args.sandbox}, reports {args.formats}; {os.cpu_count()} CPUs")
    print(
        f"{'copies':>7} {'seconds':>9} {'ms each':>8} {'vs 10x previous':>16} {'grader MiB':>11} {'tree MiB':>9}  load"
    )
    previous: tuple[int, float] | None = None
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="gradproof-flat-") as tmp:
            folder = Path(tmp) / "batch"
            folder.mkdir()
            make_batch(folder, size)
            got = grade(folder, Path(tmp) / "out", args.jobs, args.sandbox, args.formats)
        ratio = ""
        if previous is not None:
            ratio = f"{got['elapsed'] / (previous[1] * size / previous[0]):.2f}x"
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(
            f"{size:>7} {got['elapsed']:>9.1f} {got['elapsed'] / size * 1000:>8.1f} {ratio:>16} "
            f"{got['parent_mib']:>11.0f} {got['tree_mib']:>9.0f}  {load}",
            flush=True,
        )
        previous = (size, got["elapsed"])
    print("goal: 10,000 in <= 1.1 x 10 x the time of 1,000, the grader's memory bounded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
