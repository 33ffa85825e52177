"""Format ``junit``: ``junit.xml``, for Jenkins, GitLab and GitHub test reporters.

One ``<testsuite>`` per submission and one ``<testcase>`` per check, built from
``report.json``'s plain data alone.  No text holds a character XML 1.0 forbids, or any other
control character (:func:`~harness.report.escape.xml_text`); ElementTree escapes the markup, so
a ``]]>`` or ``</testsuite>`` a submission prints stays text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from harness.records.report import ReportData
from harness.report.escape import xml_text
from harness.report.files import Rendered
from harness.report.text import check_details, plain, submission_id

JUNIT_FILE = "junit.xml"


def _x(text: object) -> str:
    """One line of text XML 1.0 can carry (student output may hold any byte)."""
    return xml_text(text)


def _lines(text: object) -> str:
    """Lines of text XML 1.0 can carry."""
    return xml_text(text, lines=True)


def _classname(submission: str) -> str:
    return "gradproof." + (re.sub(r"[^A-Za-z0-9_]+", "_", submission_id(submission)).strip("_") or "submission")


def junit_xml(report: ReportData) -> str:
    """The batch as JUnit XML: ``<testsuites>``, a ``<testsuite>`` per submission, a ``<testcase>`` per check.

    ``pass`` is a passed testcase; ``fail`` and ``missing`` are ``<failure>``
    (message: the check's message, type: the diagnosis id or the status);
    ``error`` (the submission raised) is ``<error>``; a submission that could
    not be graded is one ``<testcase name="grade">`` with an ``<error>``.
    """
    root = ET.Element("testsuites", name=_x(f"gradproof {report['assignment']}"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for verdict in report["submissions"]:
        duration = float(verdict.get("duration_s") or 0.0)
        total_time += duration
        suite = ET.SubElement(root, "testsuite", name=_x(verdict["submission"]))
        props = ET.SubElement(suite, "properties")
        properties = {
            "score": verdict.get("score"),
            "max_score": verdict.get("max_score"),
            "status": verdict.get("status"),
            "style": verdict.get("style"),
            "isolation": verdict.get("isolation"),
            "digest": verdict.get("digest"),
        }
        for key, value in properties.items():
            if value is not None:
                ET.SubElement(props, "property", name=key, value=_x(plain(value)))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        classname = _classname(verdict["submission"])
        if verdict["status"] == "error":
            case = ET.SubElement(suite, "testcase", name="grade", classname=classname, time="0")
            error = ET.SubElement(case, "error", message=_x(verdict["error"] or "not graded"), type="not-graded")
            error.text = _lines(verdict["error"] or "")
            counts["tests"] += 1
            counts["errors"] += 1
        for check in verdict.get("checks") or []:
            case = ET.SubElement(suite, "testcase", name=_x(check["name"]), classname=classname, time="0")
            counts["tests"] += 1
            status = check["status"]
            if status == "pass":
                continue
            kind = "error" if status == "error" else "failure"
            counts["errors" if kind == "error" else "failures"] += 1
            diagnosis = check.get("diagnosis")
            why = diagnosis["id"] if diagnosis else status
            node = ET.SubElement(case, kind, message=_x(check["message"]), type=_x(why))
            node.text = _lines(check_details(check))
        if verdict.get("stdout"):
            ET.SubElement(suite, "system-out").text = _lines(verdict["stdout"])
        if verdict.get("stderr"):
            ET.SubElement(suite, "system-err").text = _lines(verdict["stderr"])
        for key, count in counts.items():
            suite.set(key, str(count))
            totals[key] += count
        suite.set("time", f"{duration:.3f}")
    for key, count in totals.items():
        root.set(key, str(count))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(report: ReportData) -> Rendered:
    return [(JUNIT_FILE, junit_xml(report))]
