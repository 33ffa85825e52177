"""The student's self-test: ``gradproof selftest FILE``.

The visible checks with their diagnoses, friendly and short; the hidden ones
(and those shown only after the due date or publication) only counted.  The
exit status (decided by the CLI from :attr:`SelfTest.ok`) is 0 when every
visible check passes.

Latency: one submission, one worker.  The worker imports torch inside its
sandbox and the grader imports torch too, for the check stage.  Done one
after the other that is two torch imports; here the worker is spawned
*before* the grader imports torch (nothing up to the spawn imports it: the
spec, the loader and the sandbox's command line are torch-free), so the two
imports overlap on two cores and a self-test costs about one torch import plus
the grading itself (``bench/startup.py`` measures it).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from harness.definition import load_assignment
from harness.errors import invalid
from harness.load import collect
from harness.records.assignment import Assignment
from harness.records.outcome import SandboxMode
from harness.records.report import VerdictData
from harness.run.pool import Pool, first_import  # torch-free: the worker starts before torch is imported here

HIDDEN_NOTE = "graded when you submit; not shown here"


@dataclass
class SelfTest:
    """What the self-test found: the text to print, and whether every visible check passed."""

    text: str
    ok: bool
    verdict: VerdictData | None = None
    seconds: float = 0.0


# ---------------------------------------------------------------- the self-test


def run_selftest(
    path: Path,
    spec: Assignment | Path | str | None = None,
    *,
    sandbox: SandboxMode = "auto",
    timeout: float | None = None,
) -> SelfTest:
    """Grade one file and describe what its author may see (``spec``: an assignment, or where one is)."""
    started = time.monotonic()
    assignment = spec if isinstance(spec, Assignment) else load_assignment(spec)
    if timeout is not None:
        assignment = replace(assignment, limits=replace(assignment.limits, timeout=timeout))
    if path.is_dir():
        invalid("file", str(path), "expected one .py or .ipynb file (the self-test grades one submission)")
    files = collect([path])
    hide = [path.resolve().parent]
    # Warm (its own run and the grader's each start from the warm worker, which warms up while
    # this process still imports torch), without huge pages (three forks do not pay them back).
    pool = Pool(1, sandbox, hide, huge_pages=False, scratch_bytes=assignment.limits.scratch_bytes)
    try:
        pool.spawn()
        with first_import("harness.grade"):
            from harness.grade import grade_submission  # lazy: imports torch while the worker starts (see above)

        # No pool.start() here: the submission is loaded first, and its session waits for the worker.
        with warnings.catch_warnings():  # the grader's own warnings are not the student's business
            warnings.simplefilter("ignore")
            verdict = grade_submission(files[0], pool, assignment, display=str(path)).to_data()
    finally:
        for worker in pool.workers:  # nothing more to run: no graceful goodbye, the sandbox goes at once
            worker.stop()
        pool.close()
    result = describe(verdict, assignment)
    result.seconds = time.monotonic() - started
    return result


def _indent(text: str, prefix: str = "        ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def describe(verdict: VerdictData, assignment: Assignment) -> SelfTest:
    """The self-test's text for one verdict (report.json schema): visible checks in full, hidden ones counted."""
    name = Path(verdict["submission"]).name
    lines = [f"gradproof self-test: {name} (assignment {assignment.name})", ""]
    if verdict["status"] == "error":
        lines += [f"Not graded: {verdict['error']}", "", "Fix this first: the grader cannot check anything yet."]
        return SelfTest("\n".join(lines) + "\n", ok=False, verdict=verdict)
    checks = verdict.get("checks") or []
    shown = [c for c in checks if assignment.visible(c["name"])]
    hidden = [c for c in checks if not assignment.visible(c["name"])]
    width = max((len(c["name"]) for c in shown), default=6)
    for c in shown:
        ok = c["status"] == "pass"
        points = f"{c['score']:g}/{c['max_score']:g}"
        tag = "PASS" if ok else {"missing": "MISSING", "error": "ERROR"}.get(c["status"], "FAIL")
        lines.append(f"  {tag:<7} {c['name']:<{width}}  {points}")
        if not ok:
            lines.append(_indent(c["message"]))
            diagnosis = c.get("diagnosis")
            if diagnosis:
                lines.append(_indent(f"Likely mistake: {diagnosis['message']}"))
    for note in verdict.get("notes") or []:
        lines.append(f"  Note: {note}")
    passed = sum(c["status"] == "pass" for c in shown)
    score = sum(c["score"] for c in shown)
    out_of = sum(c["max_score"] for c in shown)
    lines += ["", f"{passed} of {len(shown)} visible checks pass ({score:g} of {out_of:g} points)."]
    if hidden:
        lines.append(f"{len(hidden)} more check{'s are' if len(hidden) != 1 else ' is'} hidden: {HIDDEN_NOTE}.")
    ok = passed == len(shown)
    if not shown and not hidden:
        lines.append("No check could run: does the file define the names of the assignment?")
        ok = False
    return SelfTest("\n".join(lines) + "\n", ok=ok, verdict=verdict)
