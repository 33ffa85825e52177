"""Records: one submission as loaded (its cells and what a static read of them found)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.wire import GRADER_PACKAGES

_NOTEBOOK_LABEL = re.compile(r"cell ([1-9][0-9]{0,8})")


@dataclass(frozen=True)
class Cell:
    """One unit of code, as the student ran it."""

    label: str  # "cell 3" in a notebook (its third cell, markdown counted), the file name for a module
    source: str

    @staticmethod
    def notebook_label(number: int) -> str:
        """The label of a notebook's ``number``-th cell (from 1, every cell type counted)."""
        return f"cell {number}"

    @staticmethod
    def notebook_number(label: str) -> int | None:
        """The number of the notebook cell ``label`` names (:meth:`notebook_label`), else ``None``."""
        match = _NOTEBOOK_LABEL.fullmatch(label)
        return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Submission:
    path: Path
    kind: str  # "module" | "notebook"
    cells: tuple[Cell, ...]
    digest: str  # sha256 of the raw bytes: the identity used by --resume and for the seed
    neutralised: tuple[str, ...] = ()  # IPython lines that will not be executed as written
    imports: frozenset[str] = frozenset()  # top-level modules the code imports
    autograd: tuple[str, ...] = ()  # where the code reaches autograd, read from its syntax ("cell 2, line 4: ...")
    notes: tuple[str, ...] = field(default=())

    @property
    def uses_autograd(self) -> bool:
        return bool(self.autograd)

    @property
    def grader_imports(self) -> list[str]:
        """The grader's own packages this code imports (they are missing in the sandbox; flagged)."""
        return sorted(self.imports & set(GRADER_PACKAGES))

    @property
    def seed(self) -> int:
        """A per-submission seed: grading the same bytes twice draws the same numbers."""
        return int(self.digest[:8], 16)
