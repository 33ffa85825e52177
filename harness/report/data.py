"""The report's data: ``report.json``'s top level around the verdicts, and what every format reads of it.

:func:`summary` is the batch at a glance (``report.json``'s ``summary``): per check the
submissions that passed, failed, went missing or raised, and its pass rate; per check the mistakes
the diagnosis named, most frequent first, with the submissions that made each; the flags raised;
and the scores' histogram and mean.  It is computed from the verdicts alone, every list and key
in a fixed order, so that a merge of shards (which recomputes it) writes what one run would.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from harness.records.assignment import CHECKS
from harness.records.report import (
    CheckSummaryData,
    HistogramBinData,
    MistakeData,
    ReportData,
    SummaryData,
    VerdictData,
)

TOOL = "gradproof"
STATUSES = ("pass", "fail", "missing", "error")  # a check's; "pass" is counted as "passed", and so on


def version() -> str:
    """The installed gradproof's version (``0+unknown`` when it is not installed)."""
    try:
        from importlib.metadata import version as dist_version  # start-up: importlib.metadata is slow to import

        return dist_version("gradproof")
    except Exception:
        return "0+unknown"


def report_data(
    verdicts: list[VerdictData],
    assignment: str,
    tolerances: dict[str, str] | None = None,
    visibility: Mapping[str, str] | None = None,
) -> ReportData:
    """``report.json``: the tool, its version, the assignment and its tolerances, the verdicts, their
    :func:`summary`, and (where the spec hides a check) which checks a student may not see in full."""
    data: ReportData = {
        "tool": TOOL,
        "version": version(),
        "assignment": assignment,
        "tolerances": tolerances or {},
        "submissions": verdicts,
    }
    data["summary"] = summary(verdicts)
    hidden = {check: seen for check, seen in sorted((visibility or {}).items()) if seen != "visible"}
    if hidden:
        data["visibility"] = hidden
    return data


def columns_of(verdicts: list[VerdictData]) -> list[str]:
    """Every check any verdict has, the grader's known checks first, in their order."""
    seen: dict[str, None] = {}
    for verdict in verdicts:
        for check in verdict.get("checks") or []:
            seen[check["name"]] = None
    return [c for c in CHECKS if c in seen] + [c for c in seen if c not in CHECKS]


def check_columns(report: ReportData) -> list[str]:
    """Every check any submission has, the grader's known checks first, in their order."""
    return columns_of(report["submissions"])


def histogram_bins(totals: list[float], max_score: float) -> list[tuple[float, float, int]]:
    """``(low, high, count)`` bins of the totals over ``[0, max_score]``: whole points when few, else ten."""
    top = max([max_score, *totals, 0.0])
    if top <= 0:
        return [(0.0, 0.0, len(totals))]
    if top <= 20 and float(top).is_integer():
        edges = [float(i) for i in range(int(top) + 1)]
        return [(e, e, sum(1 for t in totals if math.floor(t) == e or (e == top and t >= top))) for e in edges]
    width = top / 10
    bins = []
    for i in range(10):
        low, high = i * width, (i + 1) * width
        bins.append((low, high, sum(1 for t in totals if low <= t < high or (i == 9 and t >= high))))
    return bins


@dataclass(frozen=True)
class Mistake:
    """One diagnosed mistake of one check: its id, its label, and the positions (in the batch) of
    the submissions that made it, which the formats turn into links to their pages."""

    check: str
    id: str
    message: str
    positions: tuple[int, ...]


def mistakes(verdicts: list[VerdictData]) -> dict[str, list[Mistake]]:
    """Per check (in :func:`columns_of`'s order), the diagnoses of its failures, most frequent
    first (then by id); a check no failure of which was diagnosed has none."""
    found: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for position, verdict in enumerate(verdicts):
        for check in verdict.get("checks") or []:
            diagnosis = check.get("diagnosis")
            if diagnosis and check["status"] != "pass":
                found.setdefault((check["name"], diagnosis["id"]), []).append((position, diagnosis["message"]))
    out: dict[str, list[Mistake]] = {}
    for name in columns_of(verdicts):
        rows = []
        for (of_check, ident), made in found.items():
            if of_check != name:
                continue
            said = Counter(message for _, message in made)
            label = min(said, key=lambda m: (-said[m], m))  # the message most got; ties: the first in order
            rows.append(Mistake(name, ident, label, tuple(position for position, _ in made)))
        if rows:
            out[name] = sorted(rows, key=lambda m: (-len(m.positions), m.id))
    return out


def _rate(passed: int, total: int) -> float | None:
    return round(passed / total, 6) if total else None


def summary(verdicts: list[VerdictData]) -> SummaryData:
    """The batch at a glance (``report.json``'s ``summary``), from the verdicts alone."""
    checks: dict[str, CheckSummaryData] = {}
    for name in columns_of(verdicts):
        count = Counter(c["status"] for v in verdicts for c in v.get("checks") or [] if c["name"] == name)
        total = sum(count.values())
        checks[name] = {
            "passed": count["pass"],
            "failed": count["fail"],
            "missing": count["missing"],
            "error": count["error"],
            "total": total,
            "pass_rate": _rate(count["pass"], total),
        }
    made: dict[str, list[MistakeData]] = {
        name: [
            {
                "id": m.id,
                "message": m.message,
                "count": len(m.positions),
                "submissions": [verdicts[p]["submission"] for p in m.positions],  # batch order
            }
            for m in rows
        ]
        for name, rows in mistakes(verdicts).items()
    }
    flagged = Counter(ident for v in verdicts for ident in sorted({f["id"] for f in v.get("flags") or []}))
    totals = [float(v.get("score") or 0.0) for v in verdicts]
    max_score = max([float(v.get("max_score") or 0.0) for v in verdicts] or [0.0])
    histogram: list[HistogramBinData] = [
        {"low": low, "high": high, "count": n} for low, high, n in histogram_bins(totals, max_score)
    ]
    return {
        "checks": checks,
        "mistakes": made,
        "flags": dict(sorted(flagged.items())),
        "scores": {
            "histogram": histogram,
            "mean": round(sum(totals) / len(totals), 6) if totals else None,
            "max_score": max_score,
        },
    }


def summary_of(report: ReportData) -> SummaryData:
    """The summary of ``report``'s verdicts, computed afresh (a report read from disk may hold none)."""
    return summary(report["submissions"])
