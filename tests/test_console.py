"""The installed ``gradproof`` console script: exit codes and output survive its fast exit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"


def gradproof(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("gradproof", path=str(Path(sys.executable).parent)) or shutil.which("gradproof")
    if exe is None:
        pytest.skip("the gradproof console script is not installed")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)


def test_the_console_script_exits_0_and_prints_everything_for_a_passing_self_test() -> None:
    done = gradproof("selftest", str(SUBMISSIONS / "correct_script.py"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("5 of 5 visible checks pass (10 of 10 points).\n")


def test_the_console_script_exits_1_for_a_failing_self_test() -> None:
    done = gradproof("selftest", str(SUBMISSIONS / "bug_sign_flip_dW2.py"))
    assert done.returncode == 1 and "FAIL    dE_dW2" in done.stdout


def test_the_console_script_exits_2_on_a_usage_error_with_a_clear_message() -> None:
    done = gradproof("grade", "/no/such/path", "--out", "/tmp/unused")
    assert done.returncode == 2
    assert "Error: path='/no/such/path': no such file or folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_console_script_grades_and_writes_its_reports(tmp_path: Path) -> None:
    done = gradproof(
        "grade",
        str(SUBMISSIONS / "correct_script.py"),
        str(SUBMISSIONS / "bug_loss_abs.py"),
        "--out",
        str(tmp_path),
        "--jobs",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report.json").exists() and (tmp_path / "summary.md").exists()
    assert "2 submissions, 2 graded" in done.stdout
