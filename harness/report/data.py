"""The report's data: ``report.json``'s top level around the verdicts, and what every format reads of it."""

from __future__ import annotations

from harness.records.assignment import CHECKS
from harness.records.report import ReportData, VerdictData

TOOL = "gradproof"


def version() -> str:
    """The installed gradproof's version (``0+unknown`` when it is not installed)."""
    try:
        from importlib.metadata import version as dist_version  # start-up: importlib.metadata is slow to import

        return dist_version("gradproof")
    except Exception:
        return "0+unknown"


def report_data(verdicts: list[VerdictData], assignment: str, tolerances: dict[str, str] | None = None) -> ReportData:
    """``report.json``: the tool, its version, the assignment and its tolerances, then the verdicts."""
    return {
        "tool": TOOL,
        "version": version(),
        "assignment": assignment,
        "tolerances": tolerances or {},
        "submissions": verdicts,
    }


def check_columns(report: ReportData) -> list[str]:
    """Every check any submission has, the grader's known checks first, in their order."""
    seen: dict[str, None] = {}
    for verdict in report["submissions"]:
        for check in verdict.get("checks") or []:
            seen[check["name"]] = None
    return [c for c in CHECKS if c in seen] + [c for c in seen if c not in CHECKS]
