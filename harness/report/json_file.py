"""Format ``json``: ``report.json``, the verdicts' plain data, from which every other format is built."""

from __future__ import annotations

import json

from harness.records.report import ReportData, valid_data
from harness.report.files import Rendered

REPORT_FILE = "report.json"


def report_json(report: ReportData) -> str:
    """The report as JSON: ASCII, and valid Unicode within (no lone surrogate, even escaped)."""
    return json.dumps(valid_data(report), indent=2, allow_nan=False) + "\n"


def render(report: ReportData) -> Rendered:
    return [(REPORT_FILE, report_json(report))]
