"""Records: the result of one check, and the diagnosis of a failing one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from harness.records.report import CheckData, DiagnosisData, EntryData, RunData, finite, json_safe

if TYPE_CHECKING:  # types only: records stay importable without torch
    from torch import Tensor

    from harness.records.definition import Definition

Status = Literal["pass", "fail", "missing", "error"]


@dataclass(frozen=True)
class Diagnosis:
    """The mistake a failing check most likely comes from, in one sentence for the student."""

    id: str
    message: str

    def to_data(self) -> DiagnosisData:
        return {"id": self.id, "message": self.message}


@dataclass(frozen=True)
class Entry:
    """One entry of a compared value."""

    index: tuple[int, ...]
    submitted: float
    expected: float
    abs_error: float
    rel_error: float

    def to_data(self) -> EntryData:
        return {
            "index": list(self.index),
            "submitted": finite(self.submitted),
            "expected": finite(self.expected),
            "abs_error": finite(self.abs_error),
            "rel_error": finite(self.rel_error),
        }


@dataclass(frozen=True)
class ValueRun:
    """One failing run of a course assignment's check: the inputs and variant cell it ran on, the value
    judged (in the expected shape), and what else the submission computed there."""

    inputs: Mapping[str, Tensor]
    cell: Mapping[str, Any]
    submitted: Tensor
    read: Mapping[str, Tensor]


@dataclass(frozen=True)
class ValueEvidence:
    """What the diagnose stage reads about a failing check of a course's own assignment: the value
    judged (in the expected shape) and its truth, every quantity's truth on that run, what else the
    submission computed there, and the reference's graph (``consumers``: the named values made
    directly from each).  ``names``: how the assignment calls each quantity (its first read path)."""

    quantity: str
    submitted: Tensor
    expected: Tensor
    truths: Mapping[str, Tensor]
    read: Mapping[str, Tensor]
    consumers: Mapping[str, tuple[str, ...]]
    names: Mapping[str, str]
    rtol: float
    atol: float
    definition: Definition | None = None  # the assignment: the diagnosis replays its reference
    runs: tuple[ValueRun, ...] = ()  # every failing run of that variant cell (the first is the one above)
    own_right: bool = False  # right on the submission's own inputs, wrong only on the grader's
    transposed: bool = False  # submitted (and every run's) is the submission's value transposed: its shape was
    fallback: Diagnosis | None = None  # what to say when no rule explains the numbers (the shape's diagnosis)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    score: float
    max_score: float
    message: str
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    diagnosis: Diagnosis | None = None
    worst: tuple[Entry, ...] = ()
    notes: tuple[str, ...] = ()
    tolerance: str = ""
    counterexample: dict[str, Any] | None = None
    errors: tuple[tuple[float, ...], ...] | None = None  # per-entry abs error (2-D), for heat maps
    runs: tuple[RunData, ...] = ()  # the runs it was judged on (it passes only if right on every one)
    cell: str | None = None  # the label of the cell that bound the value judged (or defined the function)
    evidence: ValueEvidence | None = field(default=None, compare=False, repr=False)  # never reported

    def to_data(self) -> CheckData:
        """This result in the ``report.json`` schema."""
        return {
            "name": self.name,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "message": self.message,
            "max_abs_error": finite(self.max_abs_error),
            "max_rel_error": finite(self.max_rel_error),
            "diagnosis": self.diagnosis.to_data() if self.diagnosis else None,
            "tolerance": self.tolerance,
            "notes": list(self.notes),
            "worst": [e.to_data() for e in self.worst],
            "counterexample": json_safe(self.counterexample),
            "errors": json_safe(self.errors),
            "runs": [json_safe(r) for r in self.runs],
            "cell": self.cell,
        }
