"""The plain-text renderings every report shares: numbers, a check's details, the terminal line.

JUnit, Gradescope and the pytest plugin say a check with :func:`check_details`; the CLI prints
:func:`summary_line` per submission.  Both show the submission's text one line a field, control
characters as escapes (:func:`~harness.report.escape.visible`), so that no text forges a line.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.records.report import CheckData, VerdictData
from harness.report.escape import terminal, visible


def num(x: float | None) -> str:
    """A number to three significant digits (``–``: none)."""
    return "–" if x is None else f"{x:.3g}"


def num6(x: float | None) -> str:
    """A number to six significant digits (``–``: none)."""
    return "–" if x is None else f"{x:.6g}"


def plain(x: object) -> str:
    """A value as a table cell: empty for none, a whole number without ``.0``, other numbers ``%g``."""
    if x is None:
        return ""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def submission_id(submission: str) -> str:
    """A submission's file name without its suffix: ``subs/alice.py`` → ``alice``."""
    stem = Path(submission).name
    return stem.rsplit(".", 1)[0] if "." in stem else stem


def check_details(
    check: CheckData, *, diagnosis_id: bool = True, tolerance: bool = True, counterexample_chars: int = 2000
) -> str:
    """One check as plain text: its message, the likely mistake, notes, the worst entries of a
    failure, the smallest failing input.  JUnit, Gradescope and the pytest plugin all say this."""
    lines = [visible(check["message"])]
    diagnosis = check.get("diagnosis")
    if diagnosis:
        label = f"Likely mistake ({visible(diagnosis['id'])})" if diagnosis_id else "Likely mistake"
        lines.append(f"{label}: {visible(diagnosis['message'])}")
    lines += [f"Note: {visible(note)}" for note in check.get("notes") or []]
    if check["status"] != "pass":
        for e in check.get("worst") or []:
            lines.append(
                f"  entry {e['index']}: yours {num6(e['submitted'])}, expected {num6(e['expected'])}, "
                f"abs error {num(e['abs_error'])}"
            )
        if check.get("counterexample") and counterexample_chars > 0:
            lines.append(
                "Smallest failing input: " + visible(json.dumps(check["counterexample"]))[:counterexample_chars]
            )
    if tolerance and check.get("tolerance"):
        lines.append(f"Tolerance: {visible(check['tolerance'])}")
    return "\n".join(lines)


def _diagnosis_tag(check: CheckData) -> str:
    diagnosis = check.get("diagnosis")
    return f" ({diagnosis['id']})" if diagnosis else ""


def summary_line(verdict: VerdictData) -> str:
    """One line per submission for the terminal: nothing a submission printed, raised or is named
    starts a line or reaches the terminal as a control sequence (:func:`~harness.report.escape.terminal`)."""
    return terminal(_summary(verdict))


def _summary(verdict: VerdictData) -> str:
    if verdict["status"] == "error":
        return f"ERROR  {verdict['score']:>5g}/{verdict['max_score']:g}  {verdict['submission']}: {verdict['error']}"
    bad = [c for c in verdict["checks"] if c["status"] != "pass" and c["max_score"] > 0] + [
        c for c in verdict["checks"] if c["status"] != "pass" and c["max_score"] == 0
    ]
    tag = "PASS " if not bad else "FAIL "
    detail = "; ".join(f"{c['name']} {c['status']}{_diagnosis_tag(c)}" for c in bad)
    return f"{tag}  {verdict['score']:>5g}/{verdict['max_score']:g}  {verdict['submission']}" + (
        f": {detail}" if detail else ""
    )
