"""What ``gradproof grade`` does for a course's gradebook: the roster, late work, the timings.

* :func:`plan`: the options checked before anything is graded (``--roster``, ``--format
  canvas``, ``--canvas-assignment``, ``--late-policy``), each a one-line usage error;
* :func:`apply`: the roster's rows given to the verdicts (``student``), the late policy applied
  (``late``), and the report's ``roster`` (what was unmatched, who is absent);
* :func:`split_timings`: the timings taken out of the verdicts, so that ``report.json`` is the
  same bytes whenever the same submissions are graded with the same spec (``timings.json`` holds them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.course.late import Policy, apply_policy, parse_policy
from harness.course.roster import Roster, attach, load_roster, relative_names
from harness.errors import invalid
from harness.records.report import RosterData, VerdictData

TIMINGS = "timings.json"
_CANVAS_COLUMN = re.compile(r"\S.* \(\d+\)")


@dataclass(frozen=True)
class Gradebook:
    roster: Roster | None
    policy: Policy
    canvas_assignment: str | None


def plan(roster: Path | None, canvas_assignment: str | None, late_policy: str, formats: tuple[str, ...]) -> Gradebook:
    """Check the gradebook options together, before anything is graded.

    ``--format canvas`` without ``--roster`` writes a ``canvas.csv`` with no student rows (no
    roster, no Canvas IDs), so that every format can always be asked for (``--format`` with all
    of them); with a roster it needs ``--canvas-assignment``."""
    policy = parse_policy(late_policy)
    if canvas_assignment is not None and not _CANVAS_COLUMN.fullmatch(canvas_assignment.strip()):
        invalid(
            "canvas_assignment",
            canvas_assignment,
            'expected the assignment\'s name and its Canvas id in parentheses, e.g. "Backprop (1234)"',
        )
    if "canvas" in formats and roster is not None and canvas_assignment is None:
        invalid("format", "canvas", 'needs --canvas-assignment "Name (id)" (the column Canvas imports into)')
    if policy.kind != "none" and roster is None:
        invalid("late_policy", late_policy, "needs --roster FILE with a due column")
    loaded = load_roster(roster) if roster is not None else None
    if loaded is not None and policy.kind != "none" and not any(r.due for r in loaded.rows.values()):
        invalid("late_policy", late_policy, f"the roster {roster.name!r} has no due dates (a due column)")  # type: ignore[union-attr]
    return Gradebook(loaded, policy, canvas_assignment.strip() if canvas_assignment else None)


def apply(book: Gradebook, verdicts: list[VerdictData], files: list[Path], paths: list[Path]) -> RosterData | None:
    """Give the verdicts their roster rows and late penalties; the report's ``roster``, if any."""
    if book.roster is None:
        return None
    data, matched = attach(verdicts, book.roster, relative_names(files, paths), book.canvas_assignment)
    apply_policy(verdicts, matched, book.policy)
    return data


def split_timings(verdicts: list[VerdictData]) -> tuple[list[VerdictData], dict[str, Any]]:
    """The verdicts without ``duration_s`` (a copy), and ``timings.json``'s data: each
    submission's seconds, in the batch's order."""
    timeless: list[VerdictData] = []
    timings: list[dict[str, Any]] = []
    for verdict in verdicts:
        copy = dict(verdict)
        timings.append({"submission": verdict["submission"], "duration_s": copy.pop("duration_s", None)})
        timeless.append(copy)  # type: ignore[arg-type]
    return timeless, {"submissions": timings}
