"""The ``gradproof`` command: a thin shell over the pipeline.

Only this module turns errors into exit codes: a :class:`UsageError` is
click's usage error (exit 2); any other :class:`GradproofError` exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness.errors import GradproofError, UsageError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise click.UsageError(str(exc), ctx) from None
        except GradproofError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="gradproof")
def main() -> None:
    """gradproof: grade hand-written backpropagation, honestly."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Folder for the reports.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None, help="Wall-clock seconds per submission [30].")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Workers in parallel [the CPU count].")
@click.option("--sandbox", type=click.Choice(["auto", "require", "off"]), default="auto", show_default=True,
              help="bubblewrap namespaces: where available, always (else fail), or never.")
@click.option("--format", "formats", default="json,md", show_default=True, help="Comma-separated report formats.")
@click.option("--resume", is_flag=True, help="Skip submissions already graded in --out's journal.")
@click.option("--quiet", "-q", is_flag=True, help="No per-submission lines.")
def grade(paths: tuple[Path, ...], out: Path, timeout: float | None, jobs: int | None, sandbox: str,
          formats: str, resume: bool, quiet: bool) -> None:
    """Grade submissions (.py, .ipynb, or folders of them) and write reports to OUT."""
    from dataclasses import replace

    from harness.assignment import Assignment
    from harness.grade import grade_batch
    from harness.load import collect
    from harness.report import parse_formats, report_data, summary_line, write_reports

    wanted = parse_formats(formats)
    files = collect(list(paths))
    assignment = Assignment()
    if timeout is not None:
        assignment = replace(assignment, limits=replace(assignment.limits, timeout=timeout))
    hide = sorted({p.resolve().parent if p.is_file() else p.resolve() for p in paths})

    def show(verdict: dict[str, Any]) -> None:
        if not quiet:
            click.echo(summary_line(verdict))

    verdicts = grade_batch(files, assignment, jobs=jobs, sandbox=sandbox,  # type: ignore[arg-type]
                           out=out, resume=resume, hide=hide, on_verdict=show)
    tolerances = {k: str(v) for k, v in assignment.tolerances.items()}
    write_reports(out, report_data(verdicts, assignment.name, tolerances), wanted)
    graded = sum(v["status"] == "graded" for v in verdicts)
    total = sum(v["score"] for v in verdicts)
    click.echo(f"{len(verdicts)} submissions, {graded} graded, {len(verdicts) - graded} not gradable; "
               f"mean score {total / len(verdicts):.2f}; reports in {out}")


@main.command()
@click.option("--weights", type=click.Choice(["notebook", "random"]), default="notebook", show_default=True,
              help="The notebook's printed weights, or random ones (--seed).")
@click.option("--seed", type=int, default=None, help="Seed for random weights (implies --weights random).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=0.1, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True)
@click.option("--sizes", default="4,3,1", show_default=True, help="n_in,n_hidden,n_out (random weights).")
def reference(weights: str, seed: int | None, device: str, steps: int, lr: float, dtype: str, sizes: str) -> None:
    """Run the notebook's loop with the reference network and print it as the notebook does."""
    import torch

    import reference as ref

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
        problem = ref.random_problem(seed or 0, shape, dtype=torch_dtype, device=device)  # type: ignore[arg-type]
    else:
        problem = ref.notebook_problem(dtype=torch_dtype, device=device)
    click.echo(ref.render(ref.train(problem, lr=lr, steps=steps)))


def run() -> None:  # pragma: no cover - console entry point
    main(prog_name="gradproof")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
