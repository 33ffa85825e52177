"""Format ``json``: ``report.json``, the verdicts' plain data, from which every other format is built."""

from __future__ import annotations

import json

from harness.records.report import ReportData
from harness.report.files import Rendered

REPORT_FILE = "report.json"


def report_json(report: ReportData) -> str:
    return json.dumps(report, indent=2, allow_nan=False) + "\n"


def render(report: ReportData) -> Rendered:
    return [(REPORT_FILE, report_json(report))]
