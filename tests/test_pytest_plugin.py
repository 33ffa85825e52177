"""The pytest plugin: ``pytest --gradproof=FILE`` gives one item per check; inert without the option.

Each case runs pytest in a fresh process, where the plugin is loaded from the
package's ``pytest11`` entry point as it is for any user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.pytest_plugin import HIDDEN_MESSAGE

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"
CONFTEST = """
kinds = []

def pytest_collectreport(report):
    kinds.extend(type(node).__name__ for node in report.result)

def pytest_collection_finish(session):
    print("COLLECTORS", sorted(set(kinds)))
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["COLUMNS"] = "1000"  # the summary line of a failure is cut at the terminal width
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A correct submission saved as ``test_student.py``: a name pytest would otherwise import as a test module."""
    folder = tmp_path_factory.mktemp("passing")
    shutil.copy(SUBMISSIONS / "correct_script.py", folder / "test_student.py")
    (folder / "conftest.py").write_text(CONFTEST)
    done = _pytest(folder, "--gradproof=test_student.py", "-v", "-s", f"--junitxml={folder / 'junit.xml'}")
    return {"folder": folder, "done": done}


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    folder = tmp_path_factory.mktemp("failing")
    return _pytest(folder, f"--gradproof={SUBMISSIONS / 'bug_sign_flip_dW2.py'}", "-q")


def test_a_correct_submission_is_one_passing_item_per_check(passing: dict[str, Any]) -> None:
    done = passing["done"]
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split(" PASSED")[0] for line in done.stdout.splitlines() if " PASSED" in line]
    assert lines == [f"test_student.py::{c}" for c in ("forward", "loss", "dE_dW2", "dE_dW1", "update")]
    assert "5 passed" in done.stdout.splitlines()[-1]


def test_a_submission_named_like_a_test_module_is_graded_never_imported(passing: dict[str, Any]) -> None:
    collectors = next(line for line in passing["done"].stdout.splitlines() if line.startswith("COLLECTORS"))
    assert "Module" not in collectors and "'SubmissionFile'" in collectors


def test_each_items_points_reach_the_junit_report(passing: dict[str, Any]) -> None:
    root = ET.parse(passing["folder"] / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["forward", "loss", "dE_dW2", "dE_dW1", "update"]
    props = {p.get("name"): p.get("value") for p in cases[2].iter("property")}
    assert props == {"score": "3.0", "max_score": "3.0"}


def test_a_wrong_gradient_fails_its_item_with_the_diagnosis(failing: subprocess.CompletedProcess[str]) -> None:
    assert failing.returncode == 1
    out = failing.stdout
    assert "dE_dW2 fail (0/3 points): dE_dW2 is wrong: the largest error is 0.244 at [0, 0]" in out
    assert "Likely mistake (scale--1): dE_dW2 has the opposite sign" in out
    assert f"FAILED {SUBMISSIONS / 'bug_sign_flip_dW2.py'}::dE_dW2 - dE_dW2 fail (0/3" in out
    assert "1 failed, 4 passed" in out.splitlines()[-1]
    assert "Traceback" not in out


def test_a_hidden_check_fails_with_a_neutral_line(tmp_path: Path) -> None:
    (tmp_path / "spec.toml").write_text('[checks.dE_dW2]\nvisibility = "hidden"\n')
    done = _pytest(tmp_path, f"--gradproof={SUBMISSIONS / 'bug_sign_flip_dW2.py'}", "--gradproof-spec=spec.toml", "-q")
    assert done.returncode == 1
    assert HIDDEN_MESSAGE in done.stdout
    assert "opposite sign" not in done.stdout and "0.244" not in done.stdout


def test_without_the_option_the_plugin_is_registered_but_inert(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n"
        "def test_the_plugin_is_loaded(pytestconfig):\n"
        "    assert pytestconfig.pluginmanager.hasplugin('gradproof')\n\n"
        "def test_torch_was_never_imported():\n"
        "    assert 'torch' not in sys.modules\n"
    )
    done = _pytest(tmp_path, "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_a_missing_submission_is_a_usage_error(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "--gradproof=nope.py")
    assert done.returncode == 4
    assert "--gradproof='nope.py': expected an existing .py or .ipynb file" in done.stderr
