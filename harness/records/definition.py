"""Records: an assignment a course defines (a folder with ``assignment.toml`` and a reference module).

What it computes (the reference function's inputs, sizes and variants), how a submission is read
(script paths, or steps the grader runs: calls, sets), and what each check compares.  Plain data,
validated by :mod:`harness.definition` when read; no torch here.

A *quantity* is what checks compare and what ``[read]`` maps: an input (``X``), a key of the
reference's result (``h``, ``loss``), ``grad.<name>`` (d loss / d name, for a parameter or an
intermediate) or ``new.<parameter>`` (one gradient-descent step).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

STYLES = ("script", "functions", "objects")
INPUT_KINDS = ("input", "target", "signed", "weight", "labels", "rate")
ARRAYS = ("torch", "numpy", "own")  # own: numpy where the file imports numpy and not torch
ARRAY_DTYPES = ("float64", "float32", "own")  # own: the dtype of the file's own first parameter
ORIENTATIONS = ("strict", "either")
GRAD = "grad."
NEW = "new."


def root_of(path: str) -> str:
    """The name a path or a call target starts at: ``backward_out`` of ``backward_out[0]``, ``net`` of
    ``net.grads['W1']``, ``forward`` of ``forward``."""
    return re.split(r"[.\[(]", path, maxsplit=1)[0]


@dataclass(frozen=True)
class InputSpec:
    """One input of the reference computation: what the grader draws for it, and its role."""

    name: str
    shape: tuple[str | int, ...]  # size symbols (an expression's normal form, "B * E", too) or whole numbers; ()
    kind: str  # one of INPUT_KINDS
    classes: str | int | None = None  # labels: how many classes (a size symbol or a number)
    parameter: bool = False  # gradients and updates exist for it (grad.<name>, new.<name>)


@dataclass(frozen=True)
class Step:
    """What the grader does in the sandbox after the file ran: call a path, set one, or read one.

    Arguments are literals, or ``"$name"`` references (a quantity as the run's truth has it, a size,
    a variant's value, or a handle an earlier step kept with ``as``)."""

    action: str  # "call" | "set"
    target: str  # a path; "{variant}" in it is replaced by the variant's value
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    keep_as: str | None = None
    line: int = 0  # in assignment.toml, for messages
    helper: bool = False  # called where the file defines it; with style [.., "script"], not what tells the style


@dataclass(frozen=True)
class CheckSpec:
    name: str
    values: tuple[str, ...]  # quantities; the check passes if every one agrees on every run and cell
    per_variant: bool = False  # one check per variant cell (``name[cell]``), each worth the points
    title: str | None = None  # what it is about, in words (Gradescope shows it after the name)


@dataclass(frozen=True)
class Definition:
    name: str
    folder: str  # the assignment's folder (the reference and the solution are found there)
    source: str  # the spec file, for messages
    style: str  # one of STYLES
    title: str = ""
    reference: str = "reference.py"
    function: str = "compute"
    loss: str = "loss"
    lr: float | None = None
    runs: int = 3  # steps: runs on the grader's inputs; script: runs besides the submission's own
    # a size -> its value on each run (run k: entry k mod length); a size defined as an expression of
    # others ("B*E", in [sizes] or in a shape) holds its values too, under its name or its normal form
    sizes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    inputs: tuple[InputSpec, ...] = ()
    variants: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    exclude: tuple[Mapping[str, Any], ...] = ()
    array: str = "torch"  # what the grader passes in steps: torch tensors or numpy arrays
    dtype: str = "float64"  # ... of this dtype
    orientation: str = "strict"  # "either": a 2-D value stored as its transpose is read transposed
    steps: tuple[Step, ...] = ()
    read: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    checks: tuple[CheckSpec, ...] = ()
    solution: str | None = None  # the course's solution, a file in the folder
    # style = ["functions", "script"]: a submission that defines none of the functions the steps call
    # is read as a script (the mlp-4-3-1 contract takes both)
    script_too: bool = False
    # what reading() found, per style (the record is frozen: its answers never change)
    _readings: dict[bool, dict[str, tuple[str, ...]]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    def is_forward(self, quantity: str) -> bool:
        """A value the forward pass computes: not an input, a gradient or an update."""
        return not quantity.startswith((GRAD, NEW)) and self.input(quantity) is None

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs if i.parameter)

    def cells(self) -> list[dict[str, Any]]:
        """The variant grid, less the excluded cells; one empty cell without variants."""
        names = list(self.variants)
        cells = [dict(zip(names, combo)) for combo in itertools.product(*(self.variants[n] for n in names))]
        return [c for c in cells if not any(all(c.get(k) == v for k, v in ex.items()) for ex in self.exclude)]

    @staticmethod
    def cell_label(cell: Mapping[str, Any]) -> str:
        return ",".join(f"{k}={v}" for k, v in cell.items())

    def sizes_of(self, run: int) -> dict[str, int]:
        """The sizes of run ``run``: entry ``run mod len`` of each size's list."""
        return {name: values[run % len(values)] for name, values in self.sizes.items()}

    def shape_of(self, spec: InputSpec, run: int) -> tuple[int, ...]:
        sizes = self.sizes_of(run)
        return tuple(n if isinstance(n, int) else sizes[n] for n in spec.shape)

    def classes_of(self, spec: InputSpec, run: int) -> int:
        if spec.classes is None:
            return 0
        return spec.classes if isinstance(spec.classes, int) else self.sizes_of(run)[spec.classes]

    @property
    def uses_steps(self) -> bool:
        return self.style != "script"

    def handles(self) -> set[str]:
        """The names steps keep their results under (``as``)."""
        return {s.keep_as for s in self.steps if s.keep_as}

    def step_roots(self, helpers: bool = True) -> list[str]:
        """The top-level functions (or classes) the steps call: what a submission in their style defines
        (``helpers=False``: less the helpers, which a script may define too)."""
        roots = (root_of(s.target) for s in self.steps if s.action == "call" and (helpers or not s.helper))
        return list(dict.fromkeys(r for r in roots if r and r not in self.handles() and "{" not in r))

    @cached_property
    def display_names(self) -> dict[str, str]:
        """How messages call each quantity: the check that judges it alone (``dW1``), else the name a
        script binds it to, else the quantity itself (``grad.W1``).  Worked out once (read-only)."""
        names: dict[str, str] = {}
        for check in self.checks:
            if len(check.values) == 1:
                names.setdefault(check.values[0], check.name)
        scripted = self.style == "script" or self.script_too
        for quantity, paths in self.read.items():
            if quantity not in names:
                names[quantity] = paths[0] if scripted and paths[0].isidentifier() else quantity
        return names

    def helper_checks(self) -> list[str]:
        """The checks of helpers only (every value read from a ``helper = true`` step's result)."""
        kept = {s.keep_as for s in self.steps if s.helper and s.keep_as}
        only = {q for q, paths in self.read.items() if all(root_of(p) in kept for p in paths)}
        return [c.name for c in self.checks if kept and all(v in only for v in c.values)]

    def reading(self, stepped: bool) -> dict[str, tuple[str, ...]]:
        """``[read]`` for a run read after the steps (``stepped``) or as a script: with ``script_too``, a
        path that starts at a step's handle is the steps', any other the script's."""
        found = self._readings.get(stepped)
        if found is None:
            handles = self.handles()
            found = self._readings[stepped] = {
                quantity: mine
                for quantity, paths in self.read.items()
                if (mine := tuple(p for p in paths if not self.script_too or (root_of(p) in handles) == stepped))
            }
        return dict(found)

    def read_paths(self) -> list[str]:
        """Every path a script-style run tracks (each quantity's candidates, the inputs' first)."""
        return list(dict.fromkeys(p for paths in self.reading(False).values() for p in paths))
