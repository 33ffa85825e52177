"""Stage 1, load: turn a path into a :class:`Submission` (code cells, never run here).

A ``.py`` file is one cell.  A notebook's code cells are kept in order: read
from its JSON where it is a v4 notebook whose cells are as nbformat's schema has
them, else by nbformat (which upgrades an older version, or says what is wrong).
IPython syntax (``%magic``, ``!shell``, ``x?``) is rewritten by IPython's own
input transformers into calls on ``get_ipython()``; the run stage gives the
submission a stub that refuses everything but a few harmless magics, so the
shell line is neutralised, never executed.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.errors import SubmissionError, UsageError, invalid
from harness.records.submission import Cell, Submission

SUFFIXES = (".py", ".ipynb")
# A cell IPython's transformers could change: a line starting with an escape (% %% ! !! ? / , ;)
# or a prompt (>>> ... In [1]:), a line ending with ? (help), an assignment from a magic or a
# shell command; and (below) a cell indented as a whole.
_MAYBE_IPYTHON = re.compile(r"^\s*[%!?/,;]|[?]\s*$|=\s*[%!]|^\s*(>>>|\.\.\.|In \[)", re.MULTILINE)
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
# Distinct cells whose rewriting and syntax facts are kept: a batch of copies of one notebook reads
# each of its cells once; a cell of at most DEFAULT_MAX_BYTES, so at most 256 MiB in the
# worst case and a few MiB in a course's batch.
_CELLS_REMEMBERED = 128


def collect(paths: list[Path], skip: frozenset[str] = frozenset()) -> list[Path]:
    """Expand folders into the gradable files below them, sorted; reject what cannot be graded.

    ``skip``: names of folders below a given one that are not graded (another assignment's
    submissions, such as the bundled ``submissions/mlp-class/``); a folder given itself always is."""
    if not paths:
        raise UsageError("paths=[]: give at least one submission file or folder")
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"path={str(path)!r}: no such file or folder")
        if path.is_dir():
            inside = _below(path, skip)
            if not inside:
                raise UsageError(f"path={str(path)!r}: the folder holds no .py or .ipynb submission")
            found.extend(inside)
        elif path.suffix in SUFFIXES:
            found.append(path)
        else:
            raise UsageError(f"path={str(path)!r}: expected a .py or .ipynb file, or a folder of them")
    unique = list(dict.fromkeys(found))
    return unique


def _below(folder: Path, skip: frozenset[str] = frozenset()) -> list[Path]:
    """Every entry named like a submission below ``folder``, sorted: regular or not (what is not a
    regular file gets its verdict from :func:`load`), hidden folders and caches skipped, symbolic
    links to folders never followed (so a link loop ends nothing)."""
    found: list[Path] = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__" and d not in skip]
        found += [Path(top, name) for name in files if not name.startswith(".") and Path(name).suffix in SUFFIXES]
    return sorted(found)


def load(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Submission:
    """Read one submission; a file that cannot be graded raises :class:`SubmissionError`."""
    if max_bytes <= 0:
        invalid("max_bytes", max_bytes, "must be a positive number of bytes")
    raw = read_regular(path, max_bytes)
    digest = hashlib.sha256(raw).hexdigest()
    if b"\x00" in raw:
        raise SubmissionError("the file is binary, not Python source or a notebook")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"the file is not UTF-8 text (bad byte at offset {exc.start})") from None
    if path.suffix == ".ipynb":
        cells, neutralised = _notebook_cells(text)
        kind = "notebook"
    elif path.suffix == ".py":
        cells, neutralised = (Cell(label=path.name, source=text),), ()
        kind = "module"
    else:
        raise SubmissionError(f"unknown file type {path.suffix!r}: expected .py or .ipynb")
    imports, autograd = _static_facts(cells)
    return Submission(
        path=path,
        kind=kind,
        cells=cells,
        digest=digest,
        neutralised=neutralised,
        imports=frozenset(imports),
        autograd=autograd,
    )


def _notebook_cells(text: str) -> tuple[tuple[Cell, ...], tuple[str, ...]]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SubmissionError(f"the notebook is not valid JSON: {exc}") from None
    sources = _v4_sources(doc)
    if sources is None:
        sources = _nbformat_sources(text)
    cells: list[Cell] = []
    neutralised: list[str] = []
    for number, source in sources:
        if not source.strip():
            continue
        python, lines = _neutralise_ipython(source)
        neutralised.extend(lines)
        cells.append(Cell(label=Cell.notebook_label(number), source=python))
    if not cells:
        raise SubmissionError("the notebook has no code cells")
    return tuple(cells), tuple(neutralised)


def _v4_sources(doc: Any) -> list[tuple[int, str]] | None:
    """(cell number, source) of each code cell of a v4 notebook whose cells are as nbformat's
    schema has them (a ``cell_type``; a code cell's ``source`` a string or a list of strings), as
    nbformat reads them; ``None`` for anything else (an older version, odd cells): nbformat reads
    that one and says what is wrong.  What the code cells do not hold (metadata, outputs) is not
    validated: nbformat's reader only logs what its schema rejects, and Jupyter opens such a
    notebook; the schema's whole check took half the time of reading one."""
    if not isinstance(doc, dict) or doc.get("nbformat") != 4 or not isinstance(doc.get("cells"), list):
        return None
    found: list[tuple[int, str]] = []
    for number, cell in enumerate(doc["cells"], 1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return None
        if cell["cell_type"] != "code":
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            return None
        found.append((number, source))
    return found


def _nbformat_sources(text: str) -> list[tuple[int, str]]:
    """:func:`_v4_sources` of what nbformat reads (an older version upgraded to v4), or the
    :class:`SubmissionError` that says why it cannot."""
    import nbformat

    invalid_found: dict[str, Any] = {}
    try:
        # reads() validates the notebook once (a failure is only logged, and kept here)
        nb = nbformat.reads(text, as_version=4, capture_validation_error=invalid_found)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises many kinds on malformed input
        raise SubmissionError(f"the notebook cannot be read: {_one_line(exc)}") from None
    if invalid_found:  # validated again only then: a valid one is not validated twice
        try:
            nbformat.validate(nb)
        except Exception as exc:
            raise SubmissionError(f"the notebook is not a valid nbformat v4 notebook: {_one_line(exc)}") from None
    if nb.get("nbformat") != 4:
        raise SubmissionError(f"unsupported notebook format nbformat={nb.get('nbformat')!r}")
    sources = _v4_sources(nb)
    if sources is None:  # nbformat's schema lets nothing else through
        raise SubmissionError("the notebook is not a valid nbformat v4 notebook: its cells are not nbformat's")
    return sources


def _neutralise_ipython(source: str) -> tuple[str, tuple[str, ...]]:
    """Rewrite IPython syntax to plain Python calling ``get_ipython()``; list the rewritten lines."""
    if not _MAYBE_IPYTHON.search(source) and not source.lstrip("\r\n")[:1].isspace():
        return source, ()  # plain Python: IPython's transformers would give it back unchanged
    return _transformed(source)


@functools.lru_cache(maxsize=_CELLS_REMEMBERED)
def _transformed(source: str) -> tuple[str, tuple[str, ...]]:
    """IPython's rewriting of one cell: once per distinct cell in a batch (copies of a notebook share theirs)."""
    transformed: str = _transformer().transform_cell(source)
    if "get_ipython()" not in transformed or "get_ipython()" in source:
        return transformed, ()
    return transformed, tuple(line.strip() for line in transformed.splitlines() if "get_ipython()" in line)


@functools.lru_cache(maxsize=1)
def _transformer() -> Any:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()  # type: ignore[no-untyped-call]


def _static_facts(cells: tuple[Cell, ...]) -> tuple[set[str], tuple[str, ...]]:
    """What the code imports and where it reaches autograd, read from its syntax tree (never from
    its comments or strings)."""
    imports: set[str] = set()
    autograd: list[str] = []
    own = frozenset().union(*(_cell_own(cell.source) for cell in cells))
    for cell in cells:
        found = _cell_facts(cell.label, cell.source, own)
        if found is None:
            continue
        cell_imports, cell_autograd = found
        autograd += [e for e in cell_autograd if e not in autograd]
        imports.update(cell_imports)
    return imports, tuple(autograd)


@functools.lru_cache(maxsize=_CELLS_REMEMBERED)
def _parsed(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@functools.lru_cache(maxsize=_CELLS_REMEMBERED)
def _cell_own(source: str) -> frozenset[str]:
    tree = _parsed(source)
    return frozenset(_own_attributes([tree])) if tree is not None else frozenset()


@functools.lru_cache(maxsize=_CELLS_REMEMBERED)
def _cell_facts(label: str, source: str, own: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]] | None:
    """One cell's imports and autograd uses (``None``: it does not parse); once per distinct cell
    in a batch: copies of one notebook share their cells, and each is parsed and walked once.
    ``own``: the autograd-like attributes the submission defines itself (:func:`_own_attributes`)."""
    tree = _parsed(source)
    if tree is None:
        return None
    reader = _AutogradReader(label, set(own))
    reader.visit(tree)
    imports: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                imports.add(node.args[0].value.split(".")[0])
    return frozenset(imports), tuple(reader.found)


# Names whose use is autograd (or a way to it): attributes, modules, and what getattr/import reach.
_AUTOGRAD_ATTRIBUTES = {
    "backward": "calls .backward()",
    "grad": "reads .grad",
    "requires_grad": "sets requires_grad",
    "requires_grad_": "sets requires_grad",
    "retain_grad": "calls .retain_grad()",
}
_AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "functorch", "autograd")
_MAY_BE_OWN = ("backward", "grad")  # a student's own layer may have a backward() method or a grad attribute


def _own_attributes(trees: Iterable[ast.Module]) -> set[str]:
    """Of ``backward`` and ``grad``, those the submission gives its own objects (a method it defines, an
    attribute it assigns): their uses are its own code, not autograd (a real autograd call is still
    seen at run time)."""
    own: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _MAY_BE_OWN:
                own.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                own.update(
                    t.attr
                    for t in targets
                    if isinstance(t, ast.Attribute) and t.attr in _MAY_BE_OWN and _dotted(t.value) == "self"
                )
    return own


_DYNAMIC_IMPORTS = ("__import__", "importlib.import_module", "import_module")


class _AutogradReader(ast.NodeVisitor):
    """Every place a cell reaches autograd: ``.backward``/``.grad``/``requires_grad`` attributes,
    ``torch.autograd``/``torch.func``/``functorch`` (imported or reached by attribute), and the
    dynamic forms that can hide them (getattr with a computed or such a name, ``__import__``,
    ``importlib``, ``eval``/``exec`` of code built at run time)."""

    def __init__(self, label: str, own: set[str] | None = None) -> None:
        self.label = label
        self.own = own or set()
        self.found: list[str] = []

    def _add(self, node: ast.AST, what: str) -> None:
        entry = f"{self.label}, line {getattr(node, 'lineno', '?')}: {what}"
        if entry not in self.found:
            self.found.append(entry)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node)
        if dotted and _autograd_module(dotted):
            self._add(node, f"uses {dotted}")
            return  # one entry for torch.autograd.grad, not one per link of the chain
        if node.attr in _AUTOGRAD_ATTRIBUTES and node.attr not in self.own:
            self._add(node, _AUTOGRAD_ATTRIBUTES[node.attr])
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _autograd_module(alias.name):
                self._add(node, f"imports {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            if _autograd_module(module) or _autograd_module(f"{module}.{alias.name}"):
                self._add(node, f"imports {alias.name} from {module}")

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg == "requires_grad" and not (isinstance(node.value, ast.Constant) and not node.value.value):
            self._add(node.value, "creates a tensor with requires_grad")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func)
        first = node.args[1] if name == "getattr" and len(node.args) > 1 else (node.args[0] if node.args else None)
        constant = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        if name == "getattr" and first is not None:
            if constant is None:
                self._add(node, "getattr with a name computed at run time (it may reach autograd)")
            elif constant in _AUTOGRAD_ATTRIBUTES and constant not in self.own:
                self._add(node, f"getattr(..., {constant!r})")
        elif name in _DYNAMIC_IMPORTS and first is not None:
            if constant is None:
                self._add(node, f"{name}() of a name computed at run time (it may import autograd)")
            elif _autograd_module(constant):
                self._add(node, f"{name}({constant!r})")
        elif name in ("eval", "exec") and first is not None and constant is None:
            self._add(node, f"{name}() of code built at run time (it may reach autograd)")
        self.generic_visit(node)


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _autograd_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") or f".{m}" in f".{name}" for m in _AUTOGRAD_MODULES)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def digest_of(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The sha256 of a gradable file (the resume key), or "" where :func:`read_regular` refuses it."""
    try:
        return hashlib.sha256(read_regular(path, max_bytes)).hexdigest()
    except SubmissionError:
        return ""


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def read_regular(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; else :class:`SubmissionError`.

    Never blocks and never reads what is not a file: a FIFO, socket or device is refused (opened
    non-blocking, judged by ``fstat``), and so is a symbolic link that leaves its own folder (a link
    to ``/etc/shadow`` or ``/dev/zero`` is not a submission).  A link to a file in its folder or below
    is followed.
    """
    target = path
    if path.is_symlink():
        target = path.resolve()
        if path.parent.resolve() not in target.parents:
            raise SubmissionError(
                f"it is a symbolic link to {str(target)!r}, outside its own folder; only regular files are graded"
            )
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_NOFOLLOW)
    except OSError as exc:
        raise SubmissionError(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise SubmissionError(f"it is {kind}, not a regular file; only regular files are graded")
        if info.st_size > max_bytes:
            raise SubmissionError(f"the file is {info.st_size} bytes, over the {max_bytes}-byte limit")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:  # it grew while being read
            raise SubmissionError(f"the file is over the {max_bytes}-byte limit")
        return b"".join(chunks)
    except OSError as exc:
        raise SubmissionError(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


# ---------------------------------------------------------------- where a name is defined


def defined_in(cells: Sequence[Cell], name: str) -> str | None:
    """The label of the last cell whose code binds ``name`` at module level (``def name``, ``class
    name``, ``name = ...``, ``import ... as name``, also inside a top-level ``if``/``try``/``with``/loop),
    read from its syntax tree; ``None`` where no cell does (it was made by ``exec``, say) or a cell
    cannot be parsed.  The last one, as the last definition run is the one called."""
    found = None
    for cell in cells:
        try:
            tree = ast.parse(cell.source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if name in _module_bindings(tree.body):
            found = cell.label or None
    return found


def _module_bindings(body: Sequence[ast.stmt]) -> Iterator[str]:
    """The names statements at module level bind (not inside a function or class body)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from ((a.asname or a.name).split(".")[0] for a in node.names)
            continue
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            yield from _target_names(target)
        inner: list[ast.stmt] = []
        for part in ("body", "orelse", "finalbody"):  # if, for, while, with, try
            inner += [s for s in getattr(node, part, None) or [] if isinstance(s, ast.stmt)]
        for handler in getattr(node, "handlers", None) or []:
            inner += handler.body
        yield from _module_bindings(inner)


def _target_names(target: ast.expr) -> Iterator[str]:
    """The names an assignment target binds (``a``, ``a, *b``; not ``a[0]`` or ``a.b``)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)
