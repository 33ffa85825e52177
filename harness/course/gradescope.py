"""Gradescope: build an autograder zip, and run it inside Gradescope's container.

``gradproof gradescope build [--spec FILE] -o autograder.zip`` writes a zip
with, at its root (Gradescope's autograder specification):

* ``setup.sh``: run once when Gradescope builds the image; installs Python's
  pip if needed, bubblewrap (optional), CPU torch, then the bundled wheel;
* ``run_autograder``: grades ``/autograder/submission`` with
  ``gradproof gradescope run`` and writes ``/autograder/results/results.json``;
* ``spec.toml``: the assignment spec (the default one without ``--spec``);
* ``gradproof-<version>-py3-none-any.whl``: the gradproof that built the zip,
  packed from its installed files (no network, no build tools needed), so the
  autograder grades exactly as the instructor's machine does.

The root ``/autograder`` can be moved with the ``AUTOGRADER_ROOT``
environment variable (the tests run the whole flow in a temporary folder).

``results.json``: ``score``, ``execution_time``, ``output``,
``stdout_visibility`` and ``tests``, one per check, each with ``name``,
``score``, ``max_score``, ``status`` (``passed``/``failed``), ``output`` and
``visibility`` (the spec's).  A hidden check's details never reach the
student: its ``output`` is a neutral line, and nothing in the top-level
``output`` is about it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from harness.course.late import Policy, gradescope_late, parse_policy
from harness.definition import BUILT_IN, DEFAULT_ASSIGNMENT, SPEC_FILE, load_assignment, resolved
from harness.errors import GraderError, GradproofError, UsageError
from harness.load import SUFFIXES
from harness.records.assignment import Assignment
from harness.records.outcome import SandboxMode
from harness.records.report import VerdictData
from harness.report.files import write_atomic
from harness.report.text import check_details
from harness.spec import default_spec_text, parse_spec
from harness.wire import GRADER_PACKAGES

DEFAULT_ROOT = "/autograder"
HIDDEN_OUTPUT = "This check is hidden: its result counts in your score, its details are not shown."
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed: the same inputs give the same zip


class ResultTest(TypedDict):
    """One test of Gradescope's ``results.json``: one check."""

    name: str
    score: float
    max_score: float
    status: str  # "passed" | "failed"
    output: str
    visibility: str  # "visible" | "hidden" | "after_due_date" | "after_published"


class _ResultsBase(TypedDict):
    score: float
    output: str
    stdout_visibility: str
    tests: list[ResultTest]


class Results(_ResultsBase, total=False):
    """Gradescope's ``results.json``, as this autograder writes it."""

    execution_time: float  # absent when the autograder itself failed


SETUP_SH = """#!/usr/bin/env bash
# gradproof autograder setup: Gradescope runs this once, as root, when it builds the image.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${GRADPROOF_PYTHON:-python3}"
export DEBIAN_FRONTEND=noninteractive
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    apt-get update
    apt-get install -y python3 python3-pip
fi
# bubblewrap gives each submission its own namespaces where the container allows it;
# without it gradproof still runs every submission in a limited, unprivileged child.
apt-get install -y bubblewrap >/dev/null 2>&1 || echo "gradproof: bubblewrap not installed (optional)"
# CPU torch: much smaller than the default CUDA build, and all the grader needs.
"$PYTHON" -m pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.1,<3" \\
    || "$PYTHON" -m pip install "torch>=2.1,<3"
"$PYTHON" -m pip install "$SOURCE"/gradproof-*.whl
gradproof --version
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# gradproof: grade the submission in $AUTOGRADER_ROOT/submission (default /autograder)
# and write $AUTOGRADER_ROOT/results/results.json for Gradescope.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export AUTOGRADER_ROOT="$ROOT"
cd "$ROOT"
exec gradproof gradescope run --root "$ROOT" --spec "$ROOT/source/spec.toml"{late}
"""


# ---------------------------------------------------------------- build


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _package_files() -> dict[str, bytes]:
    """The installed ``harness`` and ``reference`` packages: sources, ``py.typed`` and specs."""
    files: dict[str, bytes] = {}
    for package in GRADER_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise GraderError(f"cannot find the installed {package!r} package to bundle")
        base = Path(list(spec.submodule_search_locations)[0])
        found = [Path(folder) / name for folder, _, names in os.walk(base, followlinks=True) for name in names]
        for path in sorted(found):
            rel = path.relative_to(base)
            if "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts):
                continue
            if rel.parts[0] == "assignments" and path.stem == "solution":
                continue  # the built-in assignments' solutions never travel to where students' code runs
            if path.suffix in (".py", ".toml", ".typed", ".ipynb"):
                files[f"{package}/{rel.as_posix()}"] = path.read_bytes()
    return files


def build_wheel() -> tuple[str, bytes]:
    """A wheel of the running gradproof, ``(file name, bytes)``, packed from its installed files.

    The metadata (dependencies, entry points) is the installed distribution's,
    so ``pip install`` of the wheel pulls the same requirements.
    """
    from importlib import metadata  # start-up: importlib.metadata is slow to import, and only a build needs it

    try:
        dist = metadata.distribution("gradproof")
    except metadata.PackageNotFoundError:
        raise GraderError("gradproof is not installed (pip install -e . first): cannot bundle it") from None
    version = dist.version
    meta = dist.read_text("METADATA")
    if not meta:
        raise GraderError("the installed gradproof has no METADATA: cannot bundle it")
    info = f"gradproof-{version}.dist-info"
    files = _package_files()
    files[f"{info}/METADATA"] = meta.encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: gradproof\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        files[f"{info}/entry_points.txt"] = entry_points.encode()
    files[f"{info}/top_level.txt"] = b"harness\nreference\n"
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data, zipfile.ZIP_DEFLATED)
    return f"gradproof-{version}-py3-none-any.whl", buffer.getvalue()


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    item = zipfile.ZipInfo(name, _ZIP_TIME)
    item.external_attr = (0o100755 if executable else 0o100644) << 16
    item.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(item, data)


def build(out: Path, spec: Assignment | Path | str | None = None, late_policy: str = "none") -> list[str]:
    """Write the autograder zip to ``out``; returns the names inside it.  ``late_policy``
    (:mod:`harness.course.late`) is passed to every ``gradescope run`` the zip makes.

    A course's own assignment travels as its folder (``assignment/``: the spec and the reference
    module, never the solution); the default, or a spec of the classic kind that changes it, as
    ``spec.toml`` (the default assignment is in the wheel)."""
    policy = parse_policy(late_policy)
    assignment = resolved(spec if isinstance(spec, Assignment) else load_assignment(spec))  # validated now
    definition = assignment.definition
    assert definition is not None
    folder: dict[str, bytes] = {}
    home = Path(definition.folder)
    if home.resolve() != (BUILT_IN / DEFAULT_ASSIGNMENT).resolve():
        for path in sorted(home.iterdir()):
            solution = path.stem == "solution" or path.name == definition.solution
            if path.is_file() and path.suffix in (".toml", ".py") and not solution:
                folder[f"assignment/{path.name}"] = path.read_bytes()
        text = Path(definition.source).read_text(encoding="utf-8")
        where = '--assignment "$ROOT/source/assignment"'
    else:  # the classic spec it was read from, or the template (every key at the default's value)
        source = Path(definition.source)
        text = default_spec_text() if source.name == SPEC_FILE else source.read_text(encoding="utf-8")
        parse_spec(text)
        where = '--spec "$ROOT/source/spec.toml"'

    wheel_name, wheel = build_wheel()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH.encode(), executable=True)
        late = "" if policy.kind == "none" else f" --late-policy {policy.name}"
        script = RUN_AUTOGRADER.replace("{late}", late).replace('--spec "$ROOT/source/spec.toml"', where)
        _add(zf, "run_autograder", script.encode(), executable=True)
        if folder:
            for name, data in folder.items():
                _add(zf, name, data)
        else:
            _add(zf, "spec.toml", text.encode())
        _add(zf, wheel_name, wheel)
    os.replace(tmp, out)
    return ["setup.sh", "run_autograder", *(list(folder) or ["spec.toml"]), wheel_name]


# ---------------------------------------------------------------- run (inside Gradescope)


def autograder_root(root: Path | None = None) -> Path:
    return Path(root) if root is not None else Path(os.environ.get("AUTOGRADER_ROOT") or DEFAULT_ROOT)


@dataclass
class Found:
    path: Path | None
    problem: str | None


def find_submission(folder: Path, assignment: Assignment) -> Found:
    """The one file to grade in ``folder``, or why there is none."""
    if not folder.is_dir():
        return Found(None, f"the submission folder {folder} does not exist")
    candidates = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in SUFFIXES
        and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts)
    )
    if assignment.submission:
        named = [p for p in candidates if p.name == assignment.submission]
        if not named:
            return Found(None, f"no file named {assignment.submission} in your submission")
        named.sort(key=lambda p: len(p.relative_to(folder).parts))
        return Found(named[0], None)
    if not candidates:
        return Found(None, "your submission holds no .py or .ipynb file")
    if len(candidates) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in candidates[:8])
        return Found(None, f"your submission holds several .py/.ipynb files ({names}); submit only the one to grade")
    return Found(candidates[0], None)


def _title(name: str, assignment: Assignment) -> str | None:
    """What a check is about, after its name: its ``title``, else the quantities it compares (where
    they are not just its name)."""
    assert assignment.definition is not None
    spec = next((c for c in assignment.definition.checks if c.name == name.split("[")[0]), None)
    if spec is not None and spec.title:
        return spec.title
    values = ", ".join(spec.values) if spec is not None else ""
    return values if values and values != name else None


def _test(
    name: str, score: float, max_score: float, passed: bool, output: str, visibility: str, title: str | None
) -> ResultTest:
    return {
        "name": f"{name}: {title}" if title else name,
        "score": score,
        "max_score": max_score,
        "status": "passed" if passed else "failed",
        "output": output if visibility != "hidden" else HIDDEN_OUTPUT,
        "visibility": visibility,
    }


def results(
    verdict: VerdictData | None, assignment: Assignment, execution_time: float, problem: str | None = None
) -> Results:
    """Gradescope's ``results.json`` for one verdict (report.json schema), or for a submission not found."""
    assignment = resolved(assignment)
    tests: list[ResultTest] = []
    if verdict is None or verdict["status"] == "error":
        why = problem or (verdict.get("error") if verdict is not None else None) or "not graded"
        for name in assignment.checks:
            if assignment.max_points(name) > 0:
                tests.append(
                    _test(
                        name,
                        0.0,
                        assignment.max_points(name),
                        False,
                        f"Not graded: {why}",
                        assignment.visibility_of(name),
                        _title(name, assignment),
                    )
                )
        output = f"Your submission could not be graded: {why}"
    else:
        for check in verdict["checks"]:
            tests.append(
                _test(
                    check["name"],
                    float(check["score"]),
                    float(check["max_score"]),
                    check["status"] == "pass",
                    check_details(check, diagnosis_id=False, tolerance=False, counterexample_chars=1500),
                    assignment.visibility_of(check["name"]),
                    _title(check["name"], assignment),
                )
            )
        notes = list(verdict.get("notes") or [])
        output = f"Graded by gradproof ({assignment.name})." + "".join(f"\n{n}" for n in notes)
    return {
        "score": round(sum(t["score"] for t in tests), 6),
        "execution_time": round(execution_time, 3),
        "output": output,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def run(
    root: Path | None = None,
    spec: Assignment | Path | str | None = None,
    *,
    sandbox: SandboxMode = "auto",
    late_policy: str = "none",
) -> Results:
    """Grade ``ROOT/submission``, write ``ROOT/results/results.json``; returns what it wrote.

    ``late_policy`` other than ``none``: the submission's lateness from Gradescope's
    ``ROOT/submission_metadata.json`` (its ``created_at`` against ``assignment.due_date``) takes
    the penalty off the top-level ``score`` (which Gradescope counts over the tests' sum) and says
    so in ``output``; the tests keep their points.

    A submission that cannot be found or graded is a result (score 0 and
    why); only a failure of the grader itself raises, after writing a
    results.json that says so.
    """
    started = time.monotonic()
    policy = parse_policy(late_policy)
    base = autograder_root(root)
    results_dir = base / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    target = results_dir / "results.json"
    try:
        assignment = spec if isinstance(spec, Assignment) else load_assignment(spec)
    except UsageError:
        write_atomic(target, json.dumps(_failure("the assignment spec is invalid"), indent=2) + "\n")
        raise
    try:
        found = find_submission(base / "submission", assignment)
        verdict = None
        if found.path is not None:
            from harness.batch import grade_batch  # lazy: it imports torch, kept out of the CLI's start-up

            hide = [found.path.parent.resolve(), (base / "source").resolve(), results_dir.resolve()]
            verdict = grade_batch(
                [found.path], assignment, jobs=1, sandbox=sandbox, hide=[p for p in hide if p.is_dir()]
            )[0]
            verdict["submission"] = str(found.path.relative_to(base / "submission"))
        data = results(verdict, assignment, time.monotonic() - started, found.problem)
        if policy.kind != "none":
            _late(data, base / "submission_metadata.json", policy)
    except GradproofError as exc:
        write_atomic(target, json.dumps(_failure(str(exc)), indent=2) + "\n")
        raise
    except Exception as exc:
        write_atomic(target, json.dumps(_failure(f"{type(exc).__name__}: {exc}"), indent=2) + "\n")
        raise GraderError(f"the autograder failed: {type(exc).__name__}: {exc}") from exc
    write_atomic(target, json.dumps(data, indent=2, allow_nan=False) + "\n")
    return data


def _late(data: Results, metadata_file: Path, policy: Policy) -> None:
    """Take the late penalty off ``data``'s score, from Gradescope's submission metadata."""
    try:
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metadata = None
    late = gradescope_late(metadata, policy, float(data["score"]))
    if late is None:
        data["output"] += f"\nLate policy {policy.name}: no submission time or due date in the metadata; no penalty."
        return
    score = round(late["score_before"] * (1.0 - late["penalty"]), 6)
    data["score"] = score
    if late["days"] > 0:
        data["output"] += (
            f"\nLate: {late['days']} day{'s' if late['days'] != 1 else ''} after {late['due']} "
            f"(submitted {late['submitted']}); policy {policy.name}: "
            f"{late['penalty'] * 100:g}% off, {late['score_before']:g} → {score:g}."
        )


def _failure(why: str) -> Results:
    return {
        "score": 0.0,
        "output": f"The autograder could not grade this submission; please tell your instructor. ({why})",
        "stdout_visibility": "hidden",
        "tests": [],
    }


# ---------------------------------------------------------------- checking results.json


def validate_results(data: Any) -> list[str]:
    """Problems with a ``results.json`` against Gradescope's format (empty: valid)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        return ["results.json must be an object"]
    known = {
        "score",
        "execution_time",
        "output",
        "output_format",
        "visibility",
        "stdout_visibility",
        "extra_data",
        "tests",
        "leaderboard",
    }
    problems += [f"unknown top-level key {k!r}" for k in data if k not in known]
    visibilities = ("visible", "hidden", "after_due_date", "after_published")
    if "score" in data and not isinstance(data["score"], (int, float)):
        problems.append("score must be a number")
    tests = data.get("tests", [])
    if "score" not in data and not all(isinstance(t, dict) and "score" in t for t in tests):
        problems.append("score is required unless every test has one")
    for key in ("visibility", "stdout_visibility"):
        if key in data and data[key] not in visibilities:
            problems.append(f"{key}={data[key]!r} is not one of {visibilities}")
    if "execution_time" in data and not isinstance(data["execution_time"], (int, float)):
        problems.append("execution_time must be a number of seconds")
    if "output" in data and not isinstance(data["output"], str):
        problems.append("output must be a string")
    if not isinstance(tests, list):
        return problems + ["tests must be a list"]
    test_keys = {
        "score",
        "max_score",
        "status",
        "name",
        "name_format",
        "number",
        "output",
        "output_format",
        "tags",
        "visibility",
        "extra_data",
    }
    for i, test in enumerate(tests):
        if not isinstance(test, dict):
            problems.append(f"tests[{i}] must be an object")
            continue
        problems += [f"tests[{i}]: unknown key {k!r}" for k in test if k not in test_keys]
        for key in ("score", "max_score"):
            if key in test and (isinstance(test[key], bool) or not isinstance(test[key], (int, float))):
                problems.append(f"tests[{i}].{key} must be a number")
        if "status" in test and test["status"] not in ("passed", "failed"):
            problems.append(f"tests[{i}].status={test['status']!r} is not passed or failed")
        if "visibility" in test and test["visibility"] not in visibilities:
            problems.append(f"tests[{i}].visibility={test['visibility']!r} is not one of {visibilities}")
        for key in ("name", "output"):
            if key in test and not isinstance(test[key], str):
                problems.append(f"tests[{i}].{key} must be a string")
    return problems
