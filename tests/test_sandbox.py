"""The sandbox: what a worker's command line asks for, and what a child can see and do.

The probes run a small submission in a real worker and read what it printed about itself.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import harness
import harness.run.sandbox as sandbox
import reference
from harness.errors import SandboxUnavailable, UsageError
from harness.load import load
from harness.records.assignment import Assignment, Limits
from harness.run.pool import Pool
from harness.run.sandbox import FIRST_UID, bubblewrap_problem, claim_uid, hidden_paths, worker_command

ROOT = os.geteuid() == 0
SANDBOX = pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox here: {bubblewrap_problem()}")
AS_ROOT = pytest.mark.skipif(not ROOT, reason="children get uids of their own only when the grader is root")
LIMITS = replace(Assignment().limits, timeout=10.0)

PROBE = r"""
import json, os, socket
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
def can_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        os.unlink(path)
        return True
    except OSError:
        return False
def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        return type(exc).__name__
facts = {
    "uid": os.getuid(), "euid": os.geteuid(),
    "cap_eff": int(status["CapEff"].strip(), 16), "cap_prm": int(status["CapPrm"].strip(), 16),
    "no_new_privs": status.get("NoNewPrivs", "").strip(),
    "interfaces": [name for _, name in socket.if_nameindex()],
    "write_usr": can_write("/usr/gradproof-probe"), "write_cwd": can_write("probe.txt"),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "tmp": listing("/tmp"), "ppid": os.getppid(),
    "hidden": {p: listing(p) for p in HIDDEN},
}
print(json.dumps(facts))
"""


@pytest.fixture(
    scope="module", params=[pytest.param("require", id="sandbox", marks=SANDBOX), pytest.param("off", id="fallback")]
)
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """What a child saw of itself and its surroundings, in each mode."""
    folder = tmp_path_factory.mktemp("probe")
    hidden = [str(Path(harness.__file__).parent), str(Path(reference.__file__).parent), str(Path(__file__).parent)]
    marker = Path("/tmp") / f"gradproof-probe-host-{os.getpid()}"
    marker.write_text("on the host")
    path = folder / "probe.py"
    path.write_text(f"HIDDEN = {hidden!r}\n" + PROBE)
    try:
        with Pool(1, request.param) as pool:
            with pool.session(load(path), LIMITS, [], []) as session:
                session.wait_executed()
            outcome = session.outcome
    finally:
        marker.unlink()
    assert outcome.ending is not None and outcome.error is None, (outcome.error, outcome.ending)
    facts: dict[str, Any] = json.loads(outcome.ending.stdout)
    facts["mode"] = request.param
    facts["marker"] = marker.name
    facts["hidden_paths"] = hidden
    facts["isolation"] = outcome.isolation
    yield facts


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize(
    "field", ["timeout", "memory_bytes", "processes", "file_bytes", "output_bytes", "output_keep_bytes"]
)
@pytest.mark.parametrize("value", [0, -1, True, "10"])
def test_a_limit_that_is_not_a_positive_number_is_a_usage_error(field: str, value: Any) -> None:
    with pytest.raises(UsageError, match=field):
        Limits(**{field: value})


def test_the_report_keeps_at_most_four_mib_of_each_stream() -> None:
    with pytest.raises(UsageError, match="output_keep_bytes"):
        Limits(output_keep_bytes=4 * 1024**2 + 1)


def test_the_cpu_limit_leaves_the_last_word_to_the_wall_clock_unless_set() -> None:
    assert Limits(timeout=3).cpu_limit == 4.0
    assert Limits(timeout=3, cpu_seconds=1.5).cpu_limit == 1.5
    assert Limits(timeout=3).as_data()["cpu_seconds"] == 4.0


# ---------------------------------------------------------------- the command line


def test_without_the_sandbox_a_worker_is_a_plain_process_and_says_so() -> None:
    command = worker_command(0, "off", [])
    assert command.argv[0] == sys.executable and "bwrap" not in command.argv
    assert (
        command.isolation.startswith("process (") and "no namespaces: the sandbox was turned off" in command.isolation
    )


def test_requiring_the_sandbox_where_it_cannot_work_fails_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "bubblewrap_problem", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(SandboxUnavailable, match="not installed"):
        worker_command(0, "require", [])
    assert worker_command(0, "auto", []).isolation.startswith("process (")


def test_an_unknown_sandbox_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="sandbox"):
        worker_command(0, "maybe", [])  # type: ignore[arg-type]


@SANDBOX
def test_the_sandbox_drops_every_capability_the_worker_does_not_need(tmp_path: Path) -> None:
    argv = worker_command(0, "require", [tmp_path]).argv
    for flag in ("--die-with-parent", "--unshare-pid", "--unshare-net", "--new-session", "--clearenv"):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    added = {argv[i + 1] for i, a in enumerate(argv) if a == "--cap-add"}
    assert added == ({"CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL"} if ROOT else set())
    assert ["--tmpfs", str(tmp_path)] == argv[argv.index(str(tmp_path)) - 1 : argv.index(str(tmp_path)) + 1]
    assert argv[argv.index("--ro-bind") + 1 : argv.index("--ro-bind") + 3] == ["/", "/"]


def test_the_isolation_text_is_the_same_whichever_worker_says_it() -> None:
    for mode in ("auto", "off"):
        assert worker_command(0, mode, []).isolation == worker_command(5, mode, []).isolation


def test_the_graders_own_files_are_hidden_but_never_the_interpreter() -> None:
    hidden = hidden_paths([])
    assert Path(harness.__file__).parent.resolve() in hidden
    assert Path(reference.__file__).parent.resolve() in hidden
    assert Path(__file__).resolve().parent in hidden
    prefix = Path(sys.prefix).resolve()
    assert not any(p == prefix or p in prefix.parents for p in hidden)


@AS_ROOT
def test_each_worker_claims_a_uid_no_other_worker_on_the_machine_holds() -> None:
    first, lock1 = claim_uid()
    second, lock2 = claim_uid()
    try:
        assert first != second and first >= FIRST_UID and second >= FIRST_UID
    finally:
        os.close(lock1)
    again, lock3 = claim_uid()
    os.close(lock2)
    os.close(lock3)
    assert again == first  # released with its lock


# ---------------------------------------------------------------- what a child sees


@AS_ROOT
def test_the_child_runs_as_an_unprivileged_uid_that_cannot_gain_privileges(probe: dict[str, Any]) -> None:
    assert probe["uid"] == probe["euid"] >= FIRST_UID
    assert probe["no_new_privs"] == "1"
    if probe["mode"] == "require" or sandbox.interpreter_is_public():
        assert probe["cap_eff"] == probe["cap_prm"] == 0
    else:  # no namespaces and a private home holding the interpreter: it may read, nothing more
        assert probe["cap_eff"] == probe["cap_prm"] == 1 << 2  # CAP_DAC_READ_SEARCH


def test_the_child_writes_in_its_own_directory_and_nowhere_in_the_system(probe: dict[str, Any]) -> None:
    assert probe["write_cwd"] is True
    if ROOT or probe["mode"] == "require":
        assert probe["write_usr"] is False


def test_in_the_sandbox_the_child_has_no_network_but_loopback(probe: dict[str, Any]) -> None:
    if probe["mode"] != "require":
        pytest.skip("without namespaces the child has the machine's network (the report's isolation says so)")
    assert probe["interfaces"] == ["lo"]
    assert len(socket.if_nameindex()) >= 1


def test_in_the_sandbox_the_graders_files_are_empty_folders(probe: dict[str, Any]) -> None:
    if probe["mode"] != "require":
        pytest.skip("without namespaces nothing is hidden (the report's isolation says so)")
    assert probe["hidden"] == {p: [] for p in probe["hidden_paths"]}


def test_in_the_sandbox_tmp_is_private_and_the_graders_processes_are_invisible(probe: dict[str, Any]) -> None:
    if probe["mode"] != "require":
        pytest.skip("without namespaces /tmp and /proc are the machine's")
    assert probe["marker"] not in probe["tmp"]
    assert os.getpid() not in probe["pids"] and len(probe["pids"]) <= 4
    assert "bubblewrap" in probe["isolation"]


def test_a_virtualenv_under_tmp_stays_reachable_inside_the_private_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import subprocess
    import sys
    import tempfile

    from harness.run import sandbox

    if sandbox.bubblewrap_problem() is not None:
        pytest.skip("bubblewrap cannot create namespaces here")
    home = Path(tempfile.mkdtemp(dir="/tmp"))
    home.chmod(0o755)  # like `python -m venv /tmp/venv`: open to all, hidden only by the private /tmp
    venv = home / "venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "lib" / "marker.txt").write_text("here")
    monkeypatch.setattr(sys, "prefix", str(venv))
    command = sandbox.worker_command(0, "require", [])
    prefix = command.argv[: command.argv.index(sys.executable)]
    assert prefix[prefix.index("/tmp") - 1] == "--tmpfs"  # /tmp is private ...
    try:
        done = subprocess.run(
            [*prefix, "cat", str(venv / "lib" / "marker.txt")], capture_output=True, text=True, timeout=60
        )
    finally:
        shutil.rmtree(home)
    assert done.stdout == "here", done.stderr  # ... and the virtualenv in it is bound back
