"""Format ``csv``: ``grades.csv``, one row per submission, a column per check and the total, for a gradebook."""

from __future__ import annotations

import csv
import io

from harness.records.report import ReportData
from harness.report.data import check_columns
from harness.report.files import Rendered
from harness.report.text import plain, submission_id

CSV_FILE = "grades.csv"


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def grades_csv(report: ReportData) -> str:
    """One row per submission: submission, id, status, a column per check (its points), total, max_score.

    A check the submission does not have (a helper it never defined, or a
    submission that could not be graded) is an empty cell.
    """
    columns = check_columns(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["submission", "id", "status", *columns, "total", "max_score"])
    for verdict in report["submissions"]:
        scores = {c["name"]: c["score"] for c in verdict.get("checks") or []}
        writer.writerow(
            [
                _cell(verdict["submission"]),
                _cell(submission_id(verdict["submission"])),
                verdict["status"],
                *(plain(scores.get(c)) for c in columns),
                plain(verdict["score"]),
                plain(verdict["max_score"]),
            ]
        )
    return buffer.getvalue()


def render(report: ReportData) -> Rendered:
    return [(CSV_FILE, grades_csv(report))]
