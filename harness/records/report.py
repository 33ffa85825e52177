"""Records: the ``report.json`` schema, typed, so that a misspelt key is a type error.

A verdict becomes data once, by :meth:`Verdict.to_data` (and :meth:`CheckResult.to_data`); every
reader after that (journal, reports, course platforms) reads these shapes.  Numbers that are not
finite are written as ``null``; tuples become lists, so that data read back from JSON equals the
data written.
"""

from __future__ import annotations

import math
from typing import Any, TypedDict


class EntryData(TypedDict):
    index: list[int]
    submitted: float | None
    expected: float | None
    abs_error: float | None
    rel_error: float | None


class DiagnosisData(TypedDict):
    id: str
    message: str


class CheckData(TypedDict):
    name: str
    status: str  # "pass" | "fail" | "missing" | "error"
    score: float
    max_score: float
    message: str
    max_abs_error: float | None
    max_rel_error: float | None
    diagnosis: DiagnosisData | None
    tolerance: str
    notes: list[str]
    worst: list[EntryData]
    counterexample: dict[str, Any] | None
    errors: list[list[float | None]] | None  # per-entry abs error (2-D), for heat maps


class VerdictData(TypedDict):
    submission: str
    status: str  # "graded" | "error"
    error: str | None
    score: float
    max_score: float
    isolation: str
    duration_s: float
    style: str | None
    digest: str
    seed: int | None
    notes: list[str]
    stdout: str
    stderr: str
    checks: list[CheckData]


class ReportData(TypedDict):
    tool: str
    version: str
    assignment: str
    tolerances: dict[str, str]
    submissions: list[VerdictData]


def finite(x: float | None) -> float | None:
    """``x``, or ``None`` where JSON has no number for it (NaN, ±inf)."""
    if x is None:
        return None
    return x if math.isfinite(x) else None


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as ``None``, tuples as lists and keys as strings."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
