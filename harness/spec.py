"""A spec of the classic kind: the default assignment (``mlp-4-3-1``, ``CONTRACT.md``) with its
names, sizes, learning rate, tolerances, points, autograd policy and limits changed.

Every check of the default is listed in :data:`CHECKS`; a spec may change the points and the
visibility of any of them and the names each contract value may be bound to.  A spec is a TOML
file (:func:`load_spec`); ``gradproof spec init`` writes out the template
(``harness/spec-template.toml``: every key at its default).  It is validated up front: an unknown
key or a bad value is a one-line :class:`~harness.errors.SpecError` naming the key and the value.
:func:`harness.definition.from_classic` applies it to the default assignment.  No torch here.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path
from typing import Any, NoReturn

from harness.errors import SpecError, UsageError
from harness.records.assignment import (
    CHECKS,
    DEFAULT_NAMES,
    DEFAULT_POINTS,
    DEFAULT_SPEC,
    DEFAULT_TOLERANCES,
    VISIBILITIES,
    Assignment,
    Limits,
    Tolerance,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


# ---------------------------------------------------------------- specs (TOML)


def default_spec_path() -> Path:
    """The packaged template of a classic spec: every key at the default assignment's value."""
    return Path(__file__).with_name("spec-template.toml")


def default_spec_text() -> str:
    return default_spec_path().read_text(encoding="utf-8")


def load_spec(path: Path | str | None = None) -> Assignment:
    """The assignment a spec file describes; ``None``: the packaged default."""
    if path is None:
        return parse_spec(default_spec_text(), source=f"{DEFAULT_SPEC}.toml")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec={str(path)!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"spec={str(path)!r}: cannot read it: {exc}") from None
    return parse_spec(text, source=str(path))


_LIMIT_FIELDS = tuple(f.name for f in dataclasses.fields(Limits))
_SECTIONS = ("assignment", "names", "tolerances", "checks", "limits", "hypothesis", "gradescope")
_ASSIGNMENT_KEYS = ("name", "sizes", "general_sizes", "lr", "autograd", "grader_runs")
_CHECK_KEYS = ("points", "visibility")
_TOLERANCE_KEYS = ("rtol", "atol")
_BYTE_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Spec:
    """Reads one parsed TOML document; every complaint names the dotted key and its value."""

    def __init__(self, source: str) -> None:
        self.source = source

    def bad(self, key: str, value: Any, expected: str) -> NoReturn:
        raise SpecError(f"{self.source}: {key}={_short(value)}: {expected}")

    def table(self, key: str, value: Any, allowed: tuple[str, ...] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.bad(key, value, "expected a table")
        if allowed is not None:
            for k, v in value.items():
                if k not in allowed:
                    self.bad(f"{key}.{k}" if key else k, v, f"unknown key; expected one of {', '.join(allowed)}")
        return value

    def number(self, key: str, value: Any, *, minimum: float = 0.0, strict: bool = False) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < minimum
            or (strict and value == minimum)
        ):
            self.bad(key, value, f"must be a number {'>' if strict else '≥'} {minimum:g}")
        return float(value)

    def whole(self, key: str, value: Any, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.bad(key, value, f"must be a whole number ≥ {minimum}")
        return value

    def bytes(self, key: str, value: Any) -> int:
        """A size: a whole number of bytes, or a string such as ``"2GiB"`` or ``"512 MiB"``."""
        if isinstance(value, str):
            text = value.strip().upper().replace(" ", "")
            for unit in sorted(_BYTE_UNITS, key=len, reverse=True):
                if text.endswith(unit):
                    number = text[: -len(unit)]
                    try:
                        amount = float(number)
                    except ValueError:
                        break
                    if math.isfinite(amount) and amount > 0:
                        return int(amount * _BYTE_UNITS[unit])
                    break
            self.bad(key, value, "expected a whole number of bytes or a size such as '2GiB', '512MiB', '16MB'")
        return self.whole(key, value)

    def choice(self, key: str, value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices:
            self.bad(key, value, f"expected one of {', '.join(choices)}")
        return str(value)

    def flag(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            self.bad(key, value, "expected true or false")
        return value

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            self.bad(key, value, "expected a non-empty string")
        return value


def parse_limits(spec: _Spec, limits: dict[str, Any]) -> Limits:
    """A spec's ``[limits]`` table (already checked for unknown keys)."""
    values: dict[str, Any] = {}
    for key, value in limits.items():
        if key in ("timeout", "cpu_seconds"):
            values[key] = spec.number(f"limits.{key}", value, strict=True)
        elif key == "processes":
            values[key] = spec.whole(f"limits.{key}", value)
        else:
            values[key] = spec.bytes(f"limits.{key}", value)
    try:
        return Limits(**values)
    except SpecError:
        raise
    except UsageError as exc:
        raise SpecError(f"{spec.source}: {exc}") from None


def parse_spec(text: str, source: str = "<spec>") -> Assignment:
    """An :class:`Assignment` from a spec's TOML text; every section and key is optional."""
    spec = _Spec(source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}") from None
    spec.table("", doc, _SECTIONS)
    kw: dict[str, Any] = {}

    section = spec.table("assignment", doc.get("assignment", {}), _ASSIGNMENT_KEYS)
    if "name" in section:
        kw["name"] = spec.text("assignment.name", section["name"])
    if "sizes" in section:
        sizes = section["sizes"]
        if (
            not isinstance(sizes, list)
            or len(sizes) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)
        ):
            spec.bad("assignment.sizes", sizes, "expected three whole numbers ≥ 1: [n_in, n_hidden, n_out]")
        kw["sizes"] = (sizes[0], sizes[1], sizes[2])
    if "general_sizes" in section:
        kw["general_sizes"] = spec.flag("assignment.general_sizes", section["general_sizes"])
    if "lr" in section:
        kw["lr"] = spec.number("assignment.lr", section["lr"], strict=True)
    if "autograd" in section:
        kw["autograd"] = spec.choice("assignment.autograd", section["autograd"], ("report", "forbid"))
    if "grader_runs" in section:
        runs = section["grader_runs"]
        if isinstance(runs, bool) or not isinstance(runs, int) or not 0 <= runs <= 8:
            spec.bad("assignment.grader_runs", runs, "expected a whole number from 0 to 8")
        kw["grader_runs"] = runs

    names = spec.table("names", doc.get("names", {}), tuple(DEFAULT_NAMES))
    merged = dict(DEFAULT_NAMES)
    owner: dict[str, str] = {}
    for key, aliases in names.items():
        if isinstance(aliases, str):
            aliases = [aliases]
        if (
            not isinstance(aliases, list)
            or not aliases
            or not all(isinstance(a, str) and a.isidentifier() for a in aliases)
        ):
            spec.bad(f"names.{key}", aliases, "expected a non-empty list of Python identifiers")
        merged[key] = tuple(dict.fromkeys(aliases))
    for key, aliases in merged.items():
        for alias in aliases:
            if alias in owner and owner[alias] != key:
                spec.bad(f"names.{key}", list(aliases), f"{alias!r} is already a name of {owner[alias]}")
            owner[alias] = key
    if names:
        kw["names"] = merged

    tolerances = spec.table("tolerances", doc.get("tolerances", {}), tuple(DEFAULT_TOLERANCES))
    if tolerances:
        merged_tol = dict(DEFAULT_TOLERANCES)
        for dtype, table in tolerances.items():
            table = spec.table(f"tolerances.{dtype}", table, _TOLERANCE_KEYS)
            base = DEFAULT_TOLERANCES[dtype]
            merged_tol[dtype] = Tolerance(
                rtol=spec.number(f"tolerances.{dtype}.rtol", table["rtol"]) if "rtol" in table else base.rtol,
                atol=spec.number(f"tolerances.{dtype}.atol", table["atol"]) if "atol" in table else base.atol,
            )
        kw["tolerances"] = merged_tol

    checks = spec.table("checks", doc.get("checks", {}), CHECKS)
    points = dict(DEFAULT_POINTS)
    visibility: dict[str, str] = {}
    for check, table in checks.items():
        table = spec.table(f"checks.{check}", table, _CHECK_KEYS)
        if "points" in table:
            points[check] = spec.number(f"checks.{check}.points", table["points"])
        if "visibility" in table:
            seen = spec.choice(f"checks.{check}.visibility", table["visibility"], VISIBILITIES)
            if seen != "visible":
                visibility[check] = seen
    if checks:
        kw["points"] = points
        kw["visibility"] = visibility

    limits = spec.table("limits", doc.get("limits", {}), _LIMIT_FIELDS)
    if limits:
        kw["limits"] = parse_limits(spec, limits)

    hypothesis = spec.table("hypothesis", doc.get("hypothesis", {}), ("examples",))
    if "examples" in hypothesis:
        kw["examples"] = spec.whole("hypothesis.examples", hypothesis["examples"])

    gradescope = spec.table("gradescope", doc.get("gradescope", {}), ("submission",))
    if "submission" in gradescope:
        name = spec.text("gradescope.submission", gradescope["submission"])
        if "/" in name or "\\" in name or name in (".", ".."):
            spec.bad("gradescope.submission", name, "expected a file name (no folder), e.g. 'backprop.ipynb'")
        kw["submission"] = name

    try:
        return Assignment(**kw)
    except SpecError:
        raise
    except UsageError as exc:  # a constraint only the dataclasses know
        raise SpecError(f"{source}: {exc}") from None
