"""The planted-bug corpora under ``bench/planted/<assignment>/``: the vocabulary of kinds and a reader.

Each folder is named after a built-in course assignment and holds single-mistake submissions,
correct variants and a ``PLANTED.toml`` with one table per file::

    ["bug_relu_mask_missing.py"]
    check = "dW1"                        # the check whose value the mistake first breaks
    kind = "missing-local-derivative"    # a diagnosis id of KINDS; "a+b" for a pair of mistakes
    also = ["db1"]                       # other checks it breaks (downstream), optional
    why = "dhidden not multiplied by (h > 0)"

    ["correct_loops.py"]
    kind = "correct"

``bench/diagnosis_rates.py --assignment NAME`` grades them; ``tests/test_planted.py`` checks the
files are well-formed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PLANTED = Path(__file__).resolve().parent / "planted"
INDEX = "PLANTED.toml"
CORRECT = "correct"
MAX_PAIRS = 3  # files per assignment whose kind is "a+b"
MIN_BUGS = 30
MIN_CORRECT = 6

# The diagnosis ids the engine is to give: what a TA would name, the simplest that explains the numbers.
KINDS: tuple[str, ...] = (
    "scale--1",  # the opposite sign
    "scale-2",
    "scale-0.5",
    "scale--2",
    "scale-batch",  # N times, or 1/N of, the right value
    "transposed",  # the whole result transposed
    "zero",
    "non-finite",
    "wrong-shape",  # only if nothing more specific applies
    "missing-local-derivative",  # a factor of the chain rule dropped (no relu mask, no sigmoid')
    "derivative-at-wrong-tensor",  # the right activation's derivative applied to the wrong tensor
    "other-activation-derivative",  # the derivative of a different activation
    "wrong-operand",  # a product uses another named value or parameter in place of the right one
    "missing-transpose",  # an operand not transposed inside a product (works by shape or broadcasting)
    "missing-batch-sum",  # a bias gradient not summed over the batch, or over the wrong axis
    "elementwise-vs-matmul",
    "double-count",  # a factor applied twice
    "softmax-no-onehot",  # the softmax / cross-entropy gradient without the one-hot subtracted
    "other-value",  # the value equals another quantity of the computation
    "missing-branch",  # a value used twice in the forward pass, one of its gradient contributions left out
    "wrong-constant",  # a constant off otherwise (n against n-1, an exponent)
    "update-sign",
    "update-lr",
    "no-update",
    "gradient-of-updated",
)
FIELDS = frozenset({"check", "kind", "also", "why"})


@dataclass(frozen=True)
class Planted:
    """One file of a corpus and what was planted in it."""

    file: str
    kind: str
    check: str | None = None
    also: tuple[str, ...] = ()
    why: str = ""

    @property
    def correct(self) -> bool:
        return self.kind == CORRECT

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.kind.split("+"))

    def named_by(self, found: str | None) -> bool:
        """Whether the diagnosis id ``found`` names the planted kind (a pair in either order)."""
        if found is None:
            return False
        return found == self.kind or sorted(found.split("+")) == sorted(self.parts)


def corpus_names(root: Path = PLANTED) -> list[str]:
    """The assignments that have a corpus: folders of ``root`` with a ``PLANTED.toml``."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / INDEX).is_file())


def read_index(name: str, root: Path = PLANTED) -> dict[str, Any]:
    return tomllib.loads((root / name / INDEX).read_text(encoding="utf-8"))


def load(name: str, root: Path = PLANTED) -> list[Planted]:
    """The corpus of assignment ``name``, in file order (see :func:`problems` for its checks)."""
    found = []
    for file, table in sorted(read_index(name, root).items()):
        found.append(
            Planted(
                file=file,
                kind=str(table.get("kind", "")),
                check=table.get("check"),
                also=tuple(table.get("also", ())),
                why=str(table.get("why", "")),
            )
        )
    return found


def problems(name: str, checks: frozenset[str] | set[str], root: Path = PLANTED) -> list[str]:
    """Everything wrong with corpus ``name`` against the assignment's check names (empty: well-formed)."""
    out: list[str] = []
    folder = root / name
    try:
        index = read_index(name, root)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [f"{name}/{INDEX}: {exc}"]
    pairs = bugs = right = 0
    for file, table in sorted(index.items()):
        where = f"{name}/{INDEX}: [{file!r}]"
        if not isinstance(table, dict):
            out.append(f"{where}: not a table")
            continue
        if not (folder / file).is_file():
            out.append(f"{where}: no such file in {folder}")
        extra = set(table) - FIELDS
        if extra:
            out.append(f"{where}: unknown keys {sorted(extra)}")
        kind = table.get("kind")
        if kind == CORRECT:
            right += 1
            if "check" in table or "also" in table:
                out.append(f"{where}: a correct file names no check")
            continue
        bugs += 1
        parts = kind.split("+") if isinstance(kind, str) else []
        if not parts or len(parts) > 2 or any(p not in KINDS for p in parts) or len(set(parts)) != len(parts):
            out.append(f"{where}: kind={kind!r} is not 'correct', a kind of KINDS, or a pair 'a+b' of them")
        pairs += len(parts) == 2
        check = table.get("check")
        if check not in checks:
            out.append(f"{where}: check={check!r} is not a check of {name} ({', '.join(sorted(checks))})")
        also = table.get("also", [])
        if not isinstance(also, list) or any(a not in checks for a in also) or check in also:
            out.append(f"{where}: also={also!r} must list other checks of {name}")
        if not str(table.get("why", "")).strip():
            out.append(f"{where}: no 'why'")
    on_disk = {p.name for p in folder.iterdir() if p.suffix in (".py", ".ipynb")}
    unlisted = sorted(on_disk - set(index))
    if unlisted:
        out.append(f"{name}: files without a table in {INDEX}: {unlisted}")
    if pairs > MAX_PAIRS:
        out.append(f"{name}: {pairs} files plant a pair of mistakes (at most {MAX_PAIRS})")
    if bugs < MIN_BUGS or right < MIN_CORRECT:
        out.append(f"{name}: {bugs} bugs and {right} correct files (at least {MIN_BUGS} and {MIN_CORRECT})")
    return out
