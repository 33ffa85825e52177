"""A batch that never loses a result: kill -9 mid-batch, ``--resume``, the same report.

Runs the real ``gradproof grade`` command as a subprocess.  The batch mixes correct and buggy
submissions, slow ones (so that the kill lands mid-batch) and every kind of bad input.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.batch.journal import JOURNAL, Journal

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"
GRADPROOF = [sys.executable, "-c", "from harness.cli import run; run()"]

SLOW = """import time
import torch
time.sleep(0.4)
X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3)
W2 = torch.rand(3, 1)
H = torch.sigmoid(W1.T @ X)
Y_cap = torch.sigmoid(H.T @ W2)
E = (Y - Y_cap) ** 2
"""
BAD = {
    "bad_invalid_json.ipynb": b'{"cells": [',
    "bad_empty_file.ipynb": b"",
    "bad_no_cells.ipynb": json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode(),
    "bad_nbformat3.ipynb": json.dumps(
        {
            "nbformat": 3,
            "nbformat_minor": 0,
            "metadata": {},
            "worksheets": [
                {
                    "cells": [
                        {"cell_type": "code", "input": "X = 1", "language": "python", "outputs": [], "metadata": {}}
                    ],
                    "metadata": {},
                }
            ],
        }
    ).encode(),
    "bad_binary_junk.py": bytes(range(256)) * 8,
    "bad_not_utf8.py": "W1 = 'caf\u00e9'\n".encode("latin-1"),
    "bad_huge.py": b"# padding\n" * 300_000,
}


def _strip(value: Any) -> Any:
    """A report without its timings."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "duration_s"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _live_processes() -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in (b"Z", b"X"):
            found.append((int(entry), cmdline))
    return found


def _grader_processes(pid: int, out: Path, graders: set[int]) -> list[str]:
    """Live processes that belong to the grader ``pid``: its grader processes (one per job, if it
    runs them), the workers of either (and their children, which share the worker's command line)
    and its bubblewraps (whose command line names ``out``)."""
    found = []
    owners = {pid} | graders
    for entry, cmdline in _live_processes():
        if (
            any(f'"grader": {owner}}}' in cmdline for owner in owners)
            or (cmdline.startswith("bwrap ") and str(out) in cmdline)
            or (entry in graders)
        ):
            found.append(f"{entry}: {cmdline[:100]}")
    return found


def _grader_children(pid: int) -> set[int]:
    """The grader processes a grader started (``harness.run.grade_in_processes``), if any."""
    return {
        entry
        for entry, cmdline in _live_processes()
        if "_grader_process_main" in cmdline and cmdline.rstrip().endswith(f" {pid}")
    }


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("batch") / "in"
    folder.mkdir()
    for i in range(8):
        shutil.copy(SUBMISSIONS / "correct_notebook_classic.ipynb", folder / f"a{i:02d}_classic.ipynb")
        (folder / f"a{i:02d}_slow.py").write_text(SLOW + f"# {i}\n")
    for name in (
        "bug_sign_flip_dW2.py",
        "bug_missing_factor_2.ipynb",
        "correct_functions.py",
        "partial_script_forward_only.py",
        "broken_syntax_error.py",
    ):
        shutil.copy(SUBMISSIONS / name, folder / f"b_{name}")
    for name, data in BAD.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def runs(batch: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The batch graded without interruption, and killed with SIGKILL mid-batch then resumed."""
    base = tmp_path_factory.mktemp("runs")
    whole, killed = base / "whole", base / "killed"
    done = subprocess.run(
        [*GRADPROOF, "grade", str(batch), "--out", str(whole), "--jobs", "2", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    total = len(list(batch.iterdir()))

    proc = subprocess.Popen(
        [*GRADPROOF, "grade", str(batch), "--out", str(killed), "--jobs", "2", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    journal = killed / JOURNAL
    deadline = time.monotonic() + 120
    lines = 0
    while time.monotonic() < deadline and proc.poll() is None:
        lines = journal.read_bytes().count(b"\n") if journal.exists() else 0
        if lines >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the batch ended before it could be killed"
    graders = _grader_children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.stderr is not None
    proc.stderr.close()
    at_kill = journal.read_bytes().count(b"\n")
    survivors = _grader_processes(proc.pid, killed, graders)
    deadline = time.monotonic() + 5
    while survivors and time.monotonic() < deadline:
        time.sleep(0.05)
        survivors = _grader_processes(proc.pid, killed, graders)
    report_after_kill = (killed / "report.json").exists()

    resumed = subprocess.run(
        [*GRADPROOF, "grade", str(batch), "--out", str(killed), "--jobs", "1", "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    return {
        "whole": json.loads((whole / "report.json").read_text()),
        "resumed": json.loads((killed / "report.json").read_text()),
        "journal": (killed / JOURNAL).read_text().splitlines(),
        "total": total,
        "at_kill": at_kill,
        "survivors": survivors,
        "report_after_kill": report_after_kill,
    }


def test_the_kill_landed_mid_batch(runs: dict[str, Any]) -> None:
    assert 3 <= runs["at_kill"] < runs["total"]
    assert not runs["report_after_kill"]  # the final report is only written once everything is graded


def test_no_worker_bwrap_or_child_survives_the_graders_sigkill(runs: dict[str, Any]) -> None:
    assert runs["survivors"] == []


def test_a_batch_killed_with_sigkill_and_resumed_reports_what_an_uninterrupted_batch_does(runs: dict[str, Any]) -> None:
    assert _strip(runs["resumed"]) == _strip(runs["whole"])


def test_the_resumed_batch_graded_each_submission_exactly_once(runs: dict[str, Any]) -> None:
    names = [json.loads(line)["submission"] for line in runs["journal"]]
    assert len(names) == len(set(names)) == runs["total"]


def test_bad_inputs_get_a_clear_verdict_each_and_the_batch_carries_on(runs: dict[str, Any]) -> None:
    by_name = {Path(v["submission"]).name: v for v in runs["whole"]["submissions"]}
    expected = {
        "bad_invalid_json.ipynb": "not valid JSON",
        "bad_empty_file.ipynb": "not valid JSON",
        "bad_no_cells.ipynb": "no code cells",
        "bad_binary_junk.py": "binary",
        "bad_not_utf8.py": "not UTF-8",
        "bad_huge.py": "over the",
    }
    for name, phrase in expected.items():
        assert by_name[name]["status"] == "error" and phrase in by_name[name]["error"], (name, by_name[name]["error"])
    old = by_name["bad_nbformat3.ipynb"]  # upgraded by nbformat and graded, or refused with a reason
    assert old["status"] == "graded" or "nbformat" in old["error"]
    assert by_name["a00_classic.ipynb"]["score"] == 10.0 and by_name["b_correct_functions.py"]["score"] == 10.0
    assert by_name["a00_slow.py"]["status"] == "graded"


def test_a_torn_last_journal_line_is_cut_off_and_that_submission_graded_again(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append({"submission": "a.py", "digest": "1", "score": 1.0})
    with open(journal.path, "ab") as f:
        f.write(b'{"submission": "b.py", "dig')  # the grader was killed mid-write
    assert list(journal.done()) == [("a.py", "1")]
    journal.append({"submission": "b.py", "digest": "2", "score": 2.0})
    assert [json.loads(line)["submission"] for line in journal.path.read_text().splitlines()] == ["a.py", "b.py"]


def test_a_folder_with_nothing_gradable_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no code here")
    done = subprocess.run(
        [*GRADPROOF, "grade", str(tmp_path / "empty"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "holds no .py or .ipynb submission" in done.stderr
