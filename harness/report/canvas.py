"""Format ``canvas``: ``canvas.csv``, a gradebook Canvas imports (Grades → Import), one assignment.

Needs ``grade --roster`` (who each submission is) and ``--canvas-assignment "Name (id)"``.  The
file follows Canvas's gradebook CSV (the layout of Canvas's own gradebook export, which its
import reads back):

* the header row: ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column for the
  assignment, named ``<Assignment name> (<Canvas assignment id>)``: the id in parentheses is
  how Canvas finds the assignment (a header without one makes a new assignment);
* the second row: ``Points Possible`` (indented, as Canvas writes it) under ``Student``, the
  assignment's points under its column, the other cells empty;
* then one row per student: ``ID`` is the student's Canvas user ID (the roster's
  ``student_id``); the score a plain number (no ``%``, no unit), after any late penalty.

A student the roster lists with no graded submission gets a row with an **empty** score: Canvas
leaves a grade it is given empty as it was (it never turns it into 0), so an absent submission
changes nothing; give them 0 in Canvas if that is your policy.  A student whose roster row names
a folder holding several graded files gets the best of their scores.  Submissions no roster row
names have no row here (Canvas could not place them): ``report.json``'s ``roster.unmatched``
lists them, and ``gradproof grade`` names them on the terminal.

Every text cell is one line no spreadsheet runs as a formula (:func:`~harness.report.escape.csv_cell`).
"""

from __future__ import annotations

import csv
import io

from harness.records.report import ReportData, StudentData
from harness.report.escape import csv_cell
from harness.report.files import Rendered
from harness.report.text import plain

CANVAS_FILE = "canvas.csv"
HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"


def _student_cells(student: StudentData) -> list[str]:
    return [
        csv_cell(student.get("name", "")),
        csv_cell(student.get("student_id", "")),
        csv_cell(student.get("sis_user_id", "")),
        csv_cell(student.get("sis_login_id", "")),
        csv_cell(student.get("section", "")),
    ]


def canvas_csv(report: ReportData) -> str:
    roster = report.get("roster")
    column = (roster["canvas_assignment"] if roster else None) or report["assignment"]
    verdicts = report["submissions"]
    points = max((v["max_score"] for v in verdicts), default=0.0)
    best: dict[str, tuple[StudentData, float]] = {}
    for verdict in verdicts:
        student = verdict.get("student")
        if student is None:
            continue
        sid = student["student_id"]
        if sid not in best or verdict["score"] > best[sid][1]:
            best[sid] = (student, verdict["score"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*HEADER, csv_cell(column)])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", plain(float(points))])
    for student, score in best.values():
        writer.writerow([*_student_cells(student), plain(float(score))])
    for student in roster["absent"] if roster else []:
        if student["student_id"] not in best:
            writer.writerow([*_student_cells(student), ""])
    return buffer.getvalue()


def render(report: ReportData) -> Rendered:
    return [(CANVAS_FILE, canvas_csv(report))]
