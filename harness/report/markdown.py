"""Format ``md``: ``submissions/<name>.md`` per submission, for the student, and ``summary.md``."""

from __future__ import annotations

import json

from harness.records.report import ReportData, VerdictData
from harness.report.files import SUBMISSIONS, Rendered, file_stem
from harness.report.text import num

SUMMARY_FILE = "summary.md"


def markdown_name(submission: str) -> str:
    """The Markdown page of one submission."""
    return f"{file_stem(submission)}.md"


def markdown(verdict: VerdictData, report: ReportData) -> str:
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
                f"{num(c['max_abs_error'])} | {num(c['max_rel_error'])} |"
            )
        lines.append("")
        for c in verdict["checks"]:
            lines.append(f"## {c['name']}: {c['status']}")
            lines.append("")
            lines.append(c["message"])
            diagnosis = c.get("diagnosis")
            if diagnosis:
                lines += ["", f"**Likely mistake** (`{diagnosis['id']}`): {diagnosis['message']}"]
            for note in c.get("notes") or []:
                lines += ["", f"*Note:* {note}"]
            if c.get("worst") and c["status"] == "fail":
                lines += ["", "| entry | yours | expected | abs error |", "| --- | --- | --- | --- |"]
                for e in c["worst"]:
                    lines.append(
                        f"| {e['index']} | {num(e['submitted'])} | {num(e['expected'])} | {num(e['abs_error'])} |"
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


def summary_markdown(report: ReportData) -> str:
    """The batch: one row per submission, its score and the checks it failed."""
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


def render(report: ReportData) -> Rendered:
    pages = [(f"{SUBMISSIONS}/{markdown_name(v['submission'])}", markdown(v, report)) for v in report["submissions"]]
    return pages + [(SUMMARY_FILE, summary_markdown(report))]
