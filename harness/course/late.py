"""Late work (``gradproof grade --late-policy``): a penalty by whole days late.

Policies: ``none`` (lateness is recorded, nothing is taken off), ``zero`` (a late submission
scores 0), ``percent:<P>`` (``P`` percent of the score off per day late, at most 100).  A day
late is any part of one: 1 second late is 1 day.

When it was due: the roster's ``due`` column (:mod:`harness.course.roster`).  When it was
handed in: the roster's ``submitted`` column, else the submission file's modification time (so a
copy that keeps times, ``cp -p``, ``rsync -t``, an LMS zip, re-grades the same).  A submission
without a roster row, or whose row has no ``due``, is not judged late.

Each late-judged verdict gets ``late: {days, policy, penalty, score_before, due, submitted,
source}`` and its ``score`` becomes ``score_before × (1 − penalty)``.  The journal keeps the
score before the penalty, so a ``--resume`` with another policy applies that one.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.course.roster import Row, parse_time
from harness.errors import invalid
from harness.records.report import LateData, VerdictData

_DAY = 86400.0


@dataclass(frozen=True)
class Policy:
    kind: str  # "none" | "zero" | "percent"
    percent: float = 0.0

    @property
    def name(self) -> str:
        return f"percent:{self.percent:g}" if self.kind == "percent" else self.kind

    def penalty(self, days: int) -> float:
        """The fraction of the score taken off for ``days`` days late."""
        if days <= 0 or self.kind == "none":
            return 0.0
        if self.kind == "zero":
            return 1.0
        return min(1.0, self.percent * days / 100.0)


def parse_policy(text: str) -> Policy:
    """``none``, ``zero`` or ``percent:<P>`` (0 < P ≤ 100)."""
    value = text.strip().lower()
    if value in ("none", "zero"):
        return Policy(value)
    match = re.fullmatch(r"percent:(\d+(?:\.\d+)?)", value)
    if match and 0 < float(match.group(1)) <= 100:
        return Policy("percent", float(match.group(1)))
    invalid("late_policy", text, "expected none, zero or percent:<P> with 0 < P ≤ 100 (percent off per day late)")


def days_late(due: datetime, submitted: datetime) -> int:
    """Whole days late, any part of a day counting as one; 0 when on time."""
    seconds = (submitted - due).total_seconds()
    return 0 if seconds <= 0 else math.ceil(seconds / _DAY)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def late_data(policy: Policy, due: datetime, submitted: datetime, source: str, score: float) -> LateData:
    days = days_late(due, submitted)
    return {
        "days": days,
        "policy": policy.name,
        "penalty": policy.penalty(days),
        "score_before": score,
        "due": _iso(due),
        "submitted": _iso(submitted),
        "source": source,
    }


def apply_late(verdict: VerdictData, late: LateData) -> None:
    """Record ``late`` on ``verdict`` and take its penalty off the score."""
    verdict["late"] = late
    verdict["score"] = round(late["score_before"] * (1.0 - late["penalty"]), 4)
    if late["days"] > 0:  # on its pages (md, html): a verdict's notes are shown there
        verdict["notes"] = [
            *verdict.get("notes", []),
            f"late: {late['days']} day{'s' if late['days'] != 1 else ''} after {late['due']} "
            f"(handed in {late['submitted']}, by the {late['source']}); policy {late['policy']}: "
            f"{late['penalty'] * 100:g}% off, {late['score_before']:g} → {verdict['score']:g}",
        ]


def apply_policy(verdicts: list[VerdictData], rows: dict[str, Row], policy: Policy) -> int:
    """Apply ``policy`` to every verdict whose roster row has a due date; returns how many were late."""
    late_count = 0
    for verdict in verdicts:
        row = rows.get(verdict["submission"])
        if row is None or row.due is None:
            continue
        if row.submitted is not None:
            submitted, source = row.submitted, "roster"
        else:
            try:
                mtime = os.stat(Path(verdict["submission"]), follow_symlinks=False).st_mtime
            except OSError:
                continue  # gone since it was graded: said by nothing late
            submitted, source = datetime.fromtimestamp(int(mtime), timezone.utc), "mtime"
        late = late_data(policy, row.due, submitted, source, verdict["score"])
        apply_late(verdict, late)
        late_count += late["days"] > 0
    return late_count


def gradescope_late(metadata: object, policy: Policy, score: float) -> LateData | None:
    """Lateness from Gradescope's ``submission_metadata.json`` (its documented keys: the
    submission's ``created_at`` against ``assignment.due_date``); ``None`` where either is missing."""
    if not isinstance(metadata, dict) or not isinstance(metadata.get("assignment"), dict):
        return None
    created, due = metadata.get("created_at"), metadata["assignment"].get("due_date")
    if not isinstance(created, str) or not isinstance(due, str):
        return None
    return late_data(policy, parse_time(due, "due_date"), parse_time(created, "created_at"), "gradescope", score)
