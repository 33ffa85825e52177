"""Format ``classroom``: what GitHub Classroom's autograding reporter reads, one file per submission.

``classroom/<stem>.b64`` (the stem of the submission's own pages, :func:`~harness.report.files.page_stems`)
holds, base64-encoded, the JSON a Classroom test runner hands the reporter
(``classroom-resources/autograding-grading-reporter``): ``{version: 1, status, max_score, tests}``,
one test per check with its own points.  The reporter reads ``<RUNNER>_RESULTS`` from its
environment, decodes it from base64 as UTF-8 JSON, fails the step where ``status`` is ``fail`` or
``error``, prints each test (``name``; ``message`` where ``status`` is not ``pass``), and tells
Classroom the sum of the tests' ``score`` out of ``max_score``.  A workflow step puts the file's
content in its output ``result`` and the reporter's ``env`` passes it on (README, GitHub Classroom).

A Classroom repository holds one student's work, so a file is one submission.  A check the spec
does not show (``visibility`` other than ``visible``) is shown only as existing: its name, points
and status, with a neutral message and nothing of what it was judged on.
"""

from __future__ import annotations

import base64
import json
from pathlib import PurePosixPath
from typing import TypedDict

from harness.records.report import CheckData, ReportData, VerdictData
from harness.report.escape import visible
from harness.report.files import Rendered, page_stems
from harness.report.text import check_details

FOLDER = "classroom"
SUFFIX = ".b64"
VERSION = 1
HIDDEN_MESSAGE = "This check is hidden: its result counts in your score, its details are not shown."


class ClassroomTest(TypedDict):
    """One test of a runner's result: one check."""

    name: str
    status: str  # "pass" | "fail" | "error"
    score: float
    max_score: float
    message: str
    test_code: str
    filename: str
    line_no: int
    execution_time: str  # "0.42s", as Classroom's own graders write it


class ClassroomResult(TypedDict):
    """What one runner hands the reporter (before base64)."""

    version: int
    status: str  # "pass" | "fail" | "error"
    max_score: float
    tests: list[ClassroomTest]


def _status(check: CheckData) -> str:
    return {"pass": "pass", "error": "error"}.get(check["status"], "fail")  # missing: a failure


def _test(check: CheckData, verdict: VerdictData, shown: bool, seconds: str) -> ClassroomTest:
    name = visible(check["name"])
    return {
        "name": name,
        "status": _status(check),
        "score": float(check["score"]),
        "max_score": float(check["max_score"]),
        "message": check_details(check, diagnosis_id=False, tolerance=False, counterexample_chars=1500)
        if shown
        else HIDDEN_MESSAGE,
        "test_code": f"gradproof check {name}" if shown else "",
        "filename": visible(PurePosixPath(verdict["submission"]).name) if shown else "",
        "line_no": 0,
        "execution_time": seconds,
    }


def result(verdict: VerdictData, report: ReportData) -> ClassroomResult:
    """The runner result for one verdict (report.json schema): a test per check; a submission that
    could not be graded is one test ``grade`` with status ``error`` and why."""
    hidden = report.get("visibility") or {}
    seconds = f"{float(verdict.get('duration_s') or 0.0):.2f}s"
    max_score = float(verdict["max_score"])
    if verdict["status"] == "error":
        tests: list[ClassroomTest] = [
            {
                "name": "grade",
                "status": "error",
                "score": 0.0,
                "max_score": max_score,
                "message": f"Your submission could not be graded: {visible(verdict['error'] or 'not graded')}",
                "test_code": "gradproof grade",
                "filename": visible(PurePosixPath(verdict["submission"]).name),
                "line_no": 0,
                "execution_time": seconds,
            }
        ]
        status = "error"
    else:
        checks = verdict.get("checks") or []
        tests = [_test(c, verdict, hidden.get(c["name"], "visible") == "visible", seconds) for c in checks]
        statuses = {t["status"] for t in tests}
        status = "error" if "error" in statuses else "fail" if "fail" in statuses else "pass"
    return {"version": VERSION, "status": status, "max_score": max_score, "tests": tests}


def encoded(value: ClassroomResult) -> str:
    """``value`` as the reporter reads it: base64 of its JSON in UTF-8, one line, no newline."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def render(report: ReportData) -> Rendered:
    subs = report["submissions"]
    stems = page_stems([v["submission"] for v in subs])
    return [(f"{FOLDER}/{stem}{SUFFIX}", encoded(result(v, report))) for v, stem in zip(subs, stems)]
