"""Reading an assignment a course writes: a folder with ``assignment.toml`` and ``reference.py``.

:func:`load_assignment` takes a folder, a spec file or a built-in name (``harness/assignments/``)
and returns the :class:`~harness.records.assignment.Assignment` to grade with.  A spec without
``[assignment] style`` is the mlp-4-3-1 kind (:mod:`harness.spec`); one with it defines its own
computation (:class:`~harness.records.definition.Definition`).  Every mistake is one
:class:`~harness.errors.SpecError` line naming the file, the line and the key: an unknown key or
role, a name bound to two quantities, a check on a quantity the assignment does not have.  The
reference itself is run (and checked) by :func:`harness.computation.validate`.  No torch here.
"""

from __future__ import annotations

import ast
import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from harness.errors import SpecError
from harness.records.assignment import DEFAULT_TOLERANCES, VISIBILITIES, Assignment, Tolerance
from harness.records.definition import (
    ARRAY_DTYPES,
    ARRAYS,
    GRAD,
    INPUT_KINDS,
    NEW,
    ORIENTATIONS,
    STYLES,
    CheckSpec,
    Definition,
    InputSpec,
    Step,
    root_of,
)
from harness.spec import _LIMIT_FIELDS, _Spec, load_spec, parse_limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

SPEC_FILE = "assignment.toml"
BUILT_IN = Path(__file__).with_name("assignments")
DEFAULT_ASSIGNMENT = "mlp-4-3-1"

_SECTIONS = (
    "assignment",
    "sizes",
    "inputs",
    "variants",
    "conventions",
    "steps",
    "read",
    "checks",
    "tolerances",
    "limits",
    "gradescope",
)
_ASSIGNMENT_KEYS = (
    "name",
    "title",
    "style",
    "reference",
    "function",
    "loss",
    "lr",
    "runs",
    "autograd",
    "solution",
    "examples",
)
_INPUT_KEYS = ("shape", "kind", "classes", "parameter")
_CONVENTION_KEYS = ("array", "dtype", "orientation")
_STEP_KEYS = ("call", "set", "value", "args", "kwargs", "as", "helper")
_CHECK_KEYS = ("values", "points", "visibility", "per_variant", "title")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def built_in_names() -> list[str]:
    """The assignments that ship with gradproof."""
    return sorted(p.name for p in BUILT_IN.iterdir() if (p / SPEC_FILE).is_file())


def find_spec(ref: str | Path | None) -> Path:
    """The spec file ``ref`` names: a folder (its assignment.toml), a .toml file, or a built-in name."""
    if ref is None:
        return BUILT_IN / DEFAULT_ASSIGNMENT / SPEC_FILE
    path = Path(ref)
    if path.is_dir():
        spec = path / SPEC_FILE
        if not spec.is_file():
            raise SpecError(f"assignment={str(ref)!r}: the folder has no {SPEC_FILE}")
        return spec
    if path.is_file():
        return path
    if _NAME.match(str(ref)) and (BUILT_IN / str(ref) / SPEC_FILE).is_file():
        return BUILT_IN / str(ref) / SPEC_FILE
    known = ", ".join(built_in_names())
    raise SpecError(f"assignment={str(ref)!r}: no such folder, file or built-in assignment (built in: {known})")


def load_assignment(ref: str | Path | None = None) -> Assignment:
    """The assignment at ``ref`` (see :func:`find_spec`); ``None``: the default, mlp-4-3-1."""
    path = find_spec(ref)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"assignment={str(path)!r}: cannot read it: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    section = doc.get("assignment")
    if not isinstance(section, dict) or "style" not in section:
        return from_classic(load_spec(path), path)  # the classic kind: names, sizes, points
    return parse_definition(text, doc, path)


# The classic spec's names -> the default assignment's [read] quantities (the rest keep their name).
_CLASSIC_READ = {"dE_dW2": GRAD + "W2", "dE_dW1": GRAD + "W1", "W1_new": NEW + "W1", "W2_new": NEW + "W2"}


def resolved(assignment: Assignment) -> Assignment:
    """``assignment`` with its computation: a record of the classic kind (``Assignment()``, a
    ``[names]`` spec) is the default assignment changed by it (:func:`from_classic`)."""
    if assignment.definition is not None:
        return assignment
    return from_classic(assignment, BUILT_IN / DEFAULT_ASSIGNMENT / SPEC_FILE)


def from_classic(classic: Assignment, path: Path) -> Assignment:
    """The default assignment (``harness/assignments/mlp-4-3-1``) changed by a spec of the classic
    kind (``gradproof spec init``): its names (``[names]``, where a script binds each value; the
    functions' results are read as before), sizes (``general_sizes``: also at two other sizes on the
    grader's runs), learning rate, autograd policy, runs, tolerances, points, visibility, limits."""
    base = BUILT_IN / DEFAULT_ASSIGNMENT / SPEC_FILE
    text = base.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    a = doc["assignment"]
    a["name"], a["lr"], a["autograd"] = classic.name, classic.lr, classic.autograd
    a["runs"], a["examples"] = max(1, classic.grader_runs), classic.examples
    n_in, n_hidden, n_out = classic.sizes

    def sizes(n: int) -> int | list[int]:  # other sizes: one more and one fewer (at least 1)
        return [n, n + 1, max(1, n - 1)] if classic.general_sizes else n

    doc["sizes"] = {"I": sizes(n_in), "J": sizes(n_hidden), "K": sizes(n_out)}
    read = doc["read"]
    steps = {str(s["as"]) for s in doc["steps"]}
    for name, aliases in classic.names.items():
        quantity = _CLASSIC_READ.get(name, name)
        kept = [p for p in read[quantity] if root_of(p) in steps]  # where a function's result has it
        in_place = list(classic.names[quantity[len(NEW) :]]) if quantity.startswith(NEW) else []
        read[quantity] = list(dict.fromkeys([*aliases, *in_place, *kept]))
    doc["tolerances"] = {d: {"rtol": t.rtol, "atol": t.atol} for d, t in classic.tolerances.items()}
    for check, table in doc["checks"].items():
        table["points"] = classic.max_points(check)
        if classic.visibility_of(check) != "visible":
            table["visibility"] = classic.visibility_of(check)
    limits = classic.limits
    doc["limits"] = {
        f: getattr(limits, f) for f in _LIMIT_FIELDS if getattr(limits, f) is not None and f != "cpu_seconds"
    }
    if limits.cpu_seconds is not None:
        doc["limits"]["cpu_seconds"] = limits.cpu_seconds
    if classic.submission is not None:
        doc["gradescope"] = {"submission": classic.submission}
    found = parse_definition(text, doc, base)
    assert found.definition is not None
    return replace(found, definition=replace(found.definition, source=str(path)))


class _Lines:
    """Where each key of a TOML text is: ``table.key`` -> line number (1-based)."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        table = ""
        counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                table = header.group(2).replace('"', "").replace("'", "")
                if header.group(1) == "[[":
                    counts[table] = counts.get(table, -1) + 1
                    table = f"{table}.{counts[table]}"
                self.lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                name = key.group(1).strip("\"'")
                self.lines.setdefault(f"{table}.{name}" if table else name, number)

    def of(self, key: str) -> int | None:
        parts = key.split(".")
        while parts:
            found = self.lines.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return None


class _Reader(_Spec):
    """Every complaint: ``file:line: key=value: what was expected``."""

    def __init__(self, source: str, text: str) -> None:
        super().__init__(source)
        self.where = _Lines(text)

    def bad(self, key: str, value: Any, expected: str) -> NoReturn:
        line = self.where.of(key)
        at = f"{self.source}:{line}" if line else self.source
        text = repr(value)
        raise SpecError(f"{at}: {key}={text if len(text) <= 80 else text[:77] + '...'}: {expected}")

    def symbol_or_whole(self, key: str, value: Any, sizes: dict[str, tuple[int, ...]]) -> str | int:
        """A size's name, a whole number, or an expression of sizes (``"B*E"``): its values are added
        to ``sizes`` under the expression's normal form (``"B * E"``), which the shape then names."""
        if isinstance(value, str) and value in sizes:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, str) and not value.strip().isidentifier():
            tree = self.size_expression(key, value, sizes)
            name = ast.unparse(tree)
            if name not in sizes:
                sizes[name] = self.size_values(key, value, tree, sizes)
            return name
        known = ", ".join(k for k in sizes if k.isidentifier()) or "none"
        self.bad(key, value, f"expected a whole number ≥ 1 or a size of [sizes] ({known})")

    def size_expression(self, key: str, text: str, sizes: dict[str, tuple[int, ...]]) -> ast.expr:
        """``text`` parsed: names of ``sizes``, whole numbers, ``+ - *`` and parentheses, nothing else."""
        try:
            tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError:
            tree = None
        names = _size_names(tree) if tree is not None else None
        if tree is None or names is None:
            self.bad(key, text, f"expected a size, a whole number, or sizes and whole numbers with + - * {_EXAMPLE}")
        unknown = [n for n in names if n not in sizes]
        if unknown:
            known = ", ".join(k for k in sizes if k.isidentifier()) or "none"
            self.bad(key, text, f"{unknown[0]} is not a size of [sizes] ({known})")
        return tree

    def size_values(self, key: str, text: str, tree: ast.expr, sizes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
        """The expression's value on each run: a list as long as the least common multiple of its
        sizes' lists, so that entry ``run mod length`` is the value at every run's sizes."""
        names = _size_names(tree) or []
        period = math.lcm(*(len(sizes[n]) for n in names)) if names else 1
        if period > 4096:
            self.bad(key, text, f"its sizes' lists repeat only after {period} runs: keep their lengths small")
        values = []
        for run in range(period):
            at = {n: sizes[n][run % len(sizes[n])] for n in names}
            value = _size_value(tree, at)
            if not 1 <= value <= 4096:
                where = ", ".join(f"{n}={v}" for n, v in at.items())
                self.bad(key, text, f"is {value} at {where}: a size is a whole number from 1 to 4096")
            values.append(value)
        return tuple(values)


_EXAMPLE = "(e.g. 'B*E' or '2*H + 1')"
_SIZE_OPERATORS = (ast.Add, ast.Sub, ast.Mult)


def _size_names(node: ast.expr) -> list[str] | None:
    """The size names in a size expression, in order; ``None`` if it holds anything but names, whole
    numbers and ``+ - *`` (no calls, attributes, division, powers: it is never evaluated by Python)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Constant):
        ok = isinstance(node.value, int) and not isinstance(node.value, bool)
        return [] if ok else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, _SIZE_OPERATORS):
        left, right = _size_names(node.left), _size_names(node.right)
        if left is None or right is None:
            return None
        return list(dict.fromkeys(left + right))
    return None


def _size_value(node: ast.expr, sizes: dict[str, int]) -> int:
    if isinstance(node, ast.Name):
        return sizes[node.id]
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int)
        return node.value
    assert isinstance(node, ast.BinOp)
    left, right = _size_value(node.left, sizes), _size_value(node.right, sizes)
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    return left * right


def _sizes(r: _Reader, table: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """[sizes]: whole numbers, lists of them, or expressions of the other sizes (``D = "B*E"``),
    in any order; an expression's value on each run is computed from the others' on that run."""
    sizes: dict[str, tuple[int, ...]] = {}
    pending: dict[str, str] = {}
    for key, value in table.items():
        if not key.isidentifier():
            r.bad(f"sizes.{key}", value, "a size's name must be a Python name")
        if isinstance(value, str):
            pending[key] = value
            continue
        values: Any = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in values):
            r.bad(
                f"sizes.{key}",
                value,
                f"expected a whole number from 1 to 4096, a list of them, or an expression of sizes {_EXAMPLE}",
            )
        sizes[key] = tuple(values)
    every = {**dict.fromkeys(sizes), **dict.fromkeys(pending)}
    trees = {key: r.size_expression(f"sizes.{key}", text, {k: (1,) for k in every}) for key, text in pending.items()}
    while pending:
        ready = [k for k in pending if all(n in sizes for n in _size_names(trees[k]) or [])]
        if not ready:
            key = next(iter(pending))
            r.bad(f"sizes.{key}", pending[key], f"the sizes {', '.join(pending)} are defined in terms of each other")
        for key in ready:
            sizes[key] = r.size_values(f"sizes.{key}", pending.pop(key), trees[key], sizes)
    return {k: sizes[k] for k in every}


def parse_definition(text: str, doc: dict[str, Any], path: Path) -> Assignment:
    """The assignment an ``assignment.toml`` with ``[assignment] style`` defines."""
    r = _Reader(str(path), text)
    r.table("", doc, _SECTIONS)
    a = r.table("assignment", doc["assignment"], _ASSIGNMENT_KEYS)
    name = r.text("assignment.name", a.get("name", path.parent.name))
    if not _NAME.match(name):
        r.bad("assignment.name", name, "expected a word of letters, digits, - and _")
    script_too = False
    if isinstance(a["style"], list):  # ["functions", "script"]: steps where the file defines their functions
        styles = [r.choice("assignment.style", one, STYLES) for one in a["style"]]
        stepped = [one for one in styles if one != "script"]
        if len(styles) != 2 or "script" not in styles or len(stepped) != 1:
            r.bad("assignment.style", a["style"], "expected one style, or two: 'script' and 'functions' or 'objects'")
        style, script_too = stepped[0], True
    else:
        style = r.choice("assignment.style", a["style"], STYLES)
    kw: dict[str, Any] = {
        "name": name,
        "style": style,
        "script_too": script_too,
        "folder": str(path.parent),
        "source": str(path),
    }
    for key in ("title", "reference", "function", "loss", "solution"):
        if key in a:
            kw[key] = r.text(f"assignment.{key}", a[key])
    if "function" in kw and not str(kw["function"]).isidentifier():
        r.bad("assignment.function", kw["function"], "expected a Python name")
    if "lr" in a:
        kw["lr"] = r.number("assignment.lr", a["lr"], strict=True)
    kw["runs"] = r.whole("assignment.runs", a["runs"], 0 if style == "script" else 1) if "runs" in a else 3
    if style == "script" and "runs" not in a:
        kw["runs"] = 2
    if kw["runs"] > 16:
        r.bad("assignment.runs", kw["runs"], "expected at most 16 runs")
    for key in ("reference", "solution"):
        if key in kw and not (path.parent / kw[key]).is_file():
            r.bad(f"assignment.{key}", kw[key], f"no such file in {path.parent}")
    if "solution" not in kw:
        found = [p.name for p in sorted(path.parent.glob("solution.*")) if p.suffix in (".py", ".ipynb")]
        kw["solution"] = found[0] if found else None
    if not (path.parent / kw.get("reference", "reference.py")).is_file():
        r.bad("assignment.reference", kw.get("reference", "reference.py"), f"no such file in {path.parent}")

    sizes = _sizes(r, r.table("sizes", doc.get("sizes", {}), None))
    kw["sizes"] = sizes

    inputs: list[InputSpec] = []
    for key, table in r.table("inputs", doc.get("inputs", {}), None).items():
        where = f"inputs.{key}"
        if not key.isidentifier():
            r.bad(where, key, "an input's name must be a Python name (the reference takes it as an argument)")
        table = r.table(where, table, _INPUT_KEYS)
        shape = table.get("shape", [])
        if not isinstance(shape, list):
            r.bad(f"{where}.shape", shape, "expected a list of sizes, e.g. ['N', 'D'] ([] for a number)")
        dims = tuple(r.symbol_or_whole(f"{where}.shape", n, sizes) for n in shape)
        kind = r.choice(f"{where}.kind", table.get("kind", "input"), INPUT_KINDS)
        classes = None
        if kind == "labels":
            if "classes" not in table:
                r.bad(where, key, "labels need classes = a size (how many classes)")
            classes = r.symbol_or_whole(f"{where}.classes", table["classes"], sizes)
        elif "classes" in table:
            r.bad(f"{where}.classes", table["classes"], "only labels have classes")
        parameter = r.flag(f"{where}.parameter", table["parameter"]) if "parameter" in table else kind == "weight"
        if parameter and kind in ("labels", "rate"):
            r.bad(f"{where}.parameter", parameter, f"a {kind} input cannot be a parameter")
        inputs.append(InputSpec(key, dims, kind, classes, parameter))
    if not inputs:
        r.bad("inputs", {}, "expected at least one input, e.g. [inputs.X] shape = ['N', 'D']")
    kw["inputs"] = tuple(inputs)
    input_names = {i.name for i in inputs}
    variants: dict[str, tuple[Any, ...]] = {}
    exclude: list[dict[str, Any]] = []
    for key, values in r.table("variants", doc.get("variants", {}), None).items():
        if key == "exclude":
            if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
                r.bad("variants.exclude", values, "expected a list of tables, e.g. [{loss = 'bce', g = 'relu'}]")
            exclude = values
            continue
        if not key.isidentifier() or key in input_names or key in sizes:
            r.bad(f"variants.{key}", values, "a variant's name must be a Python name no input or size has")
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, (str, int, float, bool)) for v in values)
        ):
            r.bad(f"variants.{key}", values, "expected a non-empty list of strings or numbers")
        variants[key] = tuple(values)
    for ex in exclude:
        for k, v in ex.items():
            if k not in variants or v not in variants[k]:
                r.bad("variants.exclude", ex, f"{k}={v!r} is not a value of a variant")
    if variants and style == "script":
        r.bad("variants", list(variants), "variants need steps (style 'functions' or 'objects')")
    kw["variants"], kw["exclude"] = variants, tuple(exclude)

    conv = r.table("conventions", doc.get("conventions", {}), _CONVENTION_KEYS)
    if "array" in conv:
        kw["array"] = r.choice("conventions.array", conv["array"], ARRAYS)
    if "dtype" in conv:
        kw["dtype"] = r.choice("conventions.dtype", conv["dtype"], ARRAY_DTYPES)
    if "orientation" in conv:
        kw["orientation"] = r.choice("conventions.orientation", conv["orientation"], ORIENTATIONS)

    steps = _steps(r, doc.get("steps", []), style)
    kw["steps"] = steps
    handles: set[str | None] = {s.keep_as for s in steps if s.keep_as}

    read: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for quantity, paths in r.table("read", doc.get("read", {}), None).items():
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            r.bad(f"read.{quantity}", paths, "expected a list of paths, e.g. ['dW1', \"grads['W1']\"]")
        for p in paths:
            _path(r, f"read.{quantity}", p)
            if p in owner and owner[p] != quantity and not _update_of(owner[p], quantity):
                r.bad(f"read.{quantity}", p, f"the name is already read as {owner[p]}: one name, one quantity")
            owner.setdefault(p, quantity)
        read[quantity] = tuple(paths)
    kw["read"] = read

    checks: list[CheckSpec] = []
    points: dict[str, float] = {}
    visibility: dict[str, str] = {}
    for key, table in r.table("checks", doc.get("checks", {}), None).items():
        where = f"checks.{key}"
        table = r.table(where, table, _CHECK_KEYS)
        values = table.get("values")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            r.bad(f"{where}.values", values, "expected a list of quantities, e.g. ['grad.W1']")
        for v in values:
            if v not in read and style == "script":
                r.bad(f"{where}.values", v, f"no [read] entry says where a submission has {v}")
            if v not in read:
                r.bad(f"{where}.values", v, f"no [read] entry says where a submission has {v} (after the steps)")
        per_variant = r.flag(f"{where}.per_variant", table["per_variant"]) if "per_variant" in table else False
        title = r.text(f"{where}.title", table["title"]) if "title" in table else None
        checks.append(CheckSpec(key, tuple(values), per_variant, title))
        points[key] = r.number(f"{where}.points", table["points"]) if "points" in table else 1.0
        if "visibility" in table:
            seen = r.choice(f"{where}.visibility", table["visibility"], VISIBILITIES)
            if seen != "visible":
                visibility[key] = seen
    if not checks:
        r.bad("checks", {}, "expected at least one check, e.g. [checks.dW1] values = ['grad.W1']")
    kw["checks"] = tuple(checks)

    for quantity in read:
        base = quantity[len(GRAD) :] if quantity.startswith(GRAD) else quantity
        base = base[len(NEW) :] if quantity.startswith(NEW) else base
        if quantity.startswith(NEW):
            spec = next((i for i in inputs if i.name == base), None)
            if spec is None or not spec.parameter:
                r.bad(f"read.{quantity}", quantity, "new.<name> needs <name> to be a parameter input")
            if kw.get("lr") is None and not any(i.kind == "rate" for i in inputs):
                r.bad(f"read.{quantity}", quantity, "new.<name> needs [assignment] lr (or an input of kind 'rate')")
        if not base.isidentifier():
            r.bad(
                f"read.{quantity}", quantity, "expected an input, a result of the reference, grad.<name> or new.<name>"
            )
    for step in steps:
        for arg in [*step.args, *step.kwargs.values()]:
            _reference_ok(r, step, arg, input_names, sizes, variants, handles)
    if style == "script" or script_too:
        handles_of = {str(h) for h in handles if h}
        script_read = {q for q, paths in read.items() if any(root_of(p) not in handles_of for p in paths)}
        for spec in inputs:
            if spec.name not in script_read:
                r.bad(
                    "read",
                    spec.name,
                    f"a script-style assignment must say where a submission has its input {spec.name}",
                )

    tolerances = dict(DEFAULT_TOLERANCES)
    for dtype, table in r.table("tolerances", doc.get("tolerances", {}), tuple(DEFAULT_TOLERANCES)).items():
        table = r.table(f"tolerances.{dtype}", table, ("rtol", "atol"))
        base_tol = DEFAULT_TOLERANCES[dtype]
        tolerances[dtype] = Tolerance(
            rtol=r.number(f"tolerances.{dtype}.rtol", table["rtol"]) if "rtol" in table else base_tol.rtol,
            atol=r.number(f"tolerances.{dtype}.atol", table["atol"]) if "atol" in table else base_tol.atol,
        )
    settings: dict[str, Any] = {}
    limits = r.table("limits", doc.get("limits", {}), _LIMIT_FIELDS)
    if limits:
        settings["limits"] = parse_limits(r, limits)
    gradescope = r.table("gradescope", doc.get("gradescope", {}), ("submission",))
    if "submission" in gradescope:
        settings["submission"] = r.text("gradescope.submission", gradescope["submission"])
    if "autograd" in a:
        settings["autograd"] = r.choice("assignment.autograd", a["autograd"], ("report", "forbid"))
    if "examples" in a:
        settings["examples"] = r.whole("assignment.examples", a["examples"])
    definition = Definition(**kw)
    names = _check_names(definition)
    return Assignment(
        name=name,
        lr=float(kw.get("lr") or 0.1),
        tolerances=tolerances,
        points={n: points[c.name] for c in checks for n in names[c.name]},
        visibility={n: visibility[c.name] for c in checks for n in names[c.name] if c.name in visibility},
        checks=tuple(n for c in checks for n in names[c.name]),
        definition=definition,
        grader_runs=min(kw["runs"], 8),
        **settings,
    )


def _check_names(definition: Definition) -> dict[str, list[str]]:
    """Each check's names in the report: itself, or one per variant cell (``dW1[loss=mse]``)."""
    cells = definition.cells()
    return {
        c.name: [f"{c.name}[{definition.cell_label(cell)}]" for cell in cells]
        if c.per_variant and cells != [{}]
        else [c.name]
        for c in definition.checks
    }


def _path(r: _Reader, key: str, path: str) -> None:
    from harness.wire import PathError, parse_path  # stdlib only: the protocol's one path grammar

    try:
        parse_path(path)
    except PathError as exc:
        r.bad(key, path, str(exc).split(": ", 1)[-1])


def _update_of(a: str, b: str) -> bool:
    """Whether quantities ``a`` and ``b`` are a parameter and its update, which may share a path: a
    script updates in place (``w1 -= lr * grad_w1``), and ``new.w1`` is then ``w1`` after that."""
    return a == NEW + b or b == NEW + a


def _steps(r: _Reader, raw: Any, style: str) -> tuple[Step, ...]:
    if style == "script":
        if raw:
            r.bad("steps", "...", "a script-style assignment has no steps (use style 'functions' or 'objects')")
        return ()
    if not isinstance(raw, list) or not raw:
        r.bad("steps", raw, f"a {style}-style assignment needs [[steps]]: what the grader calls")
    steps: list[Step] = []
    for k, table in enumerate(raw):
        where = f"steps.{k}"
        table = r.table(where, table, _STEP_KEYS)
        line = r.where.of(where) or 0
        if ("call" in table) == ("set" in table):
            r.bad(where, table, "each step has either call = 'path' or set = 'path' (with value = ...)")
        action = "call" if "call" in table else "set"
        target = r.text(f"{where}.{action}", table[action])
        _path(r, f"{where}.{action}", re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*\}", "x", target))
        if style == "functions" and action == "call" and "." in target.split("[")[0] and not target.startswith("{"):
            head = target.split(".")[0]
            if head not in {s.keep_as for s in steps}:
                r.bad(f"{where}.call", target, "a functions-style step calls a top-level function (or a kept handle)")
        if action == "set":
            if "value" not in table:
                r.bad(where, table, "a set step needs value = ...")
            args: tuple[Any, ...] = (table["value"],)
        else:
            args = tuple(table.get("args", []))
            if not isinstance(table.get("args", []), list):
                r.bad(f"{where}.args", table["args"], "expected a list")
        kwargs = table.get("kwargs", {})
        if not isinstance(kwargs, dict) or not all(str(k).isidentifier() for k in kwargs):
            r.bad(f"{where}.kwargs", kwargs, "expected a table of keyword arguments")
        keep = table.get("as")
        if keep is not None and (not isinstance(keep, str) or not keep.isidentifier()):
            r.bad(f"{where}.as", keep, "expected a Python name")
        helper = r.flag(f"{where}.helper", table["helper"]) if "helper" in table else False
        steps.append(Step(action, target, args, dict(kwargs), keep, line, helper))
    return tuple(steps)


def _reference_ok(
    r: _Reader,
    step: Step,
    arg: Any,
    inputs: set[str],
    sizes: dict[str, tuple[int, ...]],
    variants: dict[str, tuple[Any, ...]],
    handles: set[str | None],
) -> None:
    if isinstance(arg, list):
        for item in arg:
            _reference_ok(r, step, item, inputs, sizes, variants, handles)
        return
    if not isinstance(arg, (str, int, float, bool)):
        text = repr(arg)
        raise SpecError(
            f"{r.source}:{step.line}: steps.{step.target}={text if len(text) <= 80 else text[:77] + '...'}: "
            "an argument is a string, a number, a boolean, a list of them, or '$name' (TOML has no None)"
        )
    if isinstance(arg, str) and arg.startswith("$") and not arg.startswith("$$"):
        name = arg[1:]
        if name in inputs or name in sizes or name in variants or name in handles:
            return
        if name.startswith(GRAD) or name.isidentifier():
            return  # a result of the reference, or a gradient: computation.validate checks it exists
        where = f"steps.{step.line}"
        raise SpecError(f"{r.source}:{step.line}: {where}={arg!r}: not an input, size, variant, handle or quantity")
