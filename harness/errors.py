"""gradproof's one error hierarchy.

A wrong gradient is a *result* (see ``harness.check`` and ``harness.gradients``);
an exception means gradproof itself was misused or could not do its job.
Only ``harness.cli`` turns these into exit codes:

* :class:`UsageError` (bad arguments, bad spec, nothing to grade): exit 2
* every other :class:`GradproofError`: exit 1

Grader signals never travel as exceptions into student code: a submission that
runs past its time is killed with SIGKILL by its supervisor, so no ``except``
clause in the submission can observe or survive it.
"""

from __future__ import annotations

from typing import Any, NoReturn


class GradproofError(Exception):
    """Base class of every error gradproof raises on purpose."""


class UsageError(GradproofError, ValueError):
    """The caller asked for something invalid: an argument, an option, a spec key."""


class SpecError(UsageError):
    """An assignment spec is invalid (unknown key, bad value)."""


class SubmissionError(GradproofError):
    """One submission cannot be loaded (bad notebook, binary junk, too large).

    The batch turns it into that submission's ``error`` verdict and carries on.
    """


class GraderError(GradproofError):
    """The grader itself failed (e.g. the sandbox was required but is unavailable)."""


class SandboxUnavailable(GraderError):
    """``--require-sandbox`` was given but bubblewrap cannot create namespaces here."""


def invalid(name: str, value: Any, expected: str) -> NoReturn:
    """Raise a :class:`UsageError` in the house style: ``name=value!r: expected``."""
    raise UsageError(f"{name}={value!r}: {expected}")
