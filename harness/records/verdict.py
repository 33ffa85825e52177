"""Records: everything the grader decided about one submission."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.records.report import FlagData, VerdictData
from harness.records.result import CheckResult


@dataclass(frozen=True)
class Flag:
    """Something the policy saw about the submission as a whole, with its evidence."""

    id: str  # "autograd" | "grader-import"
    message: str
    evidence: tuple[str, ...] = ()

    def to_data(self) -> FlagData:
        return {"id": self.id, "message": self.message, "evidence": list(self.evidence)}


@dataclass
class Verdict:
    """Everything the grader decided about one submission."""

    submission: str
    status: str  # "graded" | "error"
    error: str | None
    score: float
    max_score: float
    isolation: str
    duration_s: float
    checks: list[CheckResult] = field(default_factory=list)
    style: str | None = None
    digest: str = ""
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    flags: list[Flag] = field(default_factory=list)

    def to_data(self) -> VerdictData:
        """This verdict in the ``report.json`` schema (plus a few extra keys other tools may ignore)."""
        return {
            "submission": self.submission,
            "status": self.status,
            "error": self.error,
            "score": self.score,
            "max_score": self.max_score,
            "isolation": self.isolation,
            "style": self.style,
            "digest": self.digest,
            "seed": self.seed,
            "notes": list(self.notes),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "checks": [c.to_data() for c in self.checks],
            "flags": [f.to_data() for f in self.flags],
            "duration_s": round(self.duration_s, 4),  # last: report.json's line is the journal's cut before it
        }
