"""The run stage: the plain data that comes back from a child, and the pool that runs children.

The pool tests run real workers (sandboxed where bubblewrap works, else plain processes).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

import harness.batch.processes as processes
import harness.run.pool as run
import harness.wire as wire
from harness.load import load
from harness.records.assignment import FUNCTIONS, Assignment, Limits
from harness.records.outcome import CallResult, CapturedError, Ending, Outcome
from harness.run.pool import Pool
from harness.run.sandbox import bubblewrap_problem
from harness.run.values import decode_value, encode_argument

NAMES = Assignment().tracked_names()
LIMITS = replace(Assignment().limits, timeout=5.0, memory_bytes=1024**3, output_keep_bytes=2048)
SANDBOX = pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox here: {bubblewrap_problem()}")


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(1, "auto") as p:
        p.start()
        yield p


def _submit(
    pool: Pool,
    tmp_path: Path,
    source: str,
    name: str = "sub.py",
    limits: Limits = LIMITS,
    calls: Sequence[tuple[str, list[dict[str, Any]]]] = (),
) -> tuple[Outcome, list[CallResult]]:
    path = tmp_path / name
    path.write_text(source)
    results = []
    with pool.session(load(path), limits, NAMES, list(FUNCTIONS)) as session:
        session.wait_executed()
        for fn, args in calls:
            results.append(session.call(fn, args))
    return session.outcome, results


def _stdout(outcome: Outcome) -> str:
    assert outcome.ending is not None
    return outcome.ending.stdout


# ---------------------------------------------------------------- plain data


def test_a_tensor_comes_back_as_float64_with_its_dtype_kept() -> None:
    value = decode_value({"t": "tensor", "dtype": "float32", "shape": [2, 1], "data": [0.5, 1.5]})
    assert value.kind == "tensor" and value.dtype == "float32"
    assert value.tensor is not None and value.tensor.dtype == torch.float64
    assert value.tensor.tolist() == [[0.5], [1.5]]


@pytest.mark.parametrize(
    "data",
    [
        {"t": "tensor", "dtype": "float32", "shape": [2, 2], "data": [1.0]},
        {"t": "tensor", "dtype": "float32", "shape": [-1], "data": []},
        {"t": "tensor", "dtype": "float32", "shape": [1] * 9, "data": [1.0]},
        {"t": "tensor", "dtype": "float32", "shape": [2], "data": ["a", "b"]},
        {"t": "tensor", "dtype": "float32", "shape": [1], "data": [True]},
        {"t": "number", "v": "1"},
        {"t": "number", "v": False},
        {"t": "list", "items": "not a list"},
        "not even a dict",
        {"t": "pickle", "data": "gASVAAAAAAAAAAA="},
    ],
)
def test_malformed_data_from_a_child_becomes_an_unusable_value_not_an_error(data: Any) -> None:
    value = decode_value(data)
    assert value.tensor is None and value.kind == "other"


def test_a_list_of_equal_rows_is_read_as_an_array() -> None:
    row = {"t": "list", "items": [{"t": "number", "v": 1.0}, {"t": "number", "v": 2.0}]}
    value = decode_value({"t": "list", "items": [row, row]})
    assert value.tensor is not None and value.tensor.shape == (2, 2)


def test_an_argument_is_sent_as_plain_numbers_of_the_requested_dtype() -> None:
    data = encode_argument(torch.tensor([[1.0, 2.0]], dtype=torch.float64), "float32", as_numpy=False)
    assert data == {"t": "tensor", "dtype": "float32", "shape": [1, 2], "data": [1.0, 2.0]}
    assert encode_argument(torch.ones(2), "float64", as_numpy=True)["t"] == "ndarray"


@pytest.mark.parametrize(
    "ending, phrase",
    [
        (Ending(reason="timeout"), "time limit of 5 s"),
        (Ending(reason="output"), "printed more than"),
        (Ending(reason="worker-died"), "killed or broke the process that supervised it"),
        (Ending(reason="protocol"), "could not be read"),
        (Ending(reason="exited", signal="SIGXCPU"), "CPU time (6 s)"),
        (Ending(reason="exited", signal="SIGSEGV"), "crashed (SIGSEGV)"),
        (Ending(reason="exited", signal="SIGKILL", cpu_limit_reached=True), "CPU time (6 s)"),
        (Ending(reason="exited", signal="SIGKILL"), "crashed (SIGKILL)"),
        (Ending(reason="exited", code=3), "exit code 3"),
    ],
)
def test_each_way_a_child_can_end_early_is_a_sentence_for_the_report(ending: Ending, phrase: str) -> None:
    problem = ending.problem(LIMITS)
    assert problem is not None and phrase in problem


def test_a_child_that_was_ended_by_the_grader_has_no_problem() -> None:
    assert Ending(reason="ended", signal="SIGKILL").problem(LIMITS) is None


def test_a_captured_error_says_where_it_happened() -> None:
    error = CapturedError.from_event({"type": "ValueError", "message": "m" * 5000, "label": "cell 3", "line": 2})
    assert str(error).endswith("(cell 3, line 2)") and len(error.message) == 2000


def test_a_child_cannot_frame_its_event_as_the_workers(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.write(
        write,
        b'c{"ev": "exit", "id": 1, "reason": "ended"}\n'
        b'w{"ev": "bind", "values": {}}\n'
        b'x{"ev": "bind"}\n'
        b"cnot json\n"
        b'c{"ev": "bind", "values": {}}\n'
        b'w{"ev": "exit", "id": 1}\n',
    )
    os.close(write)
    lines = run._Lines(read)
    deadline = time.monotonic() + 5
    got = [lines.read(deadline) for _ in range(6)]
    os.close(read)
    assert [g and g["ev"] for g in got] == [None, None, None, None, "bind", "exit"]


# ---------------------------------------------------------------- real children


def test_every_top_level_statement_leaves_its_values_in_the_history(pool: Pool, tmp_path: Path) -> None:
    outcome, _ = _submit(pool, tmp_path, "import torch\nW1 = torch.ones(4, 3)\nW1 -= 0.5\nlr = 0.1\ndel lr\n")
    history = [(b.statement, b.name, b.value.kind) for b in outcome.history]
    assert history == [(2, "W1", "tensor"), (3, "W1", "tensor"), (4, "lr", "number"), (5, "lr", "unbound")]
    final = outcome.final("W1")
    assert final is not None and final.tensor is not None and float(final.tensor[0, 0]) == 0.5
    assert outcome.executed and outcome.error is None and outcome.ending is not None
    assert outcome.ending.reason == "ended"


def test_the_grader_calls_the_submissions_functions_and_gets_values_or_errors(pool: Pool, tmp_path: Path) -> None:
    arg = encode_argument(torch.tensor([[0.0], [2.0]]), "float32", as_numpy=False)
    outcome, (ok, bad, missing) = _submit(
        pool,
        tmp_path,
        "import torch\ndef sigmoid(z):\n    return 1 / (1 + torch.exp(-z))\n"
        "def loss(y_cap, y):\n    raise ValueError('no loss yet')\n",
        calls=[("sigmoid", [arg]), ("loss", [arg, arg]), ("forward", [arg])],
    )
    assert outcome.functions == ("loss", "sigmoid")
    assert ok.value is not None and ok.value.tensor is not None
    assert ok.value.tensor[0, 0].item() == 0.5 and ok.value.dtype == "float32"
    assert bad.error is not None and bad.error.type == "ValueError" and "no loss yet" in bad.error.message
    assert missing.error is not None and missing.error.type == "NameError"


def test_a_call_into_a_child_that_died_is_a_stopped_result(pool: Pool, tmp_path: Path) -> None:
    arg = encode_argument(torch.zeros(1), "float32", as_numpy=False)
    outcome, (result,) = _submit(
        pool, tmp_path, "import os\ndef sigmoid(z):\n    os._exit(5)\n", calls=[("sigmoid", [arg])]
    )
    assert result.error is not None and result.error.type == "Stopped" and "exit code 5" in result.error.message
    assert outcome.ending is not None and outcome.ending.code == 5


def test_a_child_cannot_forge_the_end_of_its_own_job(pool: Pool, tmp_path: Path) -> None:
    source = (
        "import os, socket, stat\n"
        "fds = [fd for fd in range(3, 64) if os.path.exists(f'/proc/self/fd/{fd}') and stat.S_ISSOCK(os.fstat(fd).st_mode)]\n"
        "s = socket.socket(fileno=fds[0])\n"
        's.sendall(b\'{"ev": "exit", "id": 1, "reason": "ended"}\\n\')\n'
        's.sendall(b\'{"ev": "bind", "statement": 1, "values": {}, "ev": "exit"}\\n\')\n'
        "s.sendall(b'wnot an event\\n')\n"
        "X = 1.0\n"
    )
    outcome, _ = _submit(pool, tmp_path, source)
    assert outcome.error is None and outcome.executed
    assert [b.name for b in outcome.history if b.name == "X"] == ["X"]
    assert outcome.ending is not None and outcome.ending.reason == "ended"


def test_each_submission_gets_a_fresh_process_and_an_empty_private_directory(pool: Pool, tmp_path: Path) -> None:
    probe = (
        "import os\nprint(os.getpid(), os.getcwd(), sorted(os.listdir('.')), oct(os.stat('.').st_mode & 0o777))\n"
        "open('left-behind.txt', 'w').write('x')\n"
    )
    first, _ = _submit(pool, tmp_path, probe, name="a.py")
    second, _ = _submit(pool, tmp_path, probe, name="b.py")
    pid1, cwd1, files1, mode1 = _stdout(first).split(" ", 3)
    pid2, cwd2, files2, mode2 = _stdout(second).split(" ", 3)
    assert pid1 != pid2 and cwd1 != cwd2
    assert files1.startswith("[]") and files2.startswith("[]")
    assert mode1.strip() == mode2.strip() == "0o700"


def test_the_child_runs_torch_on_one_thread_in_a_clean_environment(pool: Pool, tmp_path: Path) -> None:
    outcome, _ = _submit(
        pool,
        tmp_path,
        "import os, sys, torch\nprint(torch.get_num_threads(), sorted(os.environ), "
        "sys.flags.hash_randomization, hash('gradproof'))\n",
    )
    threads, rest = _stdout(outcome).split(" ", 1)
    assert threads == "1"
    env = eval(rest[: rest.index("]") + 1])
    assert set(env) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MPLBACKEND",
        "PYTHONHASHSEED",
        "PWD",
    }
    assert rest.split()[-2] == "0"  # no hash randomisation: a printed set is in the same order every time


def test_the_child_collects_garbage_though_the_worker_imported_torch_without_collecting(
    pool: Pool, tmp_path: Path
) -> None:
    outcome, _ = _submit(pool, tmp_path, "import gc\nprint(gc.isenabled(), gc.get_freeze_count() > 0)\n")
    assert _stdout(outcome).split() == ["True", "True"]  # on, and the worker's own objects frozen


def test_the_same_submission_draws_the_same_random_numbers_every_time(pool: Pool, tmp_path: Path) -> None:
    source = "import torch, random, numpy\nprint(torch.rand(2).tolist(), random.random(), numpy.random.rand())\n"
    first, _ = _submit(pool, tmp_path, source, name="a.py")
    second, _ = _submit(pool, tmp_path, source, name="a.py")
    other, _ = _submit(pool, tmp_path, source + "# another file\n", name="a.py")
    assert _stdout(first) == _stdout(second) != _stdout(other)


def test_the_report_keeps_the_head_of_each_stream_and_counts_the_rest(pool: Pool, tmp_path: Path) -> None:
    outcome, _ = _submit(pool, tmp_path, "import sys\nprint('a' * 5000)\nsys.stderr.write('e' * 3000)\nX = 1\n")
    ending = outcome.ending
    assert ending is not None and ending.reason == "ended"
    assert ending.stdout == "a" * 2048 and ending.stdout_bytes == 5001
    assert ending.stderr == "e" * 2048 and ending.stderr_bytes == 3000
    assert outcome.final("X") is not None


def test_the_resource_limits_are_set_in_the_child(pool: Pool, tmp_path: Path) -> None:
    limits = replace(LIMITS, processes=7, file_bytes=12345, cpu_seconds=4.0)
    outcome, _ = _submit(
        pool,
        tmp_path,
        "import resource as r\n"
        "print([r.getrlimit(getattr(r, n)) for n in ('RLIMIT_NPROC', 'RLIMIT_FSIZE', "
        "'RLIMIT_CPU', 'RLIMIT_CORE')])\n",
        limits=limits,
    )
    nproc, fsize, cpu, core = eval(_stdout(outcome))
    assert fsize == (12345, 12345) and cpu == (4, 5) and core == (0, 0)
    if os.geteuid() == 0:
        assert nproc == (7, 7)


def test_a_grader_error_mid_job_never_lends_out_a_busy_worker(pool: Pool, tmp_path: Path) -> None:
    path = tmp_path / "busy.py"
    path.write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(RuntimeError), pool.session(load(path), replace(LIMITS, timeout=120.0), NAMES, []):
        raise RuntimeError("the check stage failed")
    started = time.monotonic()
    outcome, _ = _submit(pool, tmp_path, "X = 2.0\n")
    # a lent-out busy worker would answer only after the 60 s sleep; a fresh one, however loaded the machine, sooner
    assert outcome.final("X") is not None and time.monotonic() - started < 45.0


def test_a_submission_past_its_time_is_killed_and_the_worker_keeps_serving(pool: Pool, tmp_path: Path) -> None:
    worker = pool.workers[0]
    proc = worker.proc
    outcome, _ = _submit(pool, tmp_path, "while True:\n    pass\n", limits=replace(LIMITS, timeout=1.0))
    assert outcome.ending is not None and outcome.ending.reason == "timeout"
    assert 0.9 < outcome.duration_s < 3.0
    assert worker.proc is proc and worker.alive  # the worker did its job: no restart


def test_an_unresponsive_worker_is_killed_and_replaced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(run, "GRACE_S", 0.5)
    with Pool(1, "off") as pool:
        pool.start()
        worker = pool.workers[0]
        assert worker.proc is not None
        os.kill(worker.proc.pid, signal.SIGSTOP)  # the worker itself stops answering
        outcome, _ = _submit(pool, tmp_path, "X = 1.0\n", limits=replace(LIMITS, timeout=1.0))
        assert outcome.ending is not None and outcome.ending.reason == "timeout"
        assert outcome.duration_s < 4.0
        assert worker.proc is None  # stopped; the next session starts a fresh one
        outcome, _ = _submit(pool, tmp_path, "X = 1.0\n")
        assert outcome.final("X") is not None and worker.alive


@SANDBOX
def test_a_worker_restarted_from_a_short_lived_thread_outlives_that_thread(tmp_path: Path) -> None:
    # bubblewrap's --die-with-parent follows the thread that started it: restarts go through the
    # pool's own long-lived spawner thread.
    with Pool(1, "require") as pool:
        pool.start()
        worker = pool.workers[0]
        worker.stop()  # dead: the next session restarts it, here from a thread that then ends
        results: list[Outcome] = []
        thread = threading.Thread(target=lambda: results.append(_submit(pool, tmp_path, "X = 1.0\n")[0]))
        thread.start()
        thread.join()
        assert results and results[0].final("X") is not None
        restarted = worker.proc
        time.sleep(0.5)
        assert worker.alive and worker.proc is restarted
        outcome, _ = _submit(pool, tmp_path, "X = 2.0\n")
        assert outcome.final("X") is not None and worker.proc is restarted


def test_a_daemon_left_by_a_submission_is_killed_when_its_own_job_ends(pool: Pool, tmp_path: Path) -> None:
    marker = f"gradproof-run-test-{os.getpid()}"
    source = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(99)  # {marker}'])\n"
        "    os._exit(0)\n"
        "time.sleep(0.3)\n"
        "X = 1.0\n"
    )
    _submit(pool, tmp_path, source)
    assert pool.workers[0].alive  # the pool is still running: the job's own cleanup did it

    def alive() -> list[str]:
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        with open(f"/proc/{entry}/stat", "rb") as g:
                            if g.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X"):
                                found.append(entry)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 2
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive() == []


def test_a_session_reports_the_isolation_it_ran_under(pool: Pool, tmp_path: Path) -> None:
    outcome, _ = _submit(pool, tmp_path, "X = 1\n")
    assert outcome.isolation == pool.isolation and outcome.isolation
    assert "61000" not in outcome.isolation  # the same text whichever worker ran it


def test_a_submission_that_ignores_sigxcpu_is_killed_at_its_hard_cpu_limit(pool: Pool, tmp_path: Path) -> None:
    source = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n"
    outcome, _ = _submit(pool, tmp_path, source, limits=replace(LIMITS, timeout=20.0, cpu_seconds=0.5))
    assert outcome.ending is not None and outcome.ending.signal == "SIGKILL"
    problem = outcome.ending.problem(replace(LIMITS, cpu_seconds=0.5))
    assert problem is not None and "more than its CPU time (0.5 s)" in problem
    assert outcome.duration_s < 10.0


def test_a_submission_that_kills_itself_crashed_rather_than_ran_out_of_cpu(pool: Pool, tmp_path: Path) -> None:
    outcome, _ = _submit(pool, tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    assert outcome.ending is not None
    assert outcome.ending.problem(LIMITS) == "the submission's process crashed (SIGKILL)"


# ---------------------------------------------------------------- a batch across grader processes


SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"


def _without_timings(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "duration_s"}


def test_grader_processes_give_the_verdicts_one_process_gives() -> None:
    from harness.grade import grade_submission

    names = ["correct_notebook_classic.ipynb", "bug_sign_flip_dW2.py", "correct_functions.py", "broken_syntax_error.py"]
    items = [(i, SUBMISSIONS / name) for i, name in enumerate(names)]
    assignment = Assignment()
    got = dict(processes.grade_in_processes(items, assignment, processes=2))
    assert sorted(got) == [0, 1, 2, 3]
    with Pool(1) as pool:
        for i, path in items:
            expected = grade_submission(path, pool, assignment).to_data()
            data = got[i]
            assert isinstance(data, dict) and _without_timings(data) == _without_timings(expected)


def _grader_children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if "_grader_process_main" in cmdline and cmdline.rstrip().endswith(f" {pid}"):
            found.append(int(entry))
    return found


def test_a_batchs_grader_processes_stop_while_its_caller_goes_on_and_close_waits_for_them(tmp_path: Path) -> None:
    from harness.batch import grade_batch_stored

    paths = [SUBMISSIONS / "correct_notebook_classic.ipynb", SUBMISSIONS / "bug_sign_flip_dW2.py"]
    graded = grade_batch_stored(paths, Assignment(), jobs=2, out=tmp_path / "out")
    try:
        assert [v["status"] for v in graded.slims()] == ["graded", "graded"]  # every verdict is in already
        assert len(graded.stopping) == 1  # their shutdown runs on (the reports would be written meanwhile)
    finally:
        graded.close()
    assert graded.stopping == [] and _grader_children(os.getpid()) == []


def test_the_submissions_of_a_grader_process_that_dies_are_graded_by_another(tmp_path: Path) -> None:
    items = []
    for i in range(6):
        path = tmp_path / f"s{i}.py"
        path.write_text(f"import time\ntime.sleep(0.3)\nX = {i}.0\n")
        items.append((i, path))
    seen: dict[int, Any] = {}
    for index, data in processes.grade_in_processes(items, replace(Assignment(), limits=LIMITS), processes=2):
        if not seen:
            victims = _grader_children(os.getpid())
            assert len(victims) == 2
            os.kill(victims[0], signal.SIGKILL)
        seen[index] = data
    assert sorted(seen) == list(range(6))
    assert all(isinstance(d, dict) and d["status"] == "graded" for d in seen.values())
    assert _grader_children(os.getpid()) == []


def test_grader_processes_and_their_workers_die_with_their_parent(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "slow.py"
    path.write_text("import time\ntime.sleep(30)\n")
    script = (
        "import sys\nfrom pathlib import Path\nfrom harness.records.assignment import Assignment\n"
        "from harness.batch.processes import grade_in_processes\n"
        f"for item in grade_in_processes([(0, Path({str(path)!r})), (1, Path({str(path)!r}))], Assignment(), 2):\n"
        "    pass\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    graders: list[int] = []
    while time.monotonic() < deadline and len(graders) < 2:
        graders = _grader_children(parent.pid)
        time.sleep(0.1)
    assert len(graders) == 2

    def workers() -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, ValueError):
                continue
            if state not in (b"Z", b"X") and any(f'"grader": {g}}}'.encode() in cmdline for g in graders):
                found.append(int(entry))
        return found

    while time.monotonic() < deadline and len(workers()) < 4:  # two workers, each running its child
        time.sleep(0.1)
    assert len(workers()) >= 2
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (workers() or _grader_children(parent.pid)):
        time.sleep(0.05)
    assert workers() == [] and _grader_children(parent.pid) == []


# ---------------------------------------------------------------- the channel says what ran

_WRITE_ON_THE_CHANNEL = """import os, socket, stat
def forge(*lines):
    for fd in range(3, 256):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISSOCK(mode):
            s = socket.socket(fileno=os.dup(fd))
            for line in lines:
                s.sendall(line.encode() + b"\\n")
"""
_FORGERIES = {
    "executed_early": 'forge(\'{"ev": "executed", "functions": []}\')\nX = 1\n',
    "return_with_no_call": 'forge(\'{"ev": "return", "value": {"t": "number", "v": 1}}\')\n',
    "huge_integer": 'forge(\'{"ev": "bind", "statement": 1, "label": "x", "values": {"dE_dW1": '
    '{"t": "number", "v": 1\' + \'0\' * 400 + \'}}}\')\n',
    "deep_nesting": "forge('[' * 200000)\nX = 1\n",
    "garbage": 'forge(\'not json at all\', \'{"ev": 12}\', \'{"ev": "exit", "id": 1, "reason": "ended"}\')\nX = 1\n',
}


@pytest.mark.parametrize("name", sorted(_FORGERIES))
def test_writing_on_the_graders_channel_ends_in_a_verdict_that_is_journaled_and_not_retried(
    tmp_path: Path, name: str
) -> None:
    from harness.batch import grade_batch
    from harness.batch.journal import Journal

    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / f"{name}.py").write_text(_WRITE_ON_THE_CHANNEL + _FORGERIES[name])
    (folder / "honest.py").write_text((Path(__file__).parent.parent / "submissions" / "correct_script.py").read_text())
    paths = sorted(folder.iterdir())
    out = tmp_path / "out"
    verdicts = {Path(v["submission"]).stem: v for v in grade_batch(paths, jobs=1, out=out)}
    forged, honest = verdicts[name], verdicts["honest"]
    assert honest["score"] == honest["max_score"] == 10.0
    assert "grade it again" not in str(forged["error"]), forged["error"]
    assert forged["score"] < 10.0
    if forged["status"] == "error":
        assert "wrote on the grader's channel" in str(forged["error"])
    assert {key[0] for key in Journal(out).done()} == {str(p) for p in paths}  # both journaled
    again = {Path(v["submission"]).stem: v for v in grade_batch(paths, jobs=1, out=out, resume=True)}
    assert again[name]["duration_s"] == forged["duration_s"]  # read back, not graded again


# ---------------------------------------------------------------- an assignment's steps and paths

OBJECTS = """
import torch
class Net:
    def __init__(self, d, h, act):
        self.act = act
        self.parameters = {"W": torch.zeros(h, d)}
        self.grads = {}
    def forward(self, x):
        self.x = x
        return x @ self.parameters["W"].T
    def backward(self, g):
        self.grads["dW"] = g.T @ self.x
"""


def test_steps_construct_an_object_set_its_weights_call_its_methods_and_read_its_attributes(
    pool: Pool, tmp_path: Path
) -> None:
    path = tmp_path / "objects.py"
    path.write_text(OBJECTS)
    x = encode_argument(torch.ones(4, 3, dtype=torch.float64), "float64", as_numpy=False)
    w = encode_argument(torch.full((2, 3), 0.5, dtype=torch.float64), "float64", as_numpy=False)
    with pool.session(load(path), LIMITS, [], []) as session:
        session.wait_executed()
        made = session.step("call", "Net", [wire.literal(3), wire.literal(2), wire.literal("relu")], keep_as="net")
        assert made.error is None and made.value is not None and made.value.description == "Net"
        assert session.step("set", "net.parameters['W']", [w]).error is None
        y = session.step("call", "net.forward", [x], keep_as="y")
        assert y.value is not None and y.value.tensor is not None and y.value.tensor.tolist() == [[1.5, 1.5]] * 4
        assert session.step("call", "net.backward", [wire.ref("y")]).error is None
        grads = session.step("get", "net.grads['dW']")
        assert (
            grads.value is not None
            and grads.value.tensor is not None
            and grads.value.tensor.tolist() == [[6.0] * 3] * 2
        )
        act = session.step("get", "net.act")
        assert act.value is not None and act.value.kind == "other"
        missing = session.step("get", "net.grads['db']")
        assert missing.error is not None and missing.error.type == "KeyError"
        unknown = session.step("call", "Nothing")
        assert unknown.error is not None and unknown.error.type == "NameError"
    assert session.outcome.ending is not None and session.outcome.ending.reason == "ended"


def test_a_script_path_into_an_object_is_tracked_and_replaced_by_the_graders_value(pool: Pool, tmp_path: Path) -> None:
    path = tmp_path / "paths.py"
    path.write_text("import torch\n" + OBJECTS + "NN = Net(3, 2, 'relu')\nNN.grads['dW'] = NN.parameters['W'] * 2\n")
    substitute = {"NN.parameters['W']": wire.Substitution(7, wire.ROLE_WEIGHT)}
    paths = ["NN.parameters['W']", "NN.grads['dW']"]
    with pool.session(load(path), LIMITS, paths, [], substitute) as session:
        session.wait_executed()
    history = {b.name: b.value for b in session.outcome.history}
    drawn = torch.tensor(wire.draw_entries(wire.Substitution(7, wire.ROLE_WEIGHT), (2, 3)), dtype=torch.float64)
    weights, grads = history["NN.parameters['W']"].tensor, history["NN.grads['dW']"].tensor
    assert weights is not None and grads is not None
    assert torch.equal(weights, drawn.reshape(2, 3)) and torch.equal(grads, 2 * drawn.reshape(2, 3))


# ---------------------------------------------------------------- reruns in the child of the own run


def _rerun_session(pool: Pool, tmp_path: Path, source: str, names: list[str], runs: int = 3) -> Any:
    path = tmp_path / "rerun.py"
    path.write_text(source)
    return pool.session(load(path), LIMITS, names, [], runs=runs)


def _own_then_rerun(session: Any) -> tuple[Outcome, Outcome]:
    """The session's own run, then one rerun with nothing replaced, each waited for."""
    own = session.outcome
    session.wait_executed()
    rerun = session.rerun({})
    assert rerun is not None
    session.wait_executed()
    return own, rerun


def test_a_rerun_runs_the_code_again_in_the_same_child_from_fresh_globals_on_the_graders_inputs(
    pool: Pool, tmp_path: Path
) -> None:
    source = (
        "import os, sys, torch\nX = torch.tensor([[0.5], [0.25]])\n"
        "try:\n    carried += 1\nexcept NameError:\n    carried = 1\nsys.stdout.write(f'pid {os.getpid()} X {X.tolist()}\\n')\n"
    )
    substitute = {"X": wire.Substitution(11, wire.ROLE_INPUT)}
    jobs = pool.workers[0].jobs
    with _rerun_session(pool, tmp_path, source, ["X", "carried"]) as session:
        own = session.outcome
        session.wait_executed()
        rerun = session.rerun(substitute)
        assert rerun is not None and rerun is session.outcome and rerun is not own
        session.wait_executed()
    assert pool.workers[0].jobs == jobs + 1  # one job, one child, for both runs
    assert own.ending is not None and own.ending.reason == wire.END_ENDED and own.ending.problem(LIMITS) is None
    assert rerun.ending is not None and rerun.ending.reason == wire.END_ENDED
    own_pid, rerun_pid = (o.ending.stdout.split()[1] for o in (own, rerun) if o.ending is not None)
    assert own_pid == rerun_pid  # the same child
    assert own.ending.stdout.count("pid") == rerun.ending.stdout.count("pid") == 1  # each run's own output
    for outcome in (own, rerun):
        carried = outcome.final("carried")
        assert carried is not None and carried.tensor is not None and carried.tensor.item() == 1.0  # fresh globals
    drawn = torch.tensor(wire.draw_entries(substitute["X"], (2, 1)), dtype=torch.float64).reshape(2, 1)
    own_x, rerun_x = own.final("X"), rerun.final("X")
    assert own_x is not None and own_x.tensor is not None and own_x.tensor.tolist() == [[0.5], [0.25]]
    assert rerun_x is not None and rerun_x.tensor is not None and torch.equal(rerun_x.tensor, drawn)


def test_a_rerun_starts_from_the_directory_seeds_and_streams_of_a_fresh_run_with_the_files_gone(
    pool: Pool, tmp_path: Path
) -> None:
    source = (
        "import os, sys, io, torch\nsys.stdout.write(f\"{os.getcwd()} {sorted(os.listdir('.'))} {torch.rand(2).tolist()}\\n\")\n"
        "open('left-behind.txt', 'w').write('x')\nos.chdir('/')\nsys.stdout = io.StringIO()\n"
    )
    with _rerun_session(pool, tmp_path, source, []) as session:
        own, rerun = _own_then_rerun(session)
    assert own.ending is not None and rerun.ending is not None
    assert own.ending.stdout == rerun.ending.stdout and "[]" in own.ending.stdout


def test_a_rerun_formats_nothing_it_prints_to_its_own_streams_and_prints_anywhere_else(
    pool: Pool, tmp_path: Path
) -> None:
    source = (
        "import io, sys, contextlib\n"
        "class Loud:\n    def __str__(self):\n        shown.append(1)\n        return 'loud'\n"
        "shown = []\nprint(Loud())\nprint(Loud(), file=sys.stderr)\nbuffer = io.StringIO()\n"
        "with contextlib.redirect_stdout(buffer):\n    print(Loud(), 'captured')\n"
        "with open('out.txt', 'w') as f:\n    print(Loud(), file=f)\n"
        "count = float(len(shown))\nsys.stdout.write(buffer.getvalue() + open('out.txt').read())\n"
    )
    with _rerun_session(pool, tmp_path, source, ["count"]) as session:
        own, rerun = _own_then_rerun(session)
    assert own.ending is not None and rerun.ending is not None
    assert own.ending.stdout == "loud\nloud captured\nloud\n" and own.ending.stderr == "loud\n"
    assert rerun.ending.stdout == "loud captured\nloud\n" and rerun.ending.stderr == ""  # read by nobody: not formatted
    counts = [o.final("count") for o in (own, rerun)]
    assert [c.tensor.item() for c in counts if c is not None and c.tensor is not None] == [4.0, 2.0]


def test_a_rerun_has_a_cpu_allowance_of_its_own_within_the_jobs_hard_limit(pool: Pool, tmp_path: Path) -> None:
    limits = replace(LIMITS, cpu_seconds=4.0)
    path = tmp_path / "cpu.py"
    path.write_text("import resource as r, sys\nsys.stdout.write(str(r.getrlimit(r.RLIMIT_CPU)))\n")
    with pool.session(load(path), limits, [], [], runs=3) as session:
        own, rerun = _own_then_rerun(session)
    assert own.ending is not None and rerun.ending is not None
    assert eval(own.ending.stdout) == (4, 13)  # one run's allowance; the hard limit: three runs' and a second
    soft, hard = eval(rerun.ending.stdout)
    assert 4 <= soft < hard == 13


def test_a_rerun_that_runs_past_its_time_ends_the_child_and_no_rerun_follows(pool: Pool, tmp_path: Path) -> None:
    source = "import time\nlr = 0.5\nif lr != 0.5:\n    time.sleep(60)\n"
    limits = replace(LIMITS, timeout=1.0)
    path = tmp_path / "slow.py"
    path.write_text(source)
    with pool.session(load(path), limits, ["lr"], [], runs=3) as session:
        own = session.outcome
        session.wait_executed()
        rerun = session.rerun({"lr": wire.Substitution(3, wire.ROLE_RATE)})
        assert rerun is not None
        session.wait_executed()
        assert session.rerun({"lr": wire.Substitution(4, wire.ROLE_RATE)}) is None
    assert own.ending is not None and own.ending.problem(limits) is None
    assert rerun.ending is not None and rerun.ending.reason == wire.END_TIMEOUT


def test_a_job_reruns_no_more_often_than_it_declared(pool: Pool, tmp_path: Path) -> None:
    with _rerun_session(pool, tmp_path, "X = 1.0\n", ["X"], runs=1) as session:
        session.wait_executed()
        assert session.rerun({}) is None  # the grader's side refuses
        assert session.worker.send(wire.rerun_message(session.job_id, {}))  # and the worker ignores one sent anyway
    outcome = session.outcome
    assert outcome.ending is not None and outcome.ending.reason == wire.END_ENDED
    assert [b.name for b in outcome.history] == ["X"]


def test_a_course_script_assignment_is_graded_on_all_its_runs_in_one_child(pool: Pool) -> None:
    from harness.definition import load_assignment
    from harness.grade import grade_submission

    assignment = load_assignment("backprop-drill")
    assert assignment.definition is not None and assignment.definition.runs == 2
    jobs = pool.workers[0].jobs
    path = Path(__file__).resolve().parent.parent / "harness" / "assignments" / "backprop-drill" / "solution.ipynb"
    verdict = grade_submission(path, pool, assignment)
    assert pool.workers[0].jobs == jobs + 1
    assert verdict.status == "graded" and verdict.score == verdict.max_score


def test_a_script_is_graded_on_all_its_runs_in_one_child(pool: Pool) -> None:
    from harness.grade import grade_submission

    jobs = pool.workers[0].jobs
    path = Path(__file__).resolve().parent.parent / "submissions" / "correct_notebook_classic.ipynb"
    verdict = grade_submission(path, pool, Assignment())
    assert pool.workers[0].jobs == jobs + 1
    assert verdict.score == verdict.max_score
    assert all(len(c.runs) == 1 + Assignment().grader_runs for c in verdict.checks if c.runs)


# ---------------------------------------------------------------- the bell: the worker sleeps through what it holds back


def test_an_event_longer_than_the_socket_holds_crosses_between_two_rings(pool: Pool, tmp_path: Path) -> None:
    limits = replace(LIMITS, timeout=20.0)
    outcome, _ = _submit(pool, tmp_path, "import torch\nX = torch.arange(150000.0)\nW1 = X * 2\n", limits=limits)
    assert outcome.ending is not None and outcome.ending.reason == wire.END_ENDED
    x, w1 = outcome.final("X"), outcome.final("W1")
    assert x is not None and x.tensor is not None and x.tensor.numel() == 150000
    assert w1 is not None and w1.tensor is not None and float(w1.tensor[-1]) == 2 * 149999.0


def test_the_values_bound_before_a_hang_reach_the_grader_though_nothing_rang(pool: Pool, tmp_path: Path) -> None:
    outcome, _ = _submit(
        pool, tmp_path, "X = 1.5\nW1 = 2.5\nwhile True:\n    pass\n", limits=replace(LIMITS, timeout=1.0)
    )
    assert outcome.ending is not None and outcome.ending.reason == wire.END_TIMEOUT
    assert [b.name for b in outcome.history][:2] == ["X", "W1"]


def test_a_child_that_closes_its_bell_is_still_heard(pool: Pool, tmp_path: Path) -> None:
    source = (
        "import os, stat\n"
        "for fd in range(3, 64):\n"
        "    if os.path.exists(f'/proc/self/fd/{fd}') and stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
        "        os.close(fd)\n"
        "X = 3.0\n"
    )
    outcome, _ = _submit(pool, tmp_path, source)
    assert outcome.executed and outcome.ending is not None and outcome.ending.reason == wire.END_ENDED
    x = outcome.final("X")
    assert x is not None and x.tensor is not None and x.tensor.item() == 3.0
