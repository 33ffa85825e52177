"""Format ``notebook``: feedback where the student works, ``notebooks/<name>.ipynb`` per submission.

Each is a copy of the submission (a ``.py`` becomes a notebook of one code cell) with markdown
cells of feedback: per check its verdict, the worst entries, the likely mistake (the diagnosis)
and the runs it was judged on.  A check's feedback comes **right after the cell that produced the
value it judged** (``report.json``'s ``cell``: the cell whose statement bound it; function style,
the cell that defined the function), one cell of feedback after each such code cell listing its
checks in check order.  The summary cell comes right after the last code cell: the score, the
notes, and the checks with no cell (not known, or from a ``report.json`` older than ``cell``).

The copy is of the file that was graded: it is read from the verdict's ``submission`` path and
used only where its SHA-256 is the verdict's ``digest``; otherwise (moved, changed, or not
readable) the notebook holds the feedback cell alone, and says so.  A check the spec does not
make ``visible`` (``report.json``'s ``visibility``: hidden, after_due_date, after_published)
shows only that it exists, in the summary (where it sits would tell what it judged: a failing
forward pass sits after the cell of the intermediate that was wrong).  Everything a submission wrote reaches the cell escaped
(:func:`~harness.report.escape.md_text`, :func:`~harness.report.escape.md_fence`); the notebook
is nbformat 4, each feedback cell given a fresh ``id`` where the notebook's minor version (≥ 5) wants one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.records.report import CheckData, ReportData, VerdictData
from harness.records.submission import Cell
from harness.report.escape import md_fence, md_text
from harness.report.files import Rendered, page_stems
from harness.report.text import plain

FOLDER = "notebooks"
CELL_ID = "gradproof-feedback"
PLACED_HEAD = "**gradproof feedback on the cell above**"
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


def feedback(
    verdict: VerdictData, visibility: dict[str, str], note: str | None = None, placed: Sequence[str] = ()
) -> str:
    """The summary cell's markdown for one verdict: the score, the notes and every check but those
    ``placed`` (named) in a cell of their own after the cell they judged."""
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
    if placed:
        names = ", ".join(md_text(name) for name in placed)
        lines += [f"The feedback on {names}: right after the cell each one judged.", ""]
    for check in verdict.get("checks") or []:
        if check["name"] not in placed:
            lines += _check(check, visibility.get(check["name"], "visible"))
    return "\n".join(lines).rstrip("\n") + "\n"


def cell_feedback(checks: Sequence[CheckData], visibility: dict[str, str]) -> str:
    """The markdown of the feedback cell after one code cell: the checks it judged, in check order."""
    lines = [PLACED_HEAD, ""]
    for check in checks:
        lines += _check(check, visibility.get(check["name"], "visible"))
    return "\n".join(lines).rstrip("\n") + "\n"


def _placement(
    verdict: VerdictData, visibility: dict[str, str], cells: list[Any], module: bool
) -> dict[int, list[CheckData]]:
    """Where each check's feedback goes: the index of the code cell its ``cell`` names (a notebook's
    ``cell N`` is its N-th cell; a module's one cell is all its code).  A check without a cell, naming
    no code cell of this copy, or not visible (its place would tell what it judged) goes in the summary."""
    placed: dict[int, list[CheckData]] = {}
    for check in verdict.get("checks") or []:
        label = check.get("cell")
        if not isinstance(label, str) or visibility.get(check["name"], "visible") != "visible":
            continue
        number = 1 if module else Cell.notebook_number(label)
        if number is None or number > len(cells):
            continue
        cell = cells[number - 1]
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            placed.setdefault(number - 1, []).append(check)
    return placed


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
    """The submission as a notebook: each check's feedback right after the cell that produced the value
    it judged, and the summary (the score, the rest) after the last code cell."""
    raw = _source(verdict)
    nb: dict[str, Any] | None = None
    note = None
    module = False
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
        module = True
    if nb is None:
        nb = _empty()
    cells: list[Any] = nb["cells"]
    placed = _placement(verdict, visibility, cells, module)
    elsewhere = {c["name"] for found in placed.values() for c in found}
    with_ids = int(nb.get("nbformat_minor", 0)) >= 5
    ids = _fresh_ids({c.get("id") for c in cells if isinstance(c, dict)})

    def markdown(source: str) -> dict[str, Any]:
        cell: dict[str, Any] = {"cell_type": "markdown", "metadata": {}, "source": source}
        if with_ids:
            cell["id"] = next(ids)
        return cell

    in_order = [c["name"] for c in verdict.get("checks") or [] if c["name"] in elsewhere]
    summary = markdown(feedback(verdict, visibility, note, in_order))
    out: list[Any] = []
    code = [i for i, c in enumerate(cells) if isinstance(c, dict) and c.get("cell_type") == "code"]
    for i, cell in enumerate(cells):
        out.append(cell)
        if i in placed:
            out.append(markdown(cell_feedback(placed[i], visibility)))
        if code and i == code[-1]:
            out.append(summary)
    if not code:
        out.append(summary)
    nb["cells"] = out
    return nb


def _fresh_ids(taken: set[Any]) -> Iterator[str]:
    """Cell ids not in ``taken``: ``gradproof-feedback``, then ``gradproof-feedback-2``, ..."""
    for n in itertools.count(1):
        candidate = CELL_ID if n == 1 else f"{CELL_ID}-{n}"
        if candidate not in taken:
            yield candidate


def render(report: ReportData) -> Rendered:
    visibility = dict(report.get("visibility") or {})
    stems = page_stems([v["submission"] for v in report["submissions"]])
    return [
        (f"{FOLDER}/{stem}.ipynb", json.dumps(annotated(verdict, visibility), indent=1, ensure_ascii=False) + "\n")
        for stem, verdict in zip(stems, report["submissions"])
    ]
