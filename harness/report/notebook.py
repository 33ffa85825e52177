"""Format ``notebook``: feedback where the student works, ``notebooks/<name>.ipynb`` per submission.

Each is a copy of the submission (a ``.py`` becomes a notebook of one code cell) with one markdown
cell of feedback: the score, then each check's verdict, the worst entries, the likely mistake
(the diagnosis) and the runs it was judged on.  ``report.json`` does not say which cell produced
a judged value, so the feedback cell comes **right after the last code cell**.

The copy is of the file that was graded: it is read from the verdict's ``submission`` path and
used only where its SHA-256 is the verdict's ``digest``; otherwise (moved, changed, or not
readable) the notebook holds the feedback cell alone, and says so.  A check the spec does not
make ``visible`` (``report.json``'s ``visibility``: hidden, after_due_date, after_published)
shows only that it exists.  Everything a submission wrote reaches the cell escaped
(:func:`~harness.report.escape.md_text`, :func:`~harness.report.escape.md_fence`); the notebook
is nbformat 4, the feedback cell given an ``id`` where the notebook's minor version (≥ 5) wants one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.records.report import CheckData, ReportData, VerdictData
from harness.report.escape import md_fence, md_text
from harness.report.files import Rendered, page_stems
from harness.report.text import plain

FOLDER = "notebooks"
CELL_ID = "gradproof-feedback"
_MAX_BYTES = 16 * 1024 * 1024
_WORST = 3


def _entry(entry: dict[str, Any]) -> str:
    index = ", ".join(str(i) for i in entry.get("index") or [])
    return (
        f"- at \\[{md_text(index)}\\]: yours {md_text(plain(entry.get('submitted')))}, "
        f"expected {md_text(plain(entry.get('expected')))} (error {md_text(plain(entry.get('abs_error')))})"
    )


def _runs(check: CheckData) -> list[str]:
    lines = []
    for run in check.get("runs") or []:
        seed = run.get("seed")
        whose = "your own inputs" if run.get("source") == "own" else "inputs the grader drew"
        lines.append(f"- {whose}" + (f" (seed {md_text(seed)})" if seed is not None else ""))
    return lines


def _check(check: CheckData, visibility: str) -> list[str]:
    name = md_text(check["name"])
    if visibility != "visible":
        return [f"### {name}", "", "A hidden check: it counts in your score; its details are not shown.", ""]
    lines = [
        f"### {name}: {md_text(check['status'])} ({plain(check['score'])}/{plain(check['max_score'])})",
        "",
        *md_fence(check["message"]),
        "",
    ]
    diagnosis = check.get("diagnosis")
    if diagnosis:
        lines += [f"**Likely mistake:** {md_text(diagnosis['message'])}", ""]
    worst = (check.get("worst") or [])[:_WORST]
    if worst and check["status"] != "pass":
        lines += ["Worst entries:", "", *(_entry(dict(e)) for e in worst), ""]
    runs = _runs(check)
    if runs:
        lines += ["Judged on (right on every one to pass):", "", *runs, ""]
    return lines


def feedback(verdict: VerdictData, visibility: dict[str, str], note: str | None = None) -> str:
    """The feedback cell's markdown for one verdict."""
    lines = [
        f"## gradproof feedback: {plain(verdict['score'])}/{plain(verdict['max_score'])}",
        "",
    ]
    if note:
        lines += [f"*{md_text(note)}*", ""]
    if verdict["status"] == "error":
        lines += ["This submission could not be graded:", "", *md_fence(verdict.get("error") or ""), ""]
    for n in verdict.get("notes") or []:
        lines += [f"- {md_text(n)}"]
    if verdict.get("notes"):
        lines.append("")
    for check in verdict.get("checks") or []:
        lines += _check(check, visibility.get(check["name"], "visible"))
    return "\n".join(lines).rstrip("\n") + "\n"


def _source(verdict: VerdictData) -> bytes | None:
    """The graded file's bytes, where they are still what was graded."""
    path = Path(verdict["submission"])
    try:
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if verdict.get("digest") and hashlib.sha256(data).hexdigest() == verdict["digest"] else None


def _empty(minor: int = 5) -> dict[str, Any]:
    return {
        "cells": [],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": minor,
    }


def _code_cell(source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "submission",
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def annotated(verdict: VerdictData, visibility: dict[str, str]) -> dict[str, Any]:
    """The submission as a notebook, with its feedback cell after its last code cell."""
    raw = _source(verdict)
    nb: dict[str, Any] | None = None
    note = None
    if raw is None:
        note = "Your submission as graded could not be copied here (moved or changed since): the feedback alone."
    elif verdict["submission"].endswith(".ipynb"):
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        if isinstance(parsed, dict) and parsed.get("nbformat") == 4 and isinstance(parsed.get("cells"), list):
            nb = parsed
        else:
            note = "Your notebook could not be read as nbformat 4: the feedback alone."
    else:
        nb = _empty()
        nb["cells"].append(_code_cell(raw.decode("utf-8", errors="replace")))
    if nb is None:
        nb = _empty()
    cell: dict[str, Any] = {"cell_type": "markdown", "metadata": {}, "source": feedback(verdict, visibility, note)}
    if int(nb.get("nbformat_minor", 0)) >= 5:
        ids = {c.get("id") for c in nb["cells"] if isinstance(c, dict)}
        cell["id"] = next(i for i in (CELL_ID, *(f"{CELL_ID}-{n}" for n in range(2, len(ids) + 3))) if i not in ids)
    code = [i for i, c in enumerate(nb["cells"]) if isinstance(c, dict) and c.get("cell_type") == "code"]
    nb["cells"].insert(code[-1] + 1 if code else len(nb["cells"]), cell)
    return nb


def render(report: ReportData) -> Rendered:
    visibility = dict(report.get("visibility") or {})
    stems = page_stems([v["submission"] for v in report["submissions"]])
    return [
        (f"{FOLDER}/{stem}.ipynb", json.dumps(annotated(verdict, visibility), indent=1, ensure_ascii=False) + "\n")
        for stem, verdict in zip(stems, report["submissions"])
    ]
