"""The hostile corpus (``tests/hostile/*.py``), graded in the real sandbox and in the fallback.

Each mode grades every file in one ``grade_batch`` call, with limits small enough for CI.
Every file must end in its expected verdict, the correct submission among them must still
get 10/10, and nothing may be left behind: no process of the uids the workers' children ran
as, no daemon, no file outside the children's private directories.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import harness
import reference
from harness.batch import grade_batch
from harness.records.assignment import Assignment
from harness.run.pool import GRACE_S
from harness.run.sandbox import bubblewrap_problem

HOSTILE = Path(__file__).resolve().parent / "hostile"
CHECKOUT = HOSTILE.parent.parent
FILES = sorted(p.name for p in HOSTILE.glob("*.py"))
ROOT = os.geteuid() == 0
# The time limit leaves room for a loaded 2-core CI machine: the memory bomb fills 512 MiB
# page by page beside two spinning neighbours, and once ran past a limit of 3 s there.
LIMITS = replace(
    Assignment().limits,
    timeout=8.0,
    memory_bytes=512 * 1024**2,
    processes=16,
    file_bytes=1024**2,
    output_bytes=1024**2,
    output_keep_bytes=4096,
    scratch_bytes=8 * 1024**2,
)
DAEMON_MARKERS = ("sleep 4711", "gradproof-hostile-daemon")
HOST_TARGETS = [
    Path("/tmp/gradproof-hostile-escape"),
    Path("/tmp/gradproof-hostile-tmp"),
    Path("/tmp/gradproof-hostile-dir"),
    Path("/var/tmp/gradproof-hostile-vartmp"),
    Path("/dev/shm/gradproof-hostile-shm"),
    Path("/gradproof-hostile-root"),
    Path.home() / "gradproof-hostile-home",
]

MODES = [
    pytest.param(
        "require",
        id="sandbox",
        marks=pytest.mark.skipif(bubblewrap_problem() is not None, reason=f"no sandbox here: {bubblewrap_problem()}"),
    ),
    pytest.param("off", id="fallback"),
]


# As root the batch's workers claim uids from a window of this test's own (in whatever
# process they run), so that what they leave behind can be told from other graders' work.
UID_WINDOW = 62000 + (os.getpid() % 400) * 8
UIDS = list(range(UID_WINDOW, UID_WINDOW + 8))


def _processes() -> list[tuple[int, int, str, str]]:
    """(pid, uid, state, command line) of every process on the machine."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state = stat[stat.rfind(b")") + 2 :].split()[0].decode()
        found.append((int(entry), uid, state, cmdline))
    return found


def _leftovers(uids: list[int]) -> list[tuple[int, int, str, str]]:
    """Live processes of ``uids`` or carrying a daemon marker, after a short grace period."""
    deadline = time.monotonic() + 3.0
    while True:
        left = [
            p
            for p in _processes()
            if p[2] not in ("Z", "X") and (p[1] in uids or any(m in p[3] for m in DAEMON_MARKERS))
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture(scope="module", params=MODES)
def batch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every hostile file graded in one batch; what was left behind, looked at right after."""
    mode = request.param
    for target in HOST_TARGETS:
        assert not target.exists(), f"{target} exists before the batch: remove it first"
    out = tmp_path_factory.mktemp(f"hostile-{mode}")
    assignment = replace(Assignment(), limits=LIMITS)
    started = time.monotonic()
    uids = UIDS if ROOT else []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADPROOF_FIRST_UID", str(UID_WINDOW))
        verdicts = grade_batch(
            [HOSTILE / name for name in FILES], assignment, jobs=2, sandbox=mode, out=out, hide=[HOSTILE]
        )
    took = time.monotonic() - started
    leftovers = _leftovers(uids)
    written = [str(t) for t in HOST_TARGETS if t.exists()]
    owned = []
    for place in ("/tmp", "/var/tmp", "/dev/shm"):
        for entry in os.listdir(place) if os.path.isdir(place) else []:
            try:
                if os.lstat(os.path.join(place, entry)).st_uid in uids:
                    owned.append(os.path.join(place, entry))
            except OSError:
                pass
    yield {
        "mode": mode,
        "by_name": {Path(v["submission"]).name: v for v in verdicts},
        "uids": uids,
        "leftovers": leftovers,
        "written": written,
        "owned": owned,
        "took": took,
    }


def _notes(v: dict[str, Any]) -> str:
    return " | ".join(v["notes"])


def _stopped_by(text: str) -> Callable[[dict[str, Any], str], None]:
    def check(v: dict[str, Any], mode: str) -> None:
        assert v["status"] == "graded" and v["score"] == 0.0, v
        assert text in _notes(v), _notes(v)

    return check


def _grader_import(package: str) -> Callable[[dict[str, Any], str], None]:
    def check(v: dict[str, Any], mode: str) -> None:
        assert v["status"] == "graded" and v["score"] == 0.0, v  # graded on its own work: none
        (flag,) = [f for f in v["flags"] if f["id"] == "grader-import"]
        assert any(package in e for e in flag["evidence"]), flag

    return check


def _flood(v: dict[str, Any], mode: str) -> None:
    _stopped_by("printed more than 1024 KiB and was stopped")(v, mode)
    assert v["stdout"].startswith("HEAD-OF-THE-FLOOD\n")
    assert len(v["stdout"].encode()) <= 4096
    assert "never reached" not in v["stdout"]


def _write_outside(v: dict[str, Any], mode: str) -> None:
    assert v["status"] == "graded" and v["score"] == 0.0
    if mode == "require":  # the system is read-only; only the private /tmp takes writes
        assert "REFUSED ../../gradproof-hostile-escape" in v["stdout"]
        assert "REFUSED /var/tmp/gradproof-hostile-vartmp" in v["stdout"]


def _editable_finder_on_the_host() -> bool:
    return any(glob.glob(os.path.join(p, "__editable__*gradproof*finder.py")) for p in sys.path if p)


def _read_grader_files(v: dict[str, Any], mode: str) -> None:
    assert v["status"] == "graded"
    if mode == "require":  # not even the editable install's finder is there to name the checkout
        assert "ROOTS []" in v["stdout"] and "READ " not in v["stdout"], v["stdout"]
    elif _editable_finder_on_the_host():
        assert "ROOTS [" in v["stdout"] and "ROOTS []" not in v["stdout"], "the probe found no checkout to look in"
    if ROOT:  # another uid than the grader's: no reading the grader's memory or environment
        assert "REFUSED /proc/1/root" in v["stdout"] or mode != "require"
        assert "environ PermissionError" in v["stdout"] and "mem PermissionError" in v["stdout"]


def _grader_paths() -> list[str]:
    """Paths that would tell a child where the grader's files are."""
    paths = [str(HOSTILE), str(Path(harness.__file__).parent), str(Path(reference.__file__).parent)]
    prefix = Path(sys.prefix).resolve()
    if prefix != CHECKOUT and CHECKOUT not in prefix.parents:  # a .venv inside the checkout names it
        paths.append(str(CHECKOUT))
    return paths


def _list_readable(v: dict[str, Any], mode: str) -> None:
    assert v["status"] == "graded" and v["stdout"].startswith("FOUND "), v
    if mode != "require":  # the fallback sees the machine
        assert not v["stdout"].startswith("FOUND 0\n"), v["stdout"]
        return
    assert v["stdout"].startswith("FOUND 0\n"), v["stdout"]  # nothing but its directory and the runtime
    commands = "\n".join(line for line in v["stdout"].splitlines() if line.startswith("CMDLINE"))
    assert commands.startswith("CMDLINE0 bwrap --args "), commands
    assert not [p for p in _grader_paths() if p in commands], commands


def _fill_scratch(v: dict[str, Any], mode: str) -> None:
    assert v["status"] == "graded" and v["score"] == 0.0
    wrote = int(v["stdout"].split("WROTE ", 1)[1].split()[0])
    bounded = re.search(r"private /tmp and /dev/shm of (\d+) MiB each", v["isolation"])
    if mode == "require" and bounded:
        assert "No space left on device (fill_scratch.py, line" in _notes(v), _notes(v)
        assert wrote <= int(bounded.group(1)), (wrote, v["isolation"])
    else:  # nothing bounds it: it wrote it all (and the worker removed it)
        assert wrote == 72, v


def _monkeypatch(v: dict[str, Any], mode: str) -> None:
    checks = {c["name"]: c["status"] for c in v["checks"]}
    assert checks["dE_dW2"] == "fail" and checks["dE_dW1"] == "fail", checks
    assert v["score"] <= 3.0


def _orphans(v: dict[str, Any], mode: str) -> None:
    assert v["status"] == "graded" and "left two processes behind" in v["stdout"]
    assert "stopped" not in _notes(v)


def _network(v: dict[str, Any], mode: str) -> None:
    assert v["status"] == "graded" and v["score"] == 0.0
    if mode == "require":
        assert "INTERFACES ['lo']" in v["stdout"]
        assert "OSError: [Errno 101] Network is unreachable (network.py, line 7)" in _notes(v)


def _kill_supervisor(v: dict[str, Any], mode: str) -> None:
    if ROOT or mode == "require":
        _stopped_by("PermissionError: [Errno 1] Operation not permitted (kill_supervisor.py, line 7)")(v, mode)
    else:  # the fallback without root shares the worker's uid: the kill works, and is the verdict
        _stopped_by("killed or broke the process that supervised it")(v, mode)


def _correct(v: dict[str, Any], mode: str) -> None:
    assert v["status"] == "graded" and v["score"] == 10.0 == v["max_score"], v


EXPECTED: dict[str, Callable[[dict[str, Any], str], None]] = {
    "infinite_loop.py": _stopped_by(f"ran past its time limit of {LIMITS.timeout:g} s and was stopped"),
    "catch_base_exception.py": _stopped_by(f"ran past its time limit of {LIMITS.timeout:g} s and was stopped"),
    "memory_bomb.py": _stopped_by("MemoryError (memory_bomb.py, line 5)"),
    "fork_bomb.py": _stopped_by("BlockingIOError: [Errno 11] Resource temporarily unavailable (fork_bomb.py, line 7)"),
    "sys_exit.py": _stopped_by("SystemExit: 3 (sys_exit.py, line 6)"),
    "os_exit.py": _stopped_by("process exited (exit code 7) before it was done"),
    "keyboard_interrupt.py": _stopped_by("KeyboardInterrupt (keyboard_interrupt.py, line 3)"),
    "segfault.py": _stopped_by("process crashed (SIGSEGV)"),
    "flood_output.py": _flood,
    "write_outside.py": _write_outside,
    "read_grader_files.py": _read_grader_files,
    "list_readable.py": _list_readable,
    "fill_scratch.py": _fill_scratch,
    "import_reference.py": _grader_import("reference"),
    "import_harness_hidden.py": _grader_import("harness"),
    "monkeypatch_torch.py": _monkeypatch,
    "orphan_daemon.py": _orphans,
    "network.py": _network,
    "kill_supervisor.py": _kill_supervisor,
    "correct_script.py": _correct,
}


def test_every_file_of_the_corpus_has_an_expected_verdict() -> None:
    assert sorted(EXPECTED) == FILES


@pytest.mark.parametrize("name", FILES)
def test_each_hostile_submission_ends_in_its_expected_verdict(batch: dict[str, Any], name: str) -> None:
    EXPECTED[name](batch["by_name"][name], batch["mode"])


def test_the_report_says_how_each_submission_was_isolated(batch: dict[str, Any]) -> None:
    graded = [v for v in batch["by_name"].values() if v["status"] == "graded"]
    expected = "bubblewrap (" if batch["mode"] == "require" else "process ("
    assert graded and all(v["isolation"].startswith(expected) for v in graded)


def test_a_correct_submission_in_the_same_batch_is_still_graded_ten_out_of_ten(batch: dict[str, Any]) -> None:
    _correct(batch["by_name"]["correct_script.py"], batch["mode"])


def test_the_children_ran_as_the_uids_the_batch_claimed(batch: dict[str, Any]) -> None:
    if not ROOT:
        pytest.skip("children get uids of their own only when the grader is root")
    probe = batch["by_name"]["read_grader_files.py"]
    assert probe["status"] == "graded"
    uid = int(probe["stdout"].split("UID ", 1)[1].split()[0])
    assert uid in batch["uids"]


def test_no_process_of_the_batch_outlives_it(batch: dict[str, Any]) -> None:
    assert batch["leftovers"] == []


def test_nothing_the_submissions_wrote_is_left_outside_their_private_directories(batch: dict[str, Any]) -> None:
    if not ROOT and batch["mode"] != "require":
        pytest.skip("the fallback without root shares the grader's uid: its writes cannot be told apart")
    assert batch["written"] == []
    assert batch["owned"] == []


def test_no_submission_holds_the_batch_past_its_time_limit_and_the_grace(batch: dict[str, Any]) -> None:
    durations = {name: v["duration_s"] for name, v in batch["by_name"].items()}
    assert all(d <= LIMITS.timeout + GRACE_S for d in durations.values()), durations
