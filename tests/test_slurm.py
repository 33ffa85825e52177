"""Sharding on the real engine: a one-node Slurm cluster, an array job of ``grade --shard auto``, then ``merge``.

The test configures and starts its own cluster as root (``munged``,
``slurmctld -D`` and ``slurmd -D`` with a private key, socket, ports and
state in a temporary folder), submits ``deploy/slurm/grade-array.sbatch``
(the script README.md shows) as ``--array=0-3``, and the merge as a job that
depends on it, the way README.md says to.  The merged report must equal a
single ``grade`` of the same folder, timings aside; so must the merge after
one task is run again the way README.md says (``--array=2`` with ``SHARD``
and ``--resume``).  Everything it started is stopped at the end.

Skipped, with the reason, where it cannot run: not root, Slurm or MUNGE not
installed (``apt-get install slurm-wlm``; ``.ci/run`` does), or daemons that
will not start here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"
SCRIPT = ROOT / "deploy" / "slurm" / "grade-array.sbatch"

# Correct and buggy, scripts and notebooks, one that cannot load and one that does not run.
BATCH = [
    "correct_script.py",
    "correct_functions_notebook.ipynb",
    "bug_sign_flip_dW2.py",
    "bug_missing_factor_2.ipynb",
    "bug_nan_divide_by_target.py",
    "partial_script_forward_only.py",
    "broken_syntax_error.py",
    "broken_invalid_notebook.ipynb",
]
TASKS = 4  # --array=0-3

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol", "scancel")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return f"({path.name}: no output)"
    return "\n".join(f"    {line}" for line in text[-lines:]) or f"    ({path.name}: empty)"


def _node_hardware() -> str:
    """What ``slurmd -C`` finds (CPUs, sockets, cores, threads), so that the node's config matches this machine."""
    found = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=60)
    words = found.stdout.split("\n", 1)[0].split()
    keep = ("CPUs=", "Boards=", "SocketsPerBoard=", "CoresPerSocket=", "ThreadsPerCore=")
    chosen = [w for w in words if w.startswith(keep)]
    return " ".join(chosen) if any(w.startswith("CPUs=") for w in chosen) else f"CPUs={os.cpu_count() or 1}"


@dataclass
class Cluster:
    """A one-node Slurm cluster of this machine, private to the test."""

    home: Path
    host: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    jobs: list[str] = field(default_factory=list)

    def log(self, name: str) -> Path:
        return self.home / "log" / f"{name}.log"

    def logs(self) -> str:
        return "\n".join(f"  {name}:\n{_tail(self.log(name))}" for name in DAEMONS)

    def start(self, name: str, argv: list[str]) -> None:
        with self.log(name).open("ab") as out:
            self.processes[name] = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def dead(self) -> str | None:
        """The first daemon that has exited, with its exit status and log."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                return f"{name} exited with status {process.returncode}:\n{_tail(self.log(name))}"
        return None

    def client(self, *argv: str, cwd: Path | None = None, check: bool = True) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, env=self.env, cwd=cwd, timeout=60)
        if check and done.returncode:
            raise AssertionError(
                f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}\n{self.logs()}"
            )
        return done.stdout

    def stop(self) -> None:
        """Cancel our jobs, let them end, then terminate the daemons (slurmd, slurmctld, munged) and kill what stays."""
        if self.jobs and "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self.client("scancel", *self.jobs, check=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.client("squeue", "-h", check=False).strip():
                time.sleep(0.5)
        for name in reversed(DAEMONS):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _missing() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root: the test starts its own slurmctld and slurmd (SlurmUser=root)"
    absent = [tool for tool in (*DAEMONS, *CLIENTS) if shutil.which(tool) is None]
    if absent:
        return f"Slurm/MUNGE not installed ({', '.join(absent)} not on PATH): apt-get install slurm-wlm"
    if shutil.which("gradproof", path=str(Path(sys.executable).parent)) is None:
        return f"no gradproof console script next to {sys.executable} for the job to run: pip install -e ."
    return None


def _configure(home: Path, host: str) -> Path:
    for sub in ("munge", "run", "state", "spool", "log"):
        (home / sub).mkdir(mode=0o755)
    (home / "munge").chmod(0o700)
    key = home / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = home / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=gradproof-test",
                f"SlurmctldHost={host}(127.0.0.1)",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "SlurmUser=root",
                "SlurmdUser=root",
                "AuthType=auth/munge",
                "CredType=cred/munge",
                f"AuthInfo=socket={home / 'run' / 'munge.socket'}",
                f"StateSaveLocation={home / 'state'}",
                f"SlurmdSpoolDir={home / 'spool'}",
                f"SlurmctldPidFile={home / 'run' / 'slurmctld.pid'}",
                f"SlurmdPidFile={home / 'run' / 'slurmd.pid'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU",
                "SchedulerType=sched/backfill",
                "JobAcctGatherType=jobacct_gather/none",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "MpiDefault=none",
                "MailProg=/bin/true",
                "ReturnToService=2",
                "MinJobAge=600",
                "KillWait=5",
                f"NodeName={host} NodeAddr=127.0.0.1 {_node_hardware()} State=UNKNOWN",
                "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    return conf


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    # Not under pytest's tmp_path: munged wants every folder above its socket searchable by all.
    home = Path(tempfile.mkdtemp(prefix="gradproof-slurm-"))
    home.chmod(0o755)
    host = socket.gethostname().split(".")[0]
    conf = _configure(home, host)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SQUEUE_", "SINFO_"))}
    env["SLURM_CONF"] = str(conf)
    # The jobs run this interpreter's gradproof, importing this checkout's harness.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    running = Cluster(home=home, host=host, env=env)
    try:
        munge = home / "munge"
        running.start(
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={home / 'run' / 'munge.socket'}",
                f"--key-file={munge / 'munge.key'}",
                f"--pid-file={home / 'run' / 'munged.pid'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
        )
        _wait(running, lambda: (home / "run" / "munge.socket").exists(), 30, "munged did not create its socket")
        running.start("slurmctld", ["slurmctld", "-D", "-f", str(conf)])
        running.start("slurmd", ["slurmd", "-D", "-f", str(conf)])

        def idle() -> bool:
            states = running.client("sinfo", "-h", "-N", "-o", "%N %T", check=False).split()
            return states == [host, "idle"]

        _wait(running, idle, 90, f"node {host} never idle in sinfo")
        yield running
    finally:
        running.stop()
        shutil.rmtree(home, ignore_errors=True)


def _wait(running: Cluster, ready: Callable[[], bool], seconds: float, what: str) -> None:
    """Until ``ready()``; a daemon that exits or a cluster never ready skips the test with its logs."""
    deadline = time.monotonic() + seconds
    while not ready():
        dead = running.dead()
        if dead:
            pytest.skip(f"Slurm will not run here: {dead}")
        if time.monotonic() > deadline:
            pytest.skip(f"Slurm will not run here: {what} after {seconds:.0f} s\n{running.logs()}")
        time.sleep(0.5)


def _job_states(running: Cluster, job: str) -> dict[str, tuple[str, str]]:
    """``{task id: (JobState, ExitCode)}`` of a job (its array tasks) that slurmctld still remembers."""
    states = {}
    for line in running.client("scontrol", "-o", "show", "job", job).splitlines():
        fields = dict(word.split("=", 1) for word in line.split() if "=" in word)
        states[fields.get("ArrayTaskId", fields["JobId"])] = (fields["JobState"], fields["ExitCode"])
    return states


def _verdicts(report: dict[str, Any]) -> dict[str, Any]:
    return {
        Path(v["submission"]).name: (
            v["status"],
            v["score"],
            [(c["name"], c["status"], c["diagnosis"]) for c in v["checks"]],
        )
        for v in report["submissions"]
    }


def _timeless(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _timeless(v) for k, v in data.items() if k not in ("duration_s", "execution_time")}
    if isinstance(data, list):
        return [_timeless(v) for v in data]
    return data


def _finish(cluster: Cluster, work: Path, jobs: list[str], timeout: float = 600) -> str:
    """Wait until the queue is empty; every task of ``jobs`` must have COMPLETED with exit code 0.  Their logs."""
    deadline = time.monotonic() + timeout
    while cluster.client("squeue", "-h", "-o", "%i %T").strip():
        dead = cluster.dead()
        assert dead is None, f"a daemon died under the jobs: {dead}"
        assert time.monotonic() < deadline, f"the jobs did not finish in {timeout:.0f} s:\n{cluster.client('squeue')}"
        time.sleep(1)
    logs = "\n".join(f"  {p.name}:\n{_tail(p)}" for p in sorted(work.glob("*.out")))
    for job in jobs:
        states = _job_states(cluster, job)
        assert set(states.values()) == {("COMPLETED", "0:0")}, f"job {job}: {states}\n{logs}"
    return logs


def _sbatch(cluster: Cluster, work: Path, *argv: str) -> str:
    job = cluster.client("sbatch", "--parsable", *argv, cwd=work).strip().split(";")[0]
    cluster.jobs.append(job)
    return job


@pytest.fixture(scope="module")
def graded(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The batch graded three ways: the README's array job and merge job, one shard run again, and a single run."""
    base = tmp_path_factory.mktemp("slurm")
    batch, results, work = base / "batch", base / "results", base / "work"
    for folder in (batch, results, work):
        folder.mkdir()
    for name in BATCH:
        shutil.copy(SUBMISSIONS / name, batch / name)
    where = f"SUBMISSIONS={batch},RESULTS={results}"

    started = time.monotonic()
    # The script asks for 4 CPUs a task; this node may have 2.
    array = _sbatch(cluster, work, f"--array=0-{TASKS - 1}", "--cpus-per-task=1", f"--export=ALL,{where}", str(SCRIPT))
    merge = _sbatch(
        cluster,
        work,
        f"--dependency=afterok:{array}",
        "--kill-on-invalid-dep=yes",
        f"--output={work / 'merge-%j.out'}",
        "--wrap",
        f"gradproof merge {results}/shard-* --out {results}/all --format json",
    )
    logs = _finish(cluster, work, [array, merge])
    array_s = time.monotonic() - started
    assert sorted(p.name for p in results.iterdir()) == ["all", *(f"shard-{k}" for k in range(TASKS))], logs
    shards = {k: json.loads((results / f"shard-{k}" / "report.json").read_text()) for k in range(TASKS)}
    merged = json.loads((results / "all" / "report.json").read_text())

    # README's rerun of a task that failed halfway: its shard given as SHARD (--array=2 alone is an array of one
    # task), --resume passed on to grade, which keeps the verdict the journal has and grades the other.
    (results / "shard-2" / "report.json").unlink()
    journal = results / "shard-2" / "journal.jsonl"
    kept = journal.read_text().splitlines(keepends=True)[0]
    journal.write_text(kept)
    rerun = _sbatch(
        cluster,
        work,
        "--array=2",
        "--cpus-per-task=1",
        f"--export=ALL,{where},SHARD=3/{TASKS}",
        str(SCRIPT),
        "--resume",
    )
    rerun_logs = _finish(cluster, work, [rerun])
    (rerun_log,) = work.glob(f"grade-{rerun}_2.out")
    rerun_shard = json.loads((results / "shard-2" / "report.json").read_text())
    again = subprocess.run(
        ["gradproof", "merge", *(str(results / f"shard-{k}") for k in range(TASKS)), "--out", str(base / "again")],
        capture_output=True,
        text=True,
        env=cluster.env,
        timeout=600,
    )
    assert again.returncode == 0, again.stdout + again.stderr

    single = base / "single"
    done = subprocess.run(
        ["gradproof", "grade", str(batch), "--out", str(single), "--jobs", "1", "--format", "json"],
        capture_output=True,
        text=True,
        env=cluster.env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"array job and merge job: {array_s:.1f} s; whole fixture: {time.monotonic() - started:.1f} s")
    return {
        "batch": batch,
        "work": work,
        "shards": shards,
        "merged": merged,
        "rerun": rerun_shard,
        "rerun_log": rerun_log.read_text(),
        "kept": json.loads(kept),
        "rerun_timings": json.loads((results / "shard-2" / "timings.json").read_text()),
        "merged_again": json.loads((base / "again" / "report.json").read_text()),
        "single": json.loads((single / "report.json").read_text()),
        "logs": logs + "\n" + rerun_logs,
    }


@pytest.mark.slow
def test_each_array_task_graded_its_shard_from_the_slurm_environment(graded: dict[str, Any]) -> None:
    covered = []
    for k, report in graded["shards"].items():
        shard = report["shard"]
        assert (shard["index"], shard["count"], shard["source"]) == (k + 1, TASKS, "SLURM_ARRAY_TASK_ID")
        assert shard["positions"] == list(range(k, len(BATCH), TASKS))
        assert [Path(v["submission"]).name for v in report["submissions"]] == [
            sorted(BATCH)[i] for i in shard["positions"]
        ]
        covered += shard["positions"]
        # The script's --output: grade-<job>_<task>.out in the folder sbatch ran in.
        logs = [p.read_text() for p in graded["work"].glob(f"grade-*_{k}.out")]
        assert any(f"shard {k + 1}/{TASKS} (" in log for log in logs), graded["logs"]
    assert sorted(covered) == list(range(len(BATCH)))


@pytest.mark.slow
def test_the_merged_report_of_the_array_equals_a_single_run(graded: dict[str, Any]) -> None:
    single, merged = graded["single"], graded["merged"]
    assert _verdicts(merged) == _verdicts(single)
    assert [v["submission"] for v in merged["submissions"]] == [str(graded["batch"] / f) for f in sorted(BATCH)]
    assert _timeless(merged) == _timeless(single)
    statuses = {name: verdict[0] for name, verdict in _verdicts(merged).items()}
    assert statuses["correct_script.py"] == "graded" and statuses["broken_invalid_notebook.ipynb"] == "error"


@pytest.mark.slow
def test_one_task_run_again_with_its_shard_merges_into_the_same_report(graded: dict[str, Any]) -> None:
    rerun, first = graded["rerun"], graded["shards"][2]
    assert (rerun["shard"]["index"], rerun["shard"]["count"], rerun["shard"]["source"]) == (3, TASKS, "--shard")
    assert rerun["shard"]["positions"] == first["shard"]["positions"]
    assert _timeless(graded["merged_again"]) == _timeless(graded["single"])
    assert f"shard 3/{TASKS} (2 of {len(BATCH)}): 2 submissions" in graded["rerun_log"], graded["rerun_log"]
    # --resume reached grade: the verdict left in the journal comes back as it was (report.json holds no
    # timings since a re-grade must write the same bytes; the journal and timings.json keep them).
    kept = dict(graded["kept"])
    seconds = kept.pop("duration_s")
    assert kept in rerun["submissions"]
    assert {"submission": kept["submission"], "duration_s": seconds} in graded["rerun_timings"]["submissions"]


def test_the_readme_shows_the_script_this_test_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("#### Slurm array job") : readme.index("#### Kubernetes Indexed Job")]
    assert f"```bash\n{SCRIPT.read_text()}```" in section, f"README's Slurm array job must show {SCRIPT} as it is"
