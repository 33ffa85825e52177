"""Throughput of grading one batch of notebooks, three ways, in one run.

    python bench/throughput.py [--count 120] [--jobs N] [--sandbox auto] [--sample 24] [--install] [--skip WAYS]
                               [--rounds N]

0. **gradproof grade**: the CLI in its own process, sandboxed, every report written
   (``--formats``): what the issue's goal is about; its rate counts the reports' writing.
1. **gradproof pool**: ``grade_batch`` with its warm worker pool, grading included (truth,
   finite differences, the journal, the report data), sandboxed where bubblewrap works.
2. **fresh process**: a new ``python`` per submission that imports torch, runs the code
   cells and prints the contract's values as JSON, then exits (what a naive grader does; no
   grading at all).  ``--fresh-os-exit`` ends it with ``os._exit`` instead, skipping the
   interpreter's shutdown with torch loaded (≈ 0.3 s): a kinder baseline than any real grader.
3. **nbclient**: ``nbclient.NotebookClient(...).execute()`` with a fresh ipykernel per
   notebook, what nbgrader and Otter run.  It needs ``nbclient`` and ``ipykernel``; the bench
   never installs into the project's environment: ``--install`` puts them in its own folder
   (``~/.cache/gradproof-bench``, ``pip install --target``) and runs this way in a separate
   process with that folder on its path.  Without them the column is skipped, with the
   command that would install them.

All three run ``--jobs`` at a time (default: the CPU count).  The batch (``--count``
notebooks, copies of ``submissions/correct_notebook_classic.ipynb`` and a few others, made in
a temporary folder) is the same for all; the two slow ways grade a ``--sample`` of it by
default (their rate is flat: every submission costs the same), ``--sample 0`` for all.

Printed for each way: steady-state submissions per second (the marginal rate over the
batch after its first fifth), the start-up cost (the time before that rate, extrapolated),
the CPU time per submission, and the ratios between the ways.  On a machine other work shares,
the rates move with its load from one way to the next; the CPU each way spends per submission
in its steady state moves far less, and its ratio to the floor's (printed beside the rates'
ratio) is what the rates' ratio is where the machine is the bench's alone (every way here is
bound by the CPU: ``--jobs`` is the CPU count).  ``--rounds N`` then runs the CLI N more
times, each between two floors, and prints the median of its N ratios: the figure to quote
where one round's ratio moves with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"
MAIN = "correct_notebook_classic.ipynb"
OTHERS = [
    "bug_missing_factor_2.ipynb",
    "bug_wrong_learning_rate.ipynb",
    "bug_missing_activation_derivative.ipynb",
    "correct_functions_notebook.ipynb",
    "broken_exception_halfway.ipynb",
]
DEPS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gradproof-bench" / "deps"

FRESH_RUNNER = r"""
import io, json, os, sys
import torch
cells = json.loads(sys.stdin.read())
class _Shell:  # the notebook's magics and shell lines, refused as gradproof's child refuses them
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
ns = {"__name__": "__main__", "get_ipython": lambda: _Shell()}
out_fd, sys.stdout = os.dup(1), io.StringIO()
try:
    for source in cells:
        exec(compile(source, "cell", "exec"), ns)
except BaseException as exc:
    pass
out = {}
for name in ("X", "Y", "W1", "W2", "Y_cap", "E", "dE_dW1", "dE_dW2", "W1_new", "W2_new"):
    v = ns.get(name)
    if isinstance(v, torch.Tensor):
        out[name] = v.detach().double().tolist()
os.write(out_fd, json.dumps(out).encode())
if "--os-exit" in sys.argv:
    os._exit(0)
"""


# The floor: a parent that has imported torch forks one child per notebook; the child runs the
# code cells and writes the contract's values back as JSON through a pipe; no sandbox, no checks.
FORK_FLOOR = r"""
import io, json, os, select, sys, time
import torch
torch.set_num_threads(1)
payloads, jobs = json.loads(sys.stdin.read()), int(sys.argv[1])
class _Shell:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None
def child(cells, w):
    sys.stdout = io.StringIO()
    ns = {"__name__": "__main__", "get_ipython": lambda: _Shell()}
    try:
        for source in cells:
            exec(compile(source, "cell", "exec"), ns)
    except BaseException:
        pass
    out = {}
    for name in ("X", "Y", "W1", "W2", "Y_cap", "E", "dE_dW1", "dE_dW2", "W1_new", "W2_new"):
        v = ns.get(name)
        if isinstance(v, torch.Tensor):
            out[name] = v.detach().double().tolist()
    os.write(w, json.dumps(out).encode())
    os._exit(0)
started, stamps, running, todo = time.monotonic(), [], {}, list(payloads)
k, kids, cpu = max(1, len(payloads) // 5), 0.0, []  # CPU: this process's and its children's, after the first fifth
while todo or running:
    while todo and len(running) < jobs:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            child(todo[0], w)
        os.close(w)
        todo.pop(0)
        running[r] = (pid, [])
    for r in select.select(list(running), [], [])[0]:
        chunk = os.read(r, 1 << 16)
        if chunk:
            running[r][1].append(chunk)
            continue
        pid, _ = running.pop(r)
        os.close(r)
        usage = os.wait4(pid, 0)[2]
        kids += usage.ru_utime + usage.ru_stime
        stamps.append(time.monotonic())
        if len(stamps) in (k, len(payloads)):
            cpu.append(time.process_time() + kids)
print(json.dumps({"started": started, "stamps": stamps, "cpu": (cpu[-1] - cpu[0]) / max(1, len(stamps) - k)}))
"""


def run_fork_floor(paths: list[Path], jobs: int) -> dict[str, Any]:
    from harness.load import load

    payloads = json.dumps([[c.source for c in load(p).cells] for p in paths])
    done = subprocess.run(
        [sys.executable, "-s", "-c", FORK_FLOOR, str(jobs)], input=payloads, capture_output=True, text=True, check=True
    )
    data = json.loads(done.stdout.strip().splitlines()[-1])
    rate, startup = rates(data["stamps"], data["started"])
    return {"n": len(data["stamps"]), "rate": rate, "startup": startup, "cpu": data["cpu"]}


def make_batch(folder: Path, count: int) -> list[Path]:
    """``count`` notebooks: mostly the classic one, one in six another bundled notebook.

    Every copy differs from the others by a line of metadata, as every student's notebook
    does: each has its own digest, so its own seed, its own random weights and its own truth.
    """
    paths = []
    for i in range(count):
        name = OTHERS[(i // 6) % len(OTHERS)] if i % 6 == 5 else MAIN
        target = folder / f"nb{i:04d}_{name}"
        notebook = json.loads((SUBMISSIONS / name).read_text(encoding="utf-8"))
        notebook.setdefault("metadata", {})["student"] = f"student {i:04d}"
        target.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
        paths.append(target)
    return paths


def rates(stamps: list[float], started: float) -> tuple[float, float]:
    """(steady-state submissions/s, start-up seconds) from the completion times of a batch."""
    stamps = sorted(stamps)
    n = len(stamps)
    k = max(1, n // 5)
    if n - k < 2 or stamps[-1] <= stamps[k - 1]:
        total = stamps[-1] - started
        return n / total, 0.0
    rate = (n - k) / (stamps[-1] - stamps[k - 1])
    startup = max(0.0, (stamps[k - 1] - started) - k / rate)
    return rate, startup


def cpu_seconds() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def descendants_cpu(root: int) -> tuple[float, float]:
    """CPU seconds used so far by the live descendants of ``root`` (with the children they
    reaped): (grader processes, everything else: bubblewrap, workers and their children)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    graders: set[int] = set()
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if b"_grader_process_main" in f.read():
                    graders.add(int(entry))
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = sum(int(x) for x in fields[11:15]) / tick
    total = [0.0, 0.0]
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, root):
            ancestor = parents.get(ancestor)
        if ancestor == root:
            total[0 if pid in graders else 1] += times[pid]
    # a grader process's own children (its workers) are counted in "everything else" while alive
    return total[0], total[1]


# ---------------------------------------------------------------- the three ways


def run_gradproof(paths: list[Path], jobs: int, sandbox: str, out: Path, grader_runs: int = 2) -> dict[str, Any]:
    from harness.batch import grade_batch
    from harness.records.assignment import Assignment

    stamps: list[float] = []
    k = max(1, len(paths) // 5)
    at_k: list[float] = []
    at_end: list[float] = []

    def on_verdict(verdict: dict[str, Any]) -> None:
        stamps.append(time.monotonic())
        if len(stamps) == k:  # the steady state starts: CPU so far, to count only what follows
            at_k.extend([cpu_seconds()[0], *descendants_cpu(os.getpid())])
        elif len(stamps) == len(paths):  # and ends (before the pool's shutdown)
            at_end.extend([cpu_seconds()[0], *descendants_cpu(os.getpid())])

    started = time.monotonic()
    verdicts = grade_batch(
        paths,
        Assignment(grader_runs=grader_runs),
        jobs=jobs,
        sandbox=sandbox,  # type: ignore[arg-type]
        out=out,
        on_verdict=on_verdict,  # type: ignore[arg-type]
    )
    elapsed = time.monotonic() - started
    rate, startup = rates(stamps, started)
    scores = sorted({v["score"] for v in verdicts})
    steady = len(verdicts) - k
    return {
        "n": len(verdicts),
        "elapsed": elapsed,
        "rate": rate,
        "startup": startup,
        "cpu_grader": (at_end[0] - at_k[0] + at_end[1] - at_k[1]) / steady,
        "cpu_workers": (at_end[2] - at_k[2]) / steady,
        "isolation": verdicts[0]["isolation"],
        "scores": scores,
    }


CLI_MAIN = "from harness.cli import run; run()"


def run_cli(folder: Path, n: int, jobs: int, sandbox: str, out: Path, formats: str) -> dict[str, Any]:
    """``gradproof grade FOLDER --out OUT`` in its own process, as course staff run it: every
    report written.  Its rate counts the reports' writing: the steady state runs from the
    first fifth's last verdict to the process's end (not to the last verdict)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    argv = [sys.executable, "-c", CLI_MAIN, "grade", str(folder), "--out", str(out), "--jobs", str(jobs)]
    argv += ["--sandbox", sandbox, "--format", formats]
    _, kids_before = cpu_seconds()
    started = time.monotonic()
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=env)
    assert proc.stdout is not None
    stamps: list[float] = []
    k = max(1, n // 5)
    tree: list[float] = []  # the CPU its processes had used at the k-th verdict and at the last
    for _line in proc.stdout:  # one line per verdict, then the batch's last line
        if len(stamps) < n:
            stamps.append(time.monotonic())
            if len(stamps) in (k, n):
                tree.append(sum(descendants_cpu(os.getpid())))
    code = proc.wait()
    errors.seek(0)
    err = errors.read()
    ended = time.monotonic()
    _, kids_after = cpu_seconds()
    if code != 0:
        raise RuntimeError(f"gradproof grade exited {code}: {err.decode(errors='replace')[-2000:]}")
    rate = (n - k) / (ended - stamps[k - 1])
    return {
        "n": n,
        "elapsed": ended - started,
        "rate": rate,
        "startup": max(0.0, (stamps[k - 1] - started) - k / rate),
        "tail": ended - stamps[-1],
        "cpu": (kids_after - kids_before) / n,
        # the reports' writing (after the last verdict) counted as one CPU for as long as it takes
        "cpu_steady": (tree[-1] - tree[0] + ended - stamps[-1]) / (n - k),
    }


def run_fresh(paths: list[Path], jobs: int, os_exit: bool = False) -> dict[str, Any]:
    from harness.load import load

    payloads = [json.dumps([c.source for c in load(p).cells]) for p in paths]
    stamps: list[float] = []

    def one(payload: str) -> None:
        done = subprocess.run(
            [sys.executable, "-s", "-c", FRESH_RUNNER, *(["--os-exit"] if os_exit else [])],
            input=payload,
            capture_output=True,
            text=True,
            timeout=300,
        )
        values = json.loads(done.stdout)
        assert values, "the fresh process returned nothing"
        stamps.append(time.monotonic())

    _, kids_before = cpu_seconds()
    started = time.monotonic()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, payloads))
    elapsed = time.monotonic() - started
    _, kids_after = cpu_seconds()
    rate, startup = rates(stamps, started)
    return {
        "n": len(paths),
        "elapsed": elapsed,
        "rate": rate,
        "startup": startup,
        "cpu": (kids_after - kids_before) / len(paths),
    }


NBCLIENT_RUNNER = r"""
import json, sys, time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing as mp

def one(path):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    except Exception as exc:
        return repr(exc)
    return None

if __name__ == "__main__":
    paths, jobs = json.loads(sys.argv[1]), int(sys.argv[2])
    started = time.monotonic()
    stamps, errors = [], []
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
        for error in pool.map(one, paths):
            stamps.append(time.monotonic())
            if error:
                errors.append(error)
    print(json.dumps({"started": started, "stamps": stamps, "errors": errors[:3]}))
"""


def nbclient_problem() -> str | None:
    env = {**os.environ, "PYTHONPATH": str(DEPS)}
    probe = subprocess.run([sys.executable, "-c", "import nbclient, ipykernel"], env=env, capture_output=True)
    if probe.returncode == 0:
        return None
    return (
        f"nbclient and ipykernel are not installed (for this bench only: python bench/throughput.py --install, "
        f"which runs: {sys.executable} -m pip install --target {DEPS} nbclient ipykernel)"
    )


def install_nbclient() -> None:
    DEPS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(DEPS),
            "nbclient",
            "ipykernel",
        ],
        check=True,
    )


def run_nbclient(paths: list[Path], jobs: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(DEPS), "OMP_NUM_THREADS": "1"}
    runner = paths[0].parent.parent / "nbclient_runner.py"  # a file: spawned processes import it by name
    runner.write_text(NBCLIENT_RUNNER)
    _, kids_before = cpu_seconds()
    done = subprocess.run(
        [sys.executable, str(runner), json.dumps([str(p) for p in paths]), str(jobs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    _, kids_after = cpu_seconds()
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    data = json.loads(done.stdout.strip().splitlines()[-1])
    rate, startup = rates(data["stamps"], data["started"])
    return {
        "n": len(paths),
        "elapsed": data["stamps"][-1] - data["started"],
        "rate": rate,
        "startup": startup,
        "cpu": (kids_after - kids_before) / len(paths),
        "errors": data["errors"],
    }


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=120, help="notebooks in the batch (≥ 100 for the record)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sandbox", choices=["auto", "require", "off"], default="auto")
    parser.add_argument("--sample", type=int, default=24, help="notebooks for the two slow ways (0: all)")
    parser.add_argument("--install", action="store_true", help="install nbclient+ipykernel into the bench's own folder")
    parser.add_argument(
        "--skip", default="", help="comma-separated ways to skip: cli,pool,floor,fresh,nbclient,own-only"
    )
    parser.add_argument("--grader-runs", type=int, default=2, help="runs on the grader's inputs (the assignment's)")
    parser.add_argument("--formats", default="json,md", help="the CLI's --format (the reports it writes)")
    parser.add_argument("--fresh-os-exit", action="store_true", help="end each fresh process with os._exit")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="then N more rounds of the CLI, each between two floors, and the median of their ratios",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    with tempfile.TemporaryDirectory(prefix="gradproof-bench-") as tmp:
        folder = Path(tmp) / "batch"
        folder.mkdir()
        paths = make_batch(folder, args.count)
        sample = paths if args.sample <= 0 else paths[: args.sample]
        print(
            f"batch: {len(paths)} notebooks ({MAIN} and {len(OTHERS)} others) in {folder}; "
            f"{args.jobs} at a time; {os.cpu_count()} CPUs; python {sys.version.split()[0]}",
            flush=True,
        )

        # The floor is measured before gradproof and again after it (the machine's load drifts):
        # the ratios are against the mean of the two.
        floor_before = run_fork_floor(paths, args.jobs) if "floor" not in skip else None
        cli = None
        if "cli" not in skip:
            cli = run_cli(folder, len(paths), args.jobs, args.sandbox, Path(tmp) / "out-cli", args.formats)
            print(
                f"\ngradproof grade (the CLI, its own process: sandbox {args.sandbox}, the assignment's runs, "
                f"reports {args.formats} written):\n"
                f"  {cli['n']} graded in {cli['elapsed']:.2f} s; reports written {cli['tail']:.2f} s after the last verdict\n"
                f"  steady state, reports included: {cli['rate']:.1f} submissions/s; start-up {cli['startup']:.2f} s; "
                f"CPU per submission {cli['cpu'] * 1000:.1f} ms (every process), "
                f"{cli['cpu_steady'] * 1000:.1f} ms in the steady state (the reports' writing counted as one CPU)",
                flush=True,
            )

        ours = None
        if "pool" not in skip:
            ours = run_gradproof(paths, args.jobs, args.sandbox, Path(tmp) / "out", args.grader_runs)
            print(
                f"\ngradproof pool ({ours['isolation']}; the own run + {args.grader_runs} on the grader's inputs):\n"
                f"  {ours['n']} graded in {ours['elapsed']:.2f} s (scores {ours['scores']})\n"
                f"  steady state: {ours['rate']:.1f} submissions/s; start-up {ours['startup']:.2f} s\n"
                f"  CPU per submission in the steady state: grader {ours['cpu_grader'] * 1000:.1f} ms (load, check, "
                f"journal) + workers and their children {ours['cpu_workers'] * 1000:.1f} ms (run)",
                flush=True,
            )

        if ours and args.grader_runs and "own-only" not in skip:
            own = run_gradproof(paths, args.jobs, args.sandbox, Path(tmp) / "out-own", 0)
            print(
                f"\ngradproof pool, the own run only (grader_runs = 0): {own['rate']:.1f} submissions/s; "
                f"CPU per submission: grader {own['cpu_grader'] * 1000:.1f} ms + workers {own['cpu_workers'] * 1000:.1f} ms\n"
                f"  the grader's {args.grader_runs} extra runs cost {own['rate'] / ours['rate']:.2f}x the time of one",
                flush=True,
            )

        floor = None
        if "floor" not in skip:
            after = run_fork_floor(paths, args.jobs)
            rate = (floor_before["rate"] + after["rate"]) / 2 if floor_before else after["rate"]
            cpu = (floor_before["cpu"] + after["cpu"]) / 2 if floor_before else after["cpu"]
            floor = {"n": after["n"], "rate": rate, "cpu": cpu}
            print(
                f"\nfork floor (a torch-loaded parent forks a child per notebook; the child runs the cells and "
                f"writes the values as JSON to a pipe; no sandbox, no checks), measured before and after gradproof:\n"
                f"  steady state: {floor_before['rate'] if floor_before else float('nan'):.1f} and "
                f"{after['rate']:.1f} submissions/s over {after['n']}; the ratios use their mean, {rate:.1f}\n"
                f"  CPU per notebook in the steady state: {cpu * 1000:.1f} ms (parent and children)",
                flush=True,
            )

        fresh = None
        if "fresh" not in skip:
            fresh = run_fresh(sample, args.jobs, args.fresh_os_exit)
            ending = "os._exit" if args.fresh_os_exit else "a normal exit"
            print(
                f"\nfresh python per submission (import torch, run, return data, {ending}; no grading):\n"
                f"  {fresh['n']} run in {fresh['elapsed']:.2f} s\n"
                f"  steady state: {fresh['rate']:.2f} submissions/s; CPU per submission {fresh['cpu']:.2f} s",
                flush=True,
            )

        nbc = None
        if "nbclient" not in skip:
            if args.install and nbclient_problem():
                install_nbclient()
            problem = nbclient_problem()
            if problem:
                print(f"\nnbclient + fresh ipykernel: skipped: {problem}")
            else:
                nbc = run_nbclient(sample, args.jobs)
                print(
                    f"\nnbclient + fresh ipykernel per notebook (nbgrader's and Otter's engine; no grading):\n"
                    f"  {nbc['n']} run in {nbc['elapsed']:.2f} s"
                    + (f" ({len(nbc['errors'])} errors: {nbc['errors']})" if nbc["errors"] else "")
                    + f"\n  steady state: {nbc['rate']:.2f} submissions/s; CPU per submission {nbc['cpu']:.2f} s",
                    flush=True,
                )

        print("\nratios (steady state):")
        for label, way in (("gradproof grade (CLI)", cli), ("gradproof pool", ours)):
            if way is None:
                continue
            if floor:
                print(f"  {label} / fork floor:    {way['rate'] / floor['rate']:.2f}x (goal >= 0.6x)")
                mine = way.get("cpu_steady", way.get("cpu_grader", 0.0) + way.get("cpu_workers", 0.0))
                if mine:
                    print(
                        f"  {label} / fork floor, by CPU per submission in the steady state: "
                        f"{floor['cpu'] / mine:.2f}x (what the rate ratio is where the machine is ours alone)"
                    )
            if fresh:
                print(f"  {label} / fresh process: {way['rate'] / fresh['rate']:.0f}x (goal >= 40x)")
            if nbc:
                print(f"  {label} / nbclient:      {way['rate'] / nbc['rate']:.0f}x")
        if args.rounds > 1 and "cli" not in skip and "floor" not in skip:
            rounds_against_floor(folder, paths, args, Path(tmp))
        print(f"  load (/proc/loadavg) at the end: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 0


def rounds_against_floor(folder: Path, paths: list[Path], args: argparse.Namespace, tmp: Path) -> None:
    """``--rounds``: the CLI N times, each between two floors (floor, CLI, floor, CLI, ..., floor),
    each round's ratios against the mean of the floors on either side of it, and their median:
    on a machine whose load drifts, one round's ratio moves by ±0.1; the median of several moves
    far less."""
    floors = [run_fork_floor(paths, args.jobs)]
    by_rate: list[float] = []
    by_cpu: list[float] = []
    print(f"\nthe CLI in {args.rounds} rounds, each between two floors:")
    for k in range(args.rounds):
        cli = run_cli(folder, len(paths), args.jobs, args.sandbox, tmp / f"out-cli-round-{k}", args.formats)
        floors.append(run_fork_floor(paths, args.jobs))
        rate = (floors[-2]["rate"] + floors[-1]["rate"]) / 2
        cpu = (floors[-2]["cpu"] + floors[-1]["cpu"]) / 2
        by_rate.append(cli["rate"] / rate)
        by_cpu.append(cpu / cli["cpu_steady"])
        print(
            f"  round {k + 1}: CLI {cli['rate']:.1f}/s, floor {rate:.1f}/s: {by_rate[-1]:.2f}x; "
            f"by CPU per submission ({cli['cpu_steady'] * 1000:.1f} ms against {cpu * 1000:.1f} ms): {by_cpu[-1]:.2f}x",
            flush=True,
        )
    print(
        f"  median of {args.rounds} rounds: {statistics.median(by_rate):.2f}x (goal >= 0.6x); "
        f"by CPU {statistics.median(by_cpu):.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
