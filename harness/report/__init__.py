"""Stage 5, report: verdicts as ``report.json``, Markdown per submission, and a terminal summary.

Every report is built from the verdicts' plain data (the ``report.json``
schema), so a resumed or merged batch writes exactly what one run would.
Files are written atomically (a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.errors import invalid

TOOL = "gradproof"
FORMATS = ("json", "md")


def version() -> str:
    try:
        from importlib.metadata import version as dist_version

        return dist_version("gradproof")
    except Exception:
        return "0+unknown"


def report_data(
    verdicts: list[dict[str, Any]], assignment: str, tolerances: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "tool": TOOL,
        "version": version(),
        "assignment": assignment,
        "tolerances": tolerances or {},
        "submissions": verdicts,
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_formats(text: str) -> tuple[str, ...]:
    """``"json,md"`` → ``("json", "md")``; json is always written."""
    from harness.report.formats import ALL_FORMATS

    wanted = [f.strip().lower() for f in text.split(",") if f.strip()]
    for f in wanted:
        if f not in ALL_FORMATS:
            invalid("format", f, f"expected a comma-separated list of {', '.join(ALL_FORMATS)}")
    return tuple(dict.fromkeys(["json", *wanted]))


def markdown_name(submission: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", submission.strip("/")).strip("_") or "submission"
    return f"{stem}.md"


def write_reports(out: Path, report: dict[str, Any], formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write every requested format into ``out``; returns the files written."""
    written: list[Path] = []
    formats = tuple(formats)
    path = out / "report.json"
    write_atomic(path, json.dumps(report, indent=2, allow_nan=False) + "\n")
    written.append(path)
    if "md" in formats:
        for verdict in report["submissions"]:
            path = out / "submissions" / markdown_name(verdict["submission"])
            write_atomic(path, markdown(verdict, report))
            written.append(path)
        path = out / "summary.md"
        write_atomic(path, summary_markdown(report))
        written.append(path)
    extra = [f for f in formats if f not in FORMATS]
    if extra:
        from harness.report.formats import write_extra_formats

        written += write_extra_formats(out, report, extra)
    return written


def check_details(
    check: dict[str, Any], *, diagnosis_id: bool = True, tolerance: bool = True, counterexample_chars: int = 2000
) -> str:
    """One check as plain text: its message, the likely mistake, notes, the worst entries of a
    failure, the smallest failing input.  JUnit, Gradescope and the pytest plugin all say this."""
    lines = [check["message"]]
    diagnosis = check.get("diagnosis")
    if diagnosis:
        label = f"Likely mistake ({diagnosis['id']})" if diagnosis_id else "Likely mistake"
        lines.append(f"{label}: {diagnosis['message']}")
    lines += [f"Note: {note}" for note in check.get("notes") or []]
    if check["status"] != "pass":
        for e in check.get("worst") or []:
            lines.append(
                f"  entry {e['index']}: yours {_num6(e['submitted'])}, expected {_num6(e['expected'])}, "
                f"abs error {_num(e['abs_error'])}"
            )
        if check.get("counterexample") and counterexample_chars > 0:
            lines.append("Smallest failing input: " + json.dumps(check["counterexample"])[:counterexample_chars])
    if tolerance and check.get("tolerance"):
        lines.append(f"Tolerance: {check['tolerance']}")
    return "\n".join(lines)


def _num6(x: Any) -> str:
    return "–" if x is None else f"{x:.6g}"


def _num(x: Any) -> str:
    return "–" if x is None else f"{x:.3g}"


def markdown(verdict: dict[str, Any], report: dict[str, Any]) -> str:
    """One submission's report, for the student."""
    lines = [f"# {verdict['submission']}", ""]
    if verdict["status"] == "error":
        lines += [
            f"**Not graded:** {verdict['error']}",
            "",
            f"Score: {verdict['score']:g} / {verdict['max_score']:g}",
            "",
        ]
    else:
        lines += [
            f"Score: **{verdict['score']:g} / {verdict['max_score']:g}** ({verdict.get('style') or 'script'} style)",
            "",
        ]
        lines += ["| check | result | points | max abs error | max rel error |", "| --- | --- | --- | --- | --- |"]
        for c in verdict["checks"]:
            lines.append(
                f"| {c['name']} | {c['status']} | {c['score']:g} / {c['max_score']:g} | "
                f"{_num(c['max_abs_error'])} | {_num(c['max_rel_error'])} |"
            )
        lines.append("")
        for c in verdict["checks"]:
            lines.append(f"## {c['name']}: {c['status']}")
            lines.append("")
            lines.append(c["message"])
            if c.get("diagnosis"):
                lines += ["", f"**Likely mistake** (`{c['diagnosis']['id']}`): {c['diagnosis']['message']}"]
            for note in c.get("notes") or []:
                lines += ["", f"*Note:* {note}"]
            if c.get("worst") and c["status"] == "fail":
                lines += ["", "| entry | yours | expected | abs error |", "| --- | --- | --- | --- |"]
                for e in c["worst"]:
                    lines.append(
                        f"| {e['index']} | {_num(e['submitted'])} | {_num(e['expected'])} | {_num(e['abs_error'])} |"
                    )
            if c.get("counterexample") and c["status"] != "pass":
                lines += ["", "Smallest failing input:", "", "```json", json.dumps(c["counterexample"])[:3000], "```"]
            if c.get("tolerance"):
                lines += ["", f"Tolerance: {c['tolerance']}"]
            lines.append("")
    if verdict.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in verdict["notes"]] + [""]
    if verdict.get("stdout"):
        lines += ["## Output (first part)", "", "```", verdict["stdout"][:4000], "```", ""]
    lines += [
        f"Isolation: {verdict['isolation']}",
        f"Graded by {report['tool']} {report['version']} (assignment {report['assignment']}).",
        "",
    ]
    return "\n".join(lines)


def summary_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# {report['assignment']}: {len(report['submissions'])} submissions",
        "",
        "| submission | status | score | failed checks |",
        "| --- | --- | --- | --- |",
    ]
    for v in report["submissions"]:
        failed = ", ".join(c["name"] for c in v["checks"] if c["status"] != "pass") or (
            "–" if v["status"] == "graded" else v["error"]
        )
        lines.append(f"| {v['submission']} | {v['status']} | {v['score']:g} / {v['max_score']:g} | {failed} |")
    return "\n".join(lines) + "\n"


def summary_line(verdict: dict[str, Any]) -> str:
    """One line per submission for the terminal."""
    if verdict["status"] == "error":
        return f"ERROR  {verdict['score']:>5g}/{verdict['max_score']:g}  {verdict['submission']}: {verdict['error']}"
    bad = [c for c in verdict["checks"] if c["status"] != "pass" and c["max_score"] > 0] + [
        c for c in verdict["checks"] if c["status"] != "pass" and c["max_score"] == 0
    ]
    tag = "PASS " if not bad else "FAIL "
    detail = "; ".join(
        f"{c['name']} {c['status']}" + (f" ({c['diagnosis']['id']})" if c.get("diagnosis") else "") for c in bad
    )
    return f"{tag}  {verdict['score']:>5g}/{verdict['max_score']:g}  {verdict['submission']}" + (
        f": {detail}" if detail else ""
    )
