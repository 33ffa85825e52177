"""The distribution: a non-editable install (the README's first command) ships every module."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_every_module_of_the_project_and_its_data(tmp_path: Path) -> None:
    try:
        import setuptools  # noqa: F401
    except ImportError:  # pragma: no cover - pip's build backend is not in this environment
        pytest.skip("setuptools is not installed here (pip builds the wheel in an isolated environment)")
    source = tmp_path / "source"  # a clean copy: a build/ folder left in the checkout must not fill the gaps
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", ".*", "__pycache__", "reports"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp_path.glob("gradproof-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        p.relative_to(ROOT).as_posix()
        for package in ("harness", "reference")
        for p in (ROOT / package).rglob("*")
        if p.suffix in (".py", ".toml", ".typed") and "__pycache__" not in p.parts
    }
    assert wanted - shipped == set()
