"""Shared fixtures: the bundled submissions graded once per test session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"


@pytest.fixture(scope="session")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``report.json`` of grading ``submissions/`` once, with its verdicts by file name."""
    import json

    from harness.batch import grade_batch
    from harness.definition import built_in_names
    from harness.load import collect
    from harness.records.assignment import Assignment
    from harness.report import write_reports
    from harness.report.data import report_data

    out = tmp_path_factory.mktemp("bundled")
    others = frozenset(built_in_names()) - {"mlp-4-3-1"}  # submissions/<name>/: the other assignments'
    verdicts = grade_batch(collect([SUBMISSIONS], others), Assignment(), jobs=2, out=out)
    write_reports(out, report_data(verdicts, "mlp-4-3-1"), ("json", "md"))
    report = json.loads((out / "report.json").read_text())
    return {"out": out, "report": report, "by_name": {Path(v["submission"]).name: v for v in report["submissions"]}}
