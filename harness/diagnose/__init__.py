"""Stage 4, diagnose: the most likely mistake behind a failing check, from the evidence the check left.

Pure functions of records and truth (the evidence may carry a function that asks the submission's
child for more, while its session lives).  The rules: :mod:`harness.diagnose.values` (a value's
own questions, then the graph's mutants, :mod:`harness.diagnose.graph`, and the forward pass's,
:mod:`harness.diagnose.forward`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import torch

from harness.diagnose.values import diagnose_value
from harness.records.result import CheckResult


@contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread while it lasts: a diagnosis replays the reference on tensors of a few dozen
    entries, where a second thread only adds its hand-over (≈ 5× slower, and erratic, on a busy machine)."""
    threads = torch.get_num_threads()
    if threads != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads != 1:
            torch.set_num_threads(threads)


def diagnose_check(result: CheckResult) -> CheckResult:
    """``result`` with the diagnosis its evidence supports, if any; a passing check never gets one.

    A diagnosis is advice: if the engine fails, the verdict stands and a note says so.
    """
    with _one_thread():
        return _diagnose_check(result)


def _diagnose_check(result: CheckResult) -> CheckResult:
    evidence = result.evidence
    if evidence is None:
        return result
    result = replace(result, evidence=None)
    if result.status == "pass" or result.diagnosis is not None:
        return result
    try:
        found = diagnose_value(evidence)
    except Exception as exc:
        note = f"(the grader could not diagnose this check: {type(exc).__name__}: {exc})"
        return replace(result, diagnosis=evidence.fallback, notes=(*result.notes, note))
    found = found or evidence.fallback
    return replace(result, diagnosis=found) if found is not None else result


__all__ = ["diagnose_check", "diagnose_value"]
