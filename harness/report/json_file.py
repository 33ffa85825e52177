"""Format ``json``: ``report.json``, the verdicts' plain data, from which every other format is built."""

from __future__ import annotations

import json

from harness.records.report import ReportData, valid_data
from harness.report.files import Rendered

REPORT_FILE = "report.json"


def report_json(report: ReportData) -> str:
    """The report as JSON: ASCII, and valid Unicode within (no lone surrogate, even escaped)."""
    return report_json_of_valid(valid_data(report))


def report_json_of_valid(report: ReportData) -> str:
    """:func:`report_json` of a report already made valid (``write_reports`` makes it valid once
    for every format: a second pass over every verdict's strings costs as much as the first)."""
    return json.dumps(report, indent=2, allow_nan=False) + "\n"


def render(report: ReportData) -> Rendered:
    """``report.json`` of a report :func:`~harness.report.write_reports` made valid, as it does for
    every format (the pass over every verdict's strings is not made twice)."""
    return [(REPORT_FILE, report_json_of_valid(report))]
