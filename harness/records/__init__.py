"""Records: every data type one stage hands to the next, at the bottom of the house.

Nothing here runs a stage; each stage imports the records it reads and builds the ones it returns.
"""

from harness.records.assignment import CHECKS, FUNCTIONS, Assignment, Limits, Tolerance
from harness.records.outcome import (
    SANDBOX_MODES,
    Binding,
    CallResult,
    CapturedError,
    Ending,
    GradingFailed,
    Outcome,
    Run,
    SandboxMode,
    Value,
)
from harness.records.result import CheckResult, Diagnosis, Entry, Status
from harness.records.submission import Cell, Submission
from harness.records.verdict import Flag, Verdict

__all__ = [
    "CHECKS",
    "FUNCTIONS",
    "SANDBOX_MODES",
    "Assignment",
    "Binding",
    "CallResult",
    "CapturedError",
    "Cell",
    "CheckResult",
    "Diagnosis",
    "Ending",
    "Entry",
    "Flag",
    "GradingFailed",
    "Limits",
    "Outcome",
    "Run",
    "SandboxMode",
    "Status",
    "Submission",
    "Tolerance",
    "Value",
    "Verdict",
]
