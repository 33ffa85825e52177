"""Records: the ``report.json`` schema, typed, so that a misspelt key is a type error.

A verdict becomes data once, by :meth:`Verdict.to_data` (and :meth:`CheckResult.to_data`); every
reader after that (journal, reports, course platforms) reads these shapes.  Numbers that are not
finite are written as ``null``; tuples become lists, so that data read back from JSON equals the
data written.  Text is valid Unicode (:func:`valid_text`): a submission's output, messages and file
name may hold lone surrogates, which no UTF-8 file can carry.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypedDict, cast


class EntryData(TypedDict):
    index: list[int]
    submitted: float | None
    expected: float | None
    abs_error: float | None
    rel_error: float | None


class DiagnosisData(TypedDict):
    id: str
    message: str


class RunData(TypedDict):
    """One run a check was judged on: the submission's own inputs, or inputs the grader drew."""

    source: str  # "own" | "grader"
    seed: int | None  # the grader's draw (own runs: the submission's seed)
    values: dict[str, Any]  # the inputs it ran on (X, Y, W1, W2, lr), as nested lists


class _CheckBase(TypedDict):
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
    runs: list[RunData]  # what it was judged on: it passes only if right on every one


class CheckData(_CheckBase, total=False):
    # The label of the cell (``load``: "cell 4" in a notebook, the file name for a module) whose
    # statement bound the value judged (function style: that defined the function); ``None``:
    # not known.  Always written; absent in a report.json written before it existed.
    cell: str | None


class FlagData(TypedDict):
    id: str  # "autograd" | "grader-import"
    message: str
    evidence: list[str]


class _VerdictBase(TypedDict):
    submission: str
    status: str  # "graded" | "error"
    error: str | None
    score: float
    max_score: float
    isolation: str
    style: str | None
    digest: str
    seed: int | None
    notes: list[str]
    stdout: str
    stderr: str
    checks: list[CheckData]
    flags: list[FlagData]  # what the policy saw, with its evidence (the summary counts them)


class VerdictData(_VerdictBase, total=False):
    duration_s: float  # in each verdict and the journal; ``grade`` puts it in timings.json, not report.json
    student: StudentData  # ``grade --roster``: the roster row this submission matched
    late: LateData  # ``grade --late-policy``: how late it was and what that cost


class StudentData(TypedDict):
    """A roster row (``grade --roster``): who a submission is, as the LMS knows them."""

    submission: str  # the roster's key: a path relative to the graded folder
    student_id: str  # Canvas: the user's Canvas ID (the gradebook export's ID column)
    name: str
    section: str
    sis_user_id: str
    sis_login_id: str


class LateData(TypedDict):
    """Late work (``grade --late-policy``): the penalty applied to this submission's score."""

    days: int  # whole days late, rounded up (0: on time)
    policy: str  # "none" | "zero" | "percent:<P>"
    penalty: float  # the fraction of the score taken off, 0..1
    score_before: float
    due: str  # ISO 8601, UTC
    submitted: str  # ISO 8601, UTC
    source: str  # where ``submitted`` came from: "roster" | "mtime" | "gradescope"


class RosterData(TypedDict):
    """The roster's view of a batch (``grade --roster``): nothing dropped silently."""

    file: str  # the roster's file name
    unmatched: list[str]  # submissions graded that no roster row names
    absent: list[StudentData]  # roster rows no graded submission matched
    canvas_assignment: str | None  # the Canvas column header, ``Name (id)``


class ShardData(TypedDict, total=False):
    """Which shard a report is (``grade --shard``): every key in a shard's report (none in a plan
    without a shard); read back from disk, each is checked before use (``harness.course.shard.merge``)."""

    index: int  # from 1
    count: int
    source: str  # "--shard" | "SLURM_ARRAY_TASK_ID" | "JOB_COMPLETION_INDEX"
    total: int  # submissions in the whole batch
    positions: list[int]  # of this shard's submissions in the whole batch
    batch: str  # a fingerprint of the batch


class CheckSummaryData(TypedDict):
    """One check across the batch: how many submissions had each status, and the share that passed."""

    passed: int
    failed: int
    missing: int
    error: int
    total: int  # submissions that have this check (a submission not graded has none)
    pass_rate: float | None  # passed / total, to 6 digits (None: no submission has the check)


class MistakeData(TypedDict):
    """One diagnosed mistake of one check across the batch."""

    id: str  # the diagnosis id ("sign-flip")
    message: str  # a label: the message most of its submissions got
    count: int
    submissions: list[str]  # which made it, in batch order


class HistogramBinData(TypedDict):
    low: float
    high: float  # equal to low for a bin of one whole score
    count: int


class ScoresData(TypedDict):
    histogram: list[HistogramBinData]
    mean: float | None  # None: no submission
    max_score: float


class SummaryData(TypedDict):
    """What the class got wrong: computed from the verdicts alone (so a merge recomputes it exactly)."""

    checks: dict[str, CheckSummaryData]  # in the grader's order of checks
    mistakes: dict[str, list[MistakeData]]  # per check, most frequent first (then by id)
    flags: dict[str, int]  # flag id -> submissions flagged, by id
    scores: ScoresData


class _ReportBase(TypedDict):
    tool: str
    version: str
    assignment: str
    tolerances: dict[str, str]
    submissions: list[VerdictData]


class ReportData(_ReportBase, total=False):
    summary: SummaryData  # the batch at a glance (report_data computes it; a format recomputes it)
    visibility: dict[str, str]  # check -> "hidden" | "after_due_date" | "after_published"; absent: visible
    shard: ShardData  # only in the report of one shard of a batch
    roster: RosterData  # only with ``grade --roster``


def verdict_from_json(value: object) -> VerdictData:
    """A verdict read back from disk (parsed JSON), checked as far as its readers rely on it:
    an object naming its submission.  Raises :class:`ValueError` otherwise."""
    if not isinstance(value, dict) or not isinstance(value.get("submission"), str):
        raise ValueError("a verdict is an object with a submission")
    return cast(VerdictData, value)


def report_from_json(value: object) -> ReportData:
    """A ``report.json`` read back from disk (parsed JSON), checked: an object whose submissions
    are verdicts (:func:`verdict_from_json`) and whose shard, if any, is an object.  Raises
    :class:`ValueError` otherwise.  The one place a report read from disk becomes typed data."""
    if not isinstance(value, dict) or not isinstance(value.get("submissions"), list):
        raise ValueError("a report is an object with a list of submissions")
    for verdict in value["submissions"]:
        verdict_from_json(verdict)
    if value.get("shard") is not None and not isinstance(value["shard"], dict):
        raise ValueError("a report's shard is an object")
    return cast(ReportData, value)


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


_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def valid_text(text: str) -> str:
    """``text`` as valid Unicode, which UTF-8 can always encode: a byte that was not UTF-8 (a file
    name's, kept by Python as a lone surrogate U+DC80..U+DCFF) shown as ``\\xff``, any other lone
    surrogate as U+FFFD."""
    return text if text.isascii() or not _SURROGATE.search(text) else _SURROGATE.sub(_replace_surrogate, text)


def valid_data(value: Any) -> Any:
    """``value`` (parsed-JSON-like data) with every string, keys too, made :func:`valid_text`."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_text(k) if isinstance(k, str) else k: valid_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [valid_data(v) for v in value]
    return value
