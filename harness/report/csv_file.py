"""Format ``csv``: ``grades.csv``, one row per submission, a column per check and the total, for a gradebook.

Every text cell is one line that no spreadsheet runs as a formula (:func:`~harness.report.escape.csv_cell`).
"""

from __future__ import annotations

import csv
import io

from harness.records.report import ReportData
from harness.report.data import check_columns
from harness.report.escape import csv_cell
from harness.report.files import Rendered
from harness.report.text import plain, submission_id

CSV_FILE = "grades.csv"


def grades_csv(report: ReportData) -> str:
    """One row per submission: submission, id, status, a column per check (its points), total, max_score.

    A check the submission does not have (a helper it never defined, or a
    submission that could not be graded) is an empty cell.
    """
    columns = check_columns(report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["submission", "id", "status", *(csv_cell(c) for c in columns), "total", "max_score"])
    for verdict in report["submissions"]:
        scores = {c["name"]: c["score"] for c in verdict.get("checks") or []}
        writer.writerow(
            [
                csv_cell(verdict["submission"]),
                csv_cell(submission_id(verdict["submission"])),
                csv_cell(verdict["status"]),
                *(plain(scores.get(c)) for c in columns),
                plain(verdict["score"]),
                plain(verdict["max_score"]),
            ]
        )
    return buffer.getvalue()


def render(report: ReportData) -> Rendered:
    return [(CSV_FILE, grades_csv(report))]
