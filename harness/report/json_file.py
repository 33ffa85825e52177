"""Format ``json``: ``report.json``, the verdicts' plain data, from which every other format is built.

The report is indented (two spaces) down to its list of verdicts; each verdict is one line of
it, as ``json.dumps`` writes it without an indent: ``grep`` finds a submission's line, ``jq``
shows it whole.  That line is the verdict's journal line without its seconds
(:func:`timeless_text`), so a batch of any size writes report.json by copying text, not by
encoding every verdict again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import cast

from harness.records.report import ReportData, VerdictData, valid_data
from harness.report.files import Rendered

REPORT_FILE = "report.json"
_PLACE = "\x00gradproof: the verdicts go here\x00"
_PLACE_LINE = '\n    "' + json.dumps(_PLACE)[1:-1] + '"\n'
_BETWEEN = ",\n    "
# The end of a verdict's line whose last key is its seconds (as Verdict.to_data puts them): only
# the top level's own closing brace can follow a number there (a string's quotes are escaped).
_SECONDS_LAST = re.compile(r', "duration_s": (?:-?[0-9][0-9.eE+-]*|null)\}\n?\Z')


def verdict_text(verdict: VerdictData) -> str:
    """One verdict as report.json holds it: one line, ASCII, no NaN."""
    return json.dumps(verdict, allow_nan=False)


def timeless_text(line: str) -> str:
    """:func:`verdict_text` of a journal line's verdict without its ``duration_s`` (report.json
    leaves the seconds to timings.json): the line cut where the seconds are its last key, else
    read and written again."""
    found = _SECONDS_LAST.search(line)
    if found is not None:
        return line[: found.start()] + "}"
    data = json.loads(line)
    data.pop("duration_s", None)
    return verdict_text(cast(VerdictData, data))


def report_chunks(report: ReportData, verdict_texts: Iterable[str]) -> Iterator[str]:
    """report.json of a report already made valid, in pieces: its top level around
    ``verdict_texts`` (each :func:`verdict_text`, in the order of ``report["submissions"]``,
    which only says whether there are any)."""
    if not report["submissions"]:
        yield json.dumps(report, indent=2, allow_nan=False) + "\n"
        return
    around = json.dumps({**report, "submissions": [_PLACE]}, indent=2, allow_nan=False) + "\n"
    head, tail = around.split(_PLACE_LINE, 1)
    yield head + "\n    "
    for n, text in enumerate(verdict_texts):
        yield text if n == 0 else _BETWEEN + text
    yield "\n" + tail


def report_json(report: ReportData) -> str:
    """The report as JSON: ASCII, and valid Unicode within (no lone surrogate, even escaped)."""
    return report_json_of_valid(valid_data(report))


def report_json_of_valid(report: ReportData) -> str:
    """:func:`report_json` of a report already made valid (``write_reports`` makes it valid once
    for every format: a second pass over every verdict's strings costs as much as the first)."""
    return "".join(report_chunks(report, (verdict_text(v) for v in report["submissions"])))


def render(report: ReportData) -> Rendered:
    """``report.json`` of a report :func:`~harness.report.write_reports` made valid, as it does for
    every format (the pass over every verdict's strings is not made twice)."""
    return [(REPORT_FILE, report_json_of_valid(report))]
