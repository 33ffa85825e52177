"""Records: one submission as loaded (its cells and what a static read of them found)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.wire import GRADER_PACKAGES


@dataclass(frozen=True)
class Cell:
    """One unit of code, as the student ran it."""

    label: str  # "cell 3" in a notebook, the file name for a module
    source: str


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
