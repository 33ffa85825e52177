"""The ``gradproof`` command: a thin shell over the pipeline.

Only this module turns errors into exit codes: a :class:`UsageError` is
click's usage error (exit 2); any other :class:`GradproofError` exits 1.

Every line it prints is terminal-safe (:func:`~harness.report.escape.terminal`): a file name or
a message holding a newline or an escape sequence shows it as ``\n`` or ``\x1b``, so that no
submission forges a line or drives the terminal.

Everything up to the grading itself is imported here (all of it torch-free);
what imports torch (the batch, the reference network) is imported by the
command that runs it, so that ``gradproof --help`` never loads torch.
"""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from harness.course import gradebook
from harness.course import shard as sharding
from harness.course.selftest import run_selftest
from harness.definition import BUILT_IN, SPEC_FILE, built_in_names, load_assignment
from harness.errors import GradproofError, UsageError, invalid
from harness.load import collect
from harness.records.assignment import Assignment
from harness.records.outcome import SandboxMode
from harness.records.report import VerdictData
from harness.report import (
    ALL_FORMATS,
    ALWAYS,
    DEFAULT_FORMATS,
    STREAMED,
    Pages,
    parse_formats,
    write_reports,
    write_reports_streamed,
)
from harness.report.data import report_data
from harness.report.escape import terminal, terminal_lines
from harness.report.files import group_access, make_folder, write_atomic
from harness.report.text import summary_line
from harness.run.sandbox import isolation_line
from harness.spec import default_spec_text, load_spec


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:  # one line, exit 2: no group usage (it would name the wrong command)
            raise click.UsageError(terminal(exc)) from None
        except GradproofError as exc:
            raise click.ClickException(terminal(exc)) from None
        except OSError as exc:  # a folder it cannot make or write (--out under a file, a full disk): one line, exit 1
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(terminal(f"{where}{exc.strerror or exc}")) from None


def _say(text: str) -> None:
    """Print one line, terminal-safe."""
    click.echo(terminal(text))


@click.group(cls=_Group)
@click.version_option(package_name="gradproof")
def main() -> None:
    """gradproof: grade hand-written backpropagation, honestly."""


_SPEC_OPTION = click.option(
    "--assignment",
    "--spec",
    "spec",
    default=None,
    metavar="DIR|NAME|FILE",
    help="The assignment: a folder with assignment.toml, a built-in name, or a spec file [mlp-4-3-1].",
)


def _assignment(ref: str | None, built_in_too: bool = False) -> Assignment:
    """The assignment ``ref`` names, its reference run once (a mistake in it: one line, exit 2); a
    built-in one (or the default changed by a classic spec) is checked by gradproof's own tests."""
    assignment = load_assignment(ref)
    definition = assignment.definition
    if definition is not None and (built_in_too or Path(definition.folder).resolve().parent != BUILT_IN.resolve()):
        from harness.computation import validate  # lazy: it imports torch, only a course's own assignment needs it

        validate(assignment)
    return assignment


_GROUP_OPTION = click.option(
    "--group",
    default=None,
    metavar="NAME",
    help="Give the reports and the journal to group NAME, readable by it (0640) [yours alone: 0600].",
)
_SANDBOX_OPTION = click.option(
    "--sandbox",
    type=click.Choice(["auto", "require", "off"]),
    default="auto",
    show_default=True,
    help="bubblewrap namespaces: where available, always (else fail), or never.",
)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Folder for the reports."
)
@_SPEC_OPTION
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Wall-clock seconds per submission [the spec's, 30].",
)
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Workers in parallel [the CPU count].")
@_SANDBOX_OPTION
@click.option(
    "--format",
    "formats",
    default=",".join(DEFAULT_FORMATS),
    show_default=True,
    help=f"Comma-separated report formats: {', '.join(ALL_FORMATS)} ({ALWAYS} is always written).",
)
@click.option("--resume", is_flag=True, help="Skip submissions already graded in --out's journal.")
@click.option(
    "--shard",
    default=None,
    metavar="K/N|auto",
    help="Grade only slice K of N (K from 1); 'auto': from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX.",
)
@click.option(
    "--shard-count",
    type=click.IntRange(min=1),
    default=None,
    help="Number of shards for --shard auto (else SLURM_ARRAY_TASK_COUNT or GRADPROOF_SHARD_COUNT).",
)
@click.option(
    "--roster",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="CSV naming each submission's student: submission,student_id,name,section[,sis_user_id,sis_login_id,due,submitted].",
)
@click.option(
    "--canvas-assignment",
    default=None,
    metavar='"NAME (ID)"',
    help="The Canvas assignment column for --format canvas: its name and Canvas id.",
)
@click.option(
    "--late-policy",
    default="none",
    show_default=True,
    metavar="none|zero|percent:P",
    help="Late work (the roster's due column): recorded only, scored 0, or P percent off per day late.",
)
@_GROUP_OPTION
@click.option("--quiet", "-q", is_flag=True, help="No per-submission lines.")
def grade(
    paths: tuple[Path, ...],
    out: Path,
    spec: str | None,
    timeout: float | None,
    jobs: int | None,
    sandbox: SandboxMode,
    formats: str,
    resume: bool,
    shard: str | None,
    shard_count: int | None,
    roster: Path | None,
    canvas_assignment: str | None,
    late_policy: str,
    group: str | None,
    quiet: bool,
) -> None:
    """Grade submissions (.py, .ipynb, or folders of them) and write reports to OUT.

    report.json is the same bytes whenever the same submissions are graded with the same spec
    (the seconds each took are in timings.json).
    """
    wanted = parse_formats(formats)
    book = gradebook.plan(roster, canvas_assignment, late_policy, wanted)
    access = group_access(group)
    assignment = _assignment(spec)
    chosen = sharding.resolve(shard, shard_count)
    others = frozenset(built_in_names()) - {assignment.name}
    files = collect(list(paths), others)  # submissions/<other assignment>/ holds that one's submissions
    plan = sharding.plan(files, chosen)
    if timeout is not None:
        assignment = replace(assignment, limits=replace(assignment.limits, timeout=timeout))
    hide = sorted({p.resolve().parent if p.is_file() else p.resolve() for p in paths})

    # On a terminal, one progress bar (on stderr) stands for the line per submission; in a log
    # (not a terminal) the lines come as before; --quiet: neither.
    bar = (
        click.progressbar(length=len(plan.files), label="grading", file=sys.stderr, show_pos=True)
        if not quiet and len(plan.files) > 1 and sys.stderr.isatty()
        else None
    )

    tolerances = {k: str(v) for k, v in assignment.tolerances.items()}
    visibility = {c: assignment.visibility_of(c) for c in assignment.checks}
    # Without a roster, json and md are written one verdict at a time: each md page as its verdict
    # arrives, report.json from the journal's lines once the batch is done; the grader's memory
    # stays flat however large the batch (the same bytes as written whole).
    streamed = bool(plan.files) and book.roster is None and set(wanted) <= set(STREAMED)
    pages = (
        Pages(out, [str(p) for p in plan.files], report_data([], assignment.name, tolerances, visibility), access)
        if streamed and "md" in wanted
        else None
    )

    def show(verdict: VerdictData) -> None:
        if pages is not None:
            pages.add(verdict)
        if bar is not None:
            bar.update(1)
        elif not quiet:
            click.echo(summary_line(verdict))

    verdicts: list[VerdictData] = []
    graded: Any = None
    if plan.files:
        from harness.batch import grade_batch_stored  # lazy: it imports torch, kept out of the CLI's start-up

        if sys.stderr.isatty():  # on a terminal (a log has it in every verdict's isolation)
            click.echo(isolation_line(sandbox), err=True)

        make_folder(out, access)
        with bar if bar is not None else nullcontext():
            graded = grade_batch_stored(
                plan.files,
                assignment,
                jobs=jobs,
                sandbox=sandbox,
                out=out,
                resume=resume,
                hide=hide,
                on_verdict=show,
            )
        journal = out / sharding.JOURNAL
        if journal.is_file():
            access.give(journal)
    if streamed:
        verdicts = graded.slims()
        data = report_data(verdicts, assignment.name, tolerances, visibility)
        if plan.info:
            data["shard"] = plan.info
        data["submissions"], timings = gradebook.split_timings(verdicts)
        write_reports_streamed(out, data, graded.lines, wanted, access, pages)
        graded.close()
    else:
        if graded is not None:
            verdicts = list(graded)
            graded.close()
        roster_data = gradebook.apply(book, verdicts, plan.files, list(paths))
        data = report_data(verdicts, assignment.name, tolerances, visibility)
        if plan.info:
            data["shard"] = plan.info
        if roster_data is not None:
            data["roster"] = roster_data
        data["submissions"], timings = gradebook.split_timings(verdicts)  # report.json: the same bytes on a re-grade
        write_reports(out, data, wanted, access)
    write_atomic(out / gradebook.TIMINGS, json.dumps(timings, indent=2) + "\n", access)
    roster_data = data.get("roster")
    if roster_data is not None and roster_data["unmatched"]:
        names = roster_data["unmatched"]
        click.echo(
            terminal(
                f"warning: {len(names)} submissions have no roster row (not in the gradebook): {', '.join(names)}"
            ),
            err=True,
        )
    where = f"shard {chosen} ({len(plan.files)} of {len(files)}): " if chosen else ""
    if not verdicts:
        _say(f"{where}nothing to grade; reports in {out}")
        return
    graded = sum(v["status"] == "graded" for v in verdicts)
    total = sum(v["score"] for v in verdicts)
    _say(
        f"{where}{len(verdicts)} submissions, {graded} graded, {len(verdicts) - graded} not gradable; "
        f"mean score {total / len(verdicts):.2f}; reports in {out}"
    )


@main.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder for the merged reports.",
)
@click.option(
    "--format",
    "formats",
    default=",".join(DEFAULT_FORMATS),
    show_default=True,
    help=f"Comma-separated report formats: {', '.join(ALL_FORMATS)}.",
)
@_GROUP_OPTION
def merge(dirs: tuple[Path, ...], out: Path, formats: str, group: str | None) -> None:
    """Merge the outputs of grade --shard (their report.json) into the reports one run would write."""
    wanted = parse_formats(formats)
    access = group_access(group)
    data = sharding.merge(list(dirs))
    make_folder(out, access)
    write_reports(out, data, wanted, access)
    sharding.write_journal(out, data["submissions"], access)
    _say(f"merged {len(dirs)} folders: {len(data['submissions'])} submissions; reports in {out}")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@_SPEC_OPTION
@_SANDBOX_OPTION
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None, help="Wall-clock seconds [the spec's, 30].")
def selftest(file: Path, spec: str | None, sandbox: SandboxMode, timeout: float | None) -> None:
    """Check your submission FILE before you hand it in: the visible checks, with hints.

    Exit status 0 when every visible check passes, 1 otherwise.
    """
    result = run_selftest(file, _assignment(spec) if spec is not None else None, sandbox=sandbox, timeout=timeout)
    click.echo(terminal_lines(result.text), nl=False)
    if not result.ok:
        sys.exit(1)


@main.group(cls=_Group)
def spec() -> None:
    """Assignment specs: write the default one out, check one."""


@spec.command("init")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default="gradproof-spec.toml", required=False)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def spec_init(path: Path, force: bool) -> None:
    """Write the default mlp-4-3-1 spec to PATH [gradproof-spec.toml], to edit."""
    if path.exists() and not force:
        invalid("path", str(path), "exists already (--force overwrites it)")
    path.write_text(default_spec_text(), encoding="utf-8")
    _say(f"wrote {path}: edit it, then use it with --spec {path}")


@spec.command("check")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def spec_check(path: Path) -> None:
    """Validate the spec at PATH and print what it sets."""
    a = load_spec(path)
    _say(
        f"{path}: assignment {a.name}, sizes {','.join(map(str, a.sizes))}, lr {a.lr:g}, autograd {a.autograd}, "
        f"timeout {a.limits.timeout:g} s, {a.grader_runs} grader runs"
    )
    for check in a.checks:
        _say(f"  {check:<13} {a.max_points(check):>4g} points  {a.visibility_of(check)}")


@main.group(cls=_Group)
def assignment() -> None:
    """A course's own assignments: list the built-in ones, scaffold one, check one."""


STYLE_EXAMPLES = {"functions": "two-layer-softmax", "objects": "mlp-class", "script": "backprop-drill"}


@assignment.command("list")
def assignment_list() -> None:
    """The built-in assignments (use them with --assignment NAME)."""
    for name in built_in_names():
        a = load_assignment(name)
        d = a.definition
        assert d is not None
        style = f"{d.style} and script" if d.script_too else d.style
        _say(f"{name:<20} {len(a.checks)} checks, {sum(a.max_points(c) for c in a.checks):g} points, {style}")


@assignment.command("new")
@click.argument("name")
@click.option(
    "--style",
    type=click.Choice(list(STYLE_EXAMPLES)),
    default="functions",
    show_default=True,
    help="How submissions are read: a script's names, functions the grader calls, or objects it drives.",
)
@click.option("--dir", "parent", type=click.Path(path_type=Path, file_okay=False), default=Path("."), help="Where [.].")
def assignment_new(name: str, style: str, parent: Path) -> None:
    """Scaffold assignment NAME (a folder) from the built-in example of its style, to edit."""

    if not name.replace("-", "_").isidentifier():
        invalid("name", name, "expected a word of letters, digits, - and _")
    target = parent / name
    if target.exists():
        invalid("name", name, f"{target} exists already")
    example = BUILT_IN / STYLE_EXAMPLES[style]
    target.mkdir(parents=True)
    for path in sorted(example.iterdir()):
        if path.is_file() and path.suffix in (".toml", ".py", ".ipynb"):
            text = path.read_text(encoding="utf-8")
            if path.name == SPEC_FILE:  # its own name, and a title to write (not the example's)
                text = text.replace(f'name = "{example.name}"', f'name = "{name}"', 1)
                text = re.sub(
                    r'(?m)^title = ".*"', f'title = "{name} (from the {example.name} example)"', text, count=1
                )
            (target / path.name).write_text(text, encoding="utf-8")
    _say(f"wrote {target}/ (from the {example.name} example): edit it, then: gradproof assignment check {target}")


@assignment.command("check")
@click.argument("ref", metavar="DIR|NAME")
@_SANDBOX_OPTION
def assignment_check(ref: str, sandbox: SandboxMode) -> None:
    """Validate an assignment, run its reference, and grade the course's own solution with it.

    Exit status 0 when the solution gets full marks, 1 when it does not, 2 when the assignment is invalid.
    """
    a = _assignment(ref, built_in_too=True)
    d = a.definition
    assert d is not None
    cells = d.cells()
    _say(
        f"{d.source}: assignment {d.name} ({d.style}), {len(d.inputs)} inputs, {len(d.checks)} checks "
        f"({len(a.checks)} reported), {len(cells)} variant cell{'s' if len(cells) != 1 else ''}, "
        f"{d.runs} runs, {sum(a.max_points(c) for c in a.checks):g} points; the reference runs"
    )
    if d.solution is None:
        raise click.ClickException(f"{d.folder}: no solution.py or solution.ipynb to grade (set [assignment] solution)")
    from harness.grade import grade_submission  # lazy: it imports torch
    from harness.run.pool import Pool  # lazy: with the grading

    solution = Path(d.folder) / d.solution
    with Pool(1, sandbox, [Path(d.folder).resolve()], warm=False, scratch_bytes=a.limits.scratch_bytes) as pool:
        verdict = grade_submission(solution, pool, a, display=d.solution)
    for c in verdict.checks:
        _say(f"  {c.status:<7} {c.name:<24} {c.score:g}/{c.max_score:g}  {'' if c.status == 'pass' else c.message}")
    if verdict.status != "graded" or verdict.score < verdict.max_score:
        raise click.ClickException(
            f"the course's solution {d.solution} scores {verdict.score:g} of {verdict.max_score:g}"
            + (f": {verdict.error}" if verdict.error else ": the assignment or the solution is wrong")
        )
    _say(f"ok: {d.solution} scores {verdict.score:g} of {verdict.max_score:g}")


@main.group(cls=_Group)
def gradescope() -> None:
    """Gradescope: build the autograder zip; run it (inside Gradescope)."""


@gradescope.command("build")
@_SPEC_OPTION
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    default="autograder.zip",
    show_default=True,
    help="The zip to write.",
)
@click.option(
    "--late-policy",
    default="none",
    show_default=True,
    metavar="none|zero|percent:P",
    help="Late work, by Gradescope's submission time and due date: no penalty, 0, or P percent off per day late.",
)
def gradescope_build(spec: str | None, out: Path, late_policy: str) -> None:
    """Write the autograder zip to upload to Gradescope."""
    from harness.course import gradescope as gradescope_course  # lazy: kept out of the other commands' start-up

    names = gradescope_course.build(out, _assignment(spec) if spec is not None else None, late_policy)
    _say(f"wrote {out}: {', '.join(names)}")


@gradescope.command("run")
@_SPEC_OPTION
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The autograder root [$AUTOGRADER_ROOT or /autograder].",
)
@_SANDBOX_OPTION
@click.option(
    "--late-policy",
    default="none",
    show_default=True,
    metavar="none|zero|percent:P",
    help="Late work, from ROOT/submission_metadata.json: no penalty, 0, or P percent off per day late.",
)
def gradescope_run(spec: str | None, root: Path | None, sandbox: SandboxMode, late_policy: str) -> None:
    """Grade ROOT/submission and write ROOT/results/results.json (what run_autograder calls)."""
    from harness.course import gradescope as gradescope_course  # lazy: kept out of the other commands' start-up

    data = gradescope_course.run(root, spec, sandbox=sandbox, late_policy=late_policy)
    passed = sum(t["status"] == "passed" for t in data["tests"])
    _say(
        f"score {data['score']:g}; {passed} of {len(data['tests'])} tests passed; "
        f"results in {gradescope_course.autograder_root(root) / 'results' / 'results.json'}"
    )


@main.command()
@click.option(
    "--weights",
    type=click.Choice(["notebook", "random"]),
    default="notebook",
    show_default=True,
    help="The notebook's printed weights, or random ones (--seed).",
)
@click.option("--seed", type=int, default=None, help="Seed for random weights (implies --weights random).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=0.1, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--sizes", default="4,3,1", show_default=True, help="n_in,n_hidden,n_out (random weights).")
def reference(weights: str, seed: int | None, device: str, steps: int, lr: float, dtype: str, sizes: str) -> None:
    """Run the notebook's loop with the reference network and print it as the notebook does."""
    import torch  # lazy: kept out of the CLI's start-up

    import reference as ref  # lazy: it imports torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise click.UsageError(f"device={device!r}: CUDA is not available on this machine")
    if not (device == "cpu" or device.startswith("cuda")):
        raise click.BadParameter(f"device={device!r}: expected cpu, cuda or cuda:N", param_hint="--device")
    torch_dtype = getattr(torch, dtype)
    try:
        shape = tuple(int(n) for n in sizes.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise click.BadParameter(f"sizes={sizes!r}: expected three whole numbers ≥ 1, e.g. 4,3,1", param_hint="--sizes")
    if seed is not None or weights == "random":
        problem = ref.random_problem(seed or 0, shape, dtype=torch_dtype, device=device)
    else:
        problem = ref.notebook_problem(dtype=torch_dtype, device=device)
    click.echo(ref.render(ref.train(problem, lr=lr, steps=steps)))


def run() -> None:  # pragma: no cover - the console entry point, exercised by the CI smoke test
    """``gradproof``: click's standalone mode, then an exit without interpreter teardown.

    Tearing down an interpreter that imported torch costs ≈ 0.25 s, a quarter of a
    self-test.  By the time ``main`` returns every report is written (atomically,
    fsync'd) and every worker is stopped; only the output streams need a flush.
    """
    try:
        main(prog_name="gradproof")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more to say to it
        pass
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
