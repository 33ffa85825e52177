"""Format ``json``: ``report.json``, the verdicts' plain data, from which every other format is built."""

from __future__ import annotations

from json.encoder import encode_basestring_ascii
from typing import Any

from harness.records.report import ReportData, valid_data
from harness.report.files import Rendered

REPORT_FILE = "report.json"
INDENT = "  "


def dumps(value: Any, level: int = 0) -> str:
    """``json.dumps(value, indent=2, allow_nan=False)``, the same text, faster (the standard
    library's encoder has no C version with an indent, and a report's verdicts hold thousands of
    numbers); ``level``: the depth it starts at, as inside ``level`` containers."""
    out: list[str] = []
    _dump(value, out, level)
    return "".join(out)


def _float(value: float) -> str:
    if value != value or value in (_INFINITY, -_INFINITY):
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    return float.__repr__(value)


_INFINITY = float("inf")


def _key(key: Any) -> str:
    """A key as ``json`` writes one: a string, or a number, true, false or null made one."""
    if isinstance(key, str):
        return encode_basestring_ascii(key)
    if isinstance(key, float):
        return encode_basestring_ascii(_float(key))
    if key is True or key is False or key is None:
        return {True: '"true"', False: '"false"', None: '"null"'}[key]
    if isinstance(key, int):
        return f'"{int.__repr__(key)}"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _dump(value: Any, out: list[str], level: int) -> None:
    """Append ``value``'s text to ``out``: the exact types first (most of a verdict), then what
    ``json``'s encoder accepts in the order it checks (a subclass, a tuple)."""
    kind = type(value)
    if kind is float:
        out.append(_float(value))
    elif kind is str:
        out.append(encode_basestring_ascii(value))
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is list or kind is dict:
        if not value:
            out.append("[]" if kind is list else "{}")
            return
        inner = "\n" + INDENT * (level + 1)
        between = "," + inner
        if kind is dict:
            out.append("{" + inner)
            first = True
            for key, item in value.items():
                if not first:
                    out.append(between)
                first = False
                out.append(_key(key))
                out.append(": ")
                _dump(item, out, level + 1)
            out.append("\n" + INDENT * level + "}")
            return
        out.append("[" + inner)
        first = True
        for item in value:
            if not first:
                out.append(between)
            first = False
            if type(item) is float:
                out.append(_float(item))
            else:
                _dump(item, out, level + 1)
        out.append("\n" + INDENT * level + "]")
    elif isinstance(value, str):
        out.append(encode_basestring_ascii(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, (list, tuple)):
        _dump(list(value), out, level)
    elif isinstance(value, dict):
        _dump(dict(value.items()), out, level)
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def report_json(report: ReportData) -> str:
    """The report as JSON: ASCII, and valid Unicode within (no lone surrogate, even escaped)."""
    return report_json_of_valid(valid_data(report))


def report_json_of_valid(report: ReportData) -> str:
    """:func:`report_json` of a report already made valid (``write_reports`` makes it valid once
    for every format: a second pass over every verdict's strings costs as much as the first)."""
    return dumps(report) + "\n"


def render(report: ReportData) -> Rendered:
    """``report.json`` of a report :func:`~harness.report.write_reports` made valid, as it does for
    every format (the pass over every verdict's strings is not made twice)."""
    return [(REPORT_FILE, report_json_of_valid(report))]
