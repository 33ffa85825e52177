"""The pipeline: load → run → check → diagnose, for one submission and for a batch.

Each verdict is plain data (the ``report.json`` schema) the moment it exists:
it is appended to the journal in ``--out`` (fsync'd) as soon as it is
complete, so that a killed batch resumes where it stopped (``--resume``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import harness.wire as wire
from harness.check.defined import (
    Observed,
    argument_array,
    argument_dtype,
    check_defined,
    observe_script,
    observe_script_runs,
    observe_steps,
    placed,
    script_substitutions,
)
from harness.computation import run_seeds
from harness.definition import resolved
from harness.diagnose import diagnose_check
from harness.errors import SubmissionError
from harness.load import digest_of, load
from harness.records.assignment import Assignment
from harness.records.definition import Definition
from harness.records.outcome import CapturedError, Outcome, Run
from harness.records.result import CheckResult, Diagnosis
from harness.records.submission import Submission
from harness.records.verdict import Flag, Verdict
from harness.run.pool import Pool, Session


def max_score(assignment: Assignment) -> float:
    return assignment.max_score()


def grade_submission(path: Path, pool: Pool, assignment: Assignment, display: str | None = None) -> Verdict:
    """Grade one file: a verdict always, whatever the file holds or does."""
    started = time.monotonic()
    name = display or str(path)
    try:
        submission = load(path)
    except SubmissionError as exc:
        return Verdict(
            submission=name,
            status="error",
            error=f"cannot load the submission: {exc}",
            score=0.0,
            max_score=max_score(assignment),
            isolation="not run",
            duration_s=time.monotonic() - started,
            digest=digest_of(path),
        )
    return _grade(submission, name, pool, resolved(assignment), started)


def _grade(submission: Submission, name: str, pool: Pool, assignment: Assignment, started: float) -> Verdict:
    """Run the file; then the assignment's steps on the grader's inputs (functions, objects), or the
    file again on them (script); judge every check on every run."""
    definition = assignment.definition
    assert definition is not None
    stepped = definition.uses_steps
    helpers: list[Observed] = []
    scriptable = definition.script_too or not stepped
    paths = definition.read_paths() if scriptable else []
    roots = definition.step_roots() if definition.script_too else []
    seeds = run_seeds(submission.seed, definition.runs) if scriptable else []
    inputs = [script_substitutions(definition, seed, turn) for turn, seed in enumerate(seeds)]
    with pool.session(submission, assignment.limits, paths, roots, runs=1 + len(seeds)) as session:
        outcome = _run(session, assignment)
        runs = [Run("own", submission.seed, outcome)]
        if definition.script_too:  # the steps' style where the file defines a function they call
            stepped = bool(set(outcome.functions) & set(definition.step_roots(helpers=False)))
        if stepped:
            defined = set(outcome.functions) if roots else None
            dtype = argument_dtype(definition, outcome)
            mine = observe_script(outcome, definition, "own", None) if definition.script_too else None
            own = mine.inputs if mine is not None and mine.not_judged is None else None
            numpy = argument_array(definition, submission.imports)
            observed = observe_steps(session, definition, submission.seed, defined, dtype, own, numpy)
        else:
            helpers = _helpers(session, submission, definition, outcome)
            runs += _grader_runs(session, submission, assignment, outcome, seeds, inputs, paths)
    style = definition.style if stepped else "script"
    if not stepped:
        runs += _grader_runs(pool, submission, assignment, outcome, seeds, inputs, paths, done=len(runs) - 1)
        observed = observe_script_runs(outcome, [(r.seed or 0, r.outcome) for r in runs[1:]], definition)
    forged = next(
        (r.outcome.ending for r in runs if r.outcome.ending and r.outcome.ending.reason == wire.END_FORGED), None
    )
    if forged is not None:
        return _refused(submission, name, assignment, started, forged.problem(assignment.limits) or "", outcome)
    checks = [placed(c, definition, observed, submission.cells, stepped) for c in check_defined(observed, assignment)]
    if helpers:
        checks = _with_helpers(checks, helpers, assignment, submission)
    checks = [diagnose_check(c) for c in checks]
    flags = _flags(submission, runs)
    checks = _apply_policy(checks, flags, assignment)
    ending = outcome.ending
    return Verdict(
        submission=name,
        status="graded",
        error=None,
        score=round(sum(c.score for c in checks), 6),
        max_score=max_score(assignment),
        isolation=outcome.isolation,
        duration_s=time.monotonic() - started,
        checks=checks,
        style=style,
        digest=submission.digest,
        seed=submission.seed,
        notes=_notes(submission, outcome),
        stdout=ending.stdout if ending else "",
        stderr=ending.stderr if ending else "",
        flags=flags,
    )


def _with_helpers(
    checks: list[CheckResult], helpers: list[Observed], assignment: Assignment, submission: Submission
) -> list[CheckResult]:
    """A script's checks with those of the helpers it defines, called as the steps call them
    (CONTRACT.md: "checked where defined"), in the assignment's order."""
    definition = assignment.definition
    assert definition is not None
    called = {
        c.name: placed(c, definition, helpers, submission.cells, stepped=True)
        for c in check_defined(helpers, assignment)
        if c.name in definition.helper_checks() and c.status != "missing"
    }
    scripted = {c.name: c for c in checks if c.name not in called}
    return [scripted.get(n) or called[n] for n in assignment.checks if n in scripted or n in called]


def _helpers(session: Session, submission: Submission, definition: Definition, outcome: Outcome) -> list[Observed]:
    """A script's helper functions (``helper = true`` steps), where it defines them: called on the
    grader's inputs as the steps call them (CONTRACT.md: "checked where defined")."""
    helpers = {s.target for s in definition.steps if s.helper and s.action == "call"}
    defined = set(outcome.functions) & helpers if definition.script_too else set()
    if not defined or not session.callable:
        return []
    dtype = argument_dtype(definition, outcome)
    numpy = argument_array(definition, submission.imports)
    return observe_steps(session, definition, submission.seed, defined, dtype, None, numpy)


def _run(session: Session, assignment: Assignment) -> Outcome:
    """The submission run as written, to its end; a run that was stopped is an error like any other."""
    session.wait_executed()
    outcome = session.outcome
    _note_stop(outcome, assignment)
    return outcome


def _grader_runs(
    runner: Pool | Session,
    submission: Submission,
    assignment: Assignment,
    own: Outcome,
    seeds: list[int],
    inputs: list[dict[str, wire.Substitution]],
    names: list[str],
    done: int = 0,
) -> list[Run]:
    """The script run again on inputs the grader draws (``inputs``, one per seed), each replaced
    where the script binds it (the runs after the first ``done``): by the own run's session, in
    its child (fresh globals, each run with its own limits), while it can; by the pool, each in
    a fresh child."""
    if own.ending is not None and own.ending.problem(assignment.limits) is not None:
        return []  # stopped by a limit (time, memory, output) or forged: another run would end the same way
    runs = []
    for seed, substitute in list(zip(seeds, inputs))[done:]:
        if isinstance(runner, Session):
            if runner.rerun(substitute) is None:
                break  # it cannot: the rest run in fresh children
            runs.append(Run("grader", seed, _run(runner, assignment)))
            continue
        with runner.session(submission, assignment.limits, names, [], substitute) as session:
            runs.append(Run("grader", seed, _run(session, assignment)))
    return runs


def _refused(
    submission: Submission, name: str, assignment: Assignment, started: float, why: str, outcome: Outcome | None = None
) -> Verdict:
    return Verdict(
        submission=name,
        status="error",
        error=f"not graded: {why}",
        score=0.0,
        max_score=max_score(assignment),
        isolation=outcome.isolation if outcome else "not run",
        duration_s=time.monotonic() - started,
        digest=submission.digest,
        seed=submission.seed,
    )


def _note_stop(outcome: Outcome, assignment: Assignment) -> None:
    """A run that was stopped (time, output, crash, exit) is what stopped it: an error like any other."""
    problem = outcome.ending.problem(assignment.limits) if outcome.ending else None
    if problem is not None and outcome.error is None:
        outcome.error = CapturedError(type="Stopped", message=problem, where="", traceback="")


def _flags(submission: Submission, runs: list[Run]) -> list[Flag]:
    """What the policy saw: autograd (from the code's structure and its runs), and attempts to import
    the grader's packages (they fail like any missing module; the submission is graded on its own work)."""
    flags = []
    evidence: list[str] = []
    for run in runs:  # what the code did first, then what its text shows
        evidence += [e for e in run.outcome.autograd if e not in evidence]
    evidence += [e for e in submission.autograd if e not in evidence]
    if evidence:
        flags.append(Flag("autograd", "The code uses autograd: " + "; ".join(evidence[:3]) + ".", tuple(evidence)))
    tried = [f"imports {name}" for name in submission.grader_imports]
    for run in runs:
        tried += [
            f"imported {name} at run time"
            for name in run.outcome.blocked_imports
            if f"imported {name} at run time" not in tried
        ]
    if tried:
        message = (
            "The code tries to import the grader's own packages; they are not there for submissions, "
            "so it was graded on its own work: " + "; ".join(tried[:3]) + "."
        )
        flags.append(Flag("grader-import", message, tuple(tried)))
    return flags


def _apply_policy(checks: list[CheckResult], flags: list[Flag], assignment: Assignment) -> list[CheckResult]:
    """Autograd in a hand-derivation assignment: reported by default, zero gradient points where
    forbidden, with the evidence shown."""
    flag = next((f for f in flags if f.id == "autograd"), None)
    if flag is None:
        return checks
    gradients = assignment.gradient_checks()
    shown = "; ".join(flag.evidence[:3]) + ("; ..." if len(flag.evidence) > 3 else "")
    diagnosis = Diagnosis(
        "uses-autograd",
        f"Your code uses autograd ({shown}); this assignment asks for the gradients derived by hand.",
    )
    if assignment.autograd == "forbid":
        return [
            replace(
                c,
                status="fail",
                score=0.0,
                diagnosis=diagnosis,
                message=f"{c.message} Not counted: autograd is not allowed in this assignment.",
            )
            if c.name in gradients and c.status == "pass"
            else c
            for c in checks
        ]
    return [replace(c, notes=c.notes + (diagnosis.message,)) if c.name in gradients else c for c in checks]


def _notes(submission: Submission, outcome: Outcome) -> list[str]:
    notes = [f"IPython line not executed: {line}" for line in submission.neutralised]
    notes += [
        f"the module {name!r} is not installed on the grader; the code ran on with a stand-in that does nothing"
        for name in dict.fromkeys(outcome.missing_modules)
    ]
    if outcome.error is not None:
        notes.append(f"the submission stopped: {outcome.error}")
    ending = outcome.ending
    if ending and ending.stdout_bytes > len(ending.stdout.encode()):
        notes.append(f"stdout: {ending.stdout_bytes} bytes, the first {len(ending.stdout.encode())} kept")
    return notes


# ---------------------------------------------------------------- batches
