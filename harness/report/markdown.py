"""Format ``md``: ``submissions/<name>.md`` per submission, for the student, and ``summary.md``.

``summary.md``: a row per submission, then what the class got wrong (each check's pass rate, its
diagnosed mistakes with links to the pages of the submissions that made each), the score
histogram and the flags.

A submission's text is shown, never run: every string is :func:`~harness.report.escape.md_text`
(no raw HTML, link, emphasis or block of its own), what it printed is a fenced block whose fence
is longer than any run of backticks it printed (:func:`~harness.report.escape.md_fence`).
"""

from __future__ import annotations

import json

from harness.records.report import ReportData, VerdictData
from harness.report.data import mistakes, summary_of
from harness.report.escape import md_code, md_fence, md_text
from harness.report.files import Rendered, display_names, submission_pages
from harness.report.text import num

SUMMARY_FILE = "summary.md"
SUFFIX = ".md"


def markdown(verdict: VerdictData, report: ReportData) -> str:
    """One submission's report, for the student."""
    lines = [f"# {md_text(verdict['submission'])}", ""]
    if verdict["status"] == "error":
        lines += [
            f"**Not graded:** {md_text(verdict['error'])}",
            "",
            f"Score: {verdict['score']:g} / {verdict['max_score']:g}",
            "",
        ]
    else:
        lines += [
            f"Score: **{verdict['score']:g} / {verdict['max_score']:g}** "
            f"({md_text(verdict.get('style') or 'script')} style)",
            "",
        ]
        lines += ["| check | result | points | max abs error | max rel error |", "| --- | --- | --- | --- | --- |"]
        for c in verdict["checks"]:
            lines.append(
                f"| {md_text(c['name'])} | {md_text(c['status'])} | {c['score']:g} / {c['max_score']:g} | "
                f"{num(c['max_abs_error'])} | {num(c['max_rel_error'])} |"
            )
        lines.append("")
        for c in verdict["checks"]:
            lines.append(f"## {md_text(c['name'])}: {md_text(c['status'])}")
            lines.append("")
            lines.append(md_text(c["message"]))
            diagnosis = c.get("diagnosis")
            if diagnosis:
                lines += ["", f"**Likely mistake** ({md_code(diagnosis['id'])}): {md_text(diagnosis['message'])}"]
            for note in c.get("notes") or []:
                lines += ["", f"*Note:* {md_text(note)}"]
            if c.get("worst") and c["status"] == "fail":
                lines += ["", "| entry | yours | expected | abs error |", "| --- | --- | --- | --- |"]
                for e in c["worst"]:
                    lines.append(
                        f"| {e['index']} | {num(e['submitted'])} | {num(e['expected'])} | {num(e['abs_error'])} |"
                    )
            if c.get("counterexample") and c["status"] != "pass":
                lines += ["", "Smallest failing input:", "", *md_fence(json.dumps(c["counterexample"])[:3000], "json")]
            if c.get("tolerance"):
                lines += ["", f"Tolerance: {md_text(c['tolerance'])}"]
            lines.append("")
    if verdict.get("notes"):
        lines += ["## Notes", ""] + [f"- {md_text(n)}" for n in verdict["notes"]] + [""]
    if verdict.get("stdout"):
        lines += ["## Output (first part)", "", *md_fence(verdict["stdout"][:4000]), ""]
    lines += [
        f"Isolation: {md_text(verdict['isolation'])}",
        f"Graded by {md_text(report['tool'])} {md_text(report['version'])} "
        f"(assignment {md_text(report['assignment'])}).",
        "",
    ]
    return "\n".join(lines)


def summary_markdown(report: ReportData) -> str:
    """The batch: one row per submission (a link to its page), its score and the checks it failed."""
    lines = [
        f"# {md_text(report['assignment'])}: {len(report['submissions'])} submissions",
        "",
        "| submission | status | score | failed checks |",
        "| --- | --- | --- | --- |",
    ]
    for v, page in zip(report["submissions"], submission_pages(report, SUFFIX)):
        failed = ", ".join(md_text(c["name"]) for c in v["checks"] if c["status"] != "pass") or (
            "–" if v["status"] == "graded" else md_text(v["error"])
        )
        lines.append(
            f"| [{md_text(v['submission'])}]({page}) | {md_text(v['status'])} | "
            f"{v['score']:g} / {v['max_score']:g} | {failed} |"
        )
    return "\n".join(lines + [""] + class_markdown(report)) + "\n"


def _rate(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.0f}%"


def class_markdown(report: ReportData) -> list[str]:
    """What the class got wrong, its lines: each check's pass rate, its diagnosed mistakes most
    frequent first (each with links to the pages of the submissions that made it), the score
    histogram and the flags (:func:`~harness.report.data.summary`)."""
    summary = summary_of(report)
    subs = report["submissions"]
    pages = submission_pages(report, SUFFIX)
    shown = display_names([v["submission"] for v in subs])
    lines = ["## What the class got wrong", ""]
    checks = summary["checks"]
    if checks:
        lines += ["| check | passed | failed | missing | error | pass rate |", "| --- | --- | --- | --- | --- | --- |"]
        for name, c in checks.items():
            lines.append(
                f"| {md_text(name)} | {c['passed']} | {c['failed']} | {c['missing']} | {c['error']} | "
                f"{_rate(c['pass_rate'])} |"
            )
        lines.append("")
    found = mistakes(subs)
    for name, rows in found.items():
        total = checks[name]["total"]
        said = "; ".join(f"{len(m.positions)} of {total} {md_code(m.id)}" for m in rows)
        lines += [f"### {md_text(name)}: {said}", ""]
        for m in rows:
            links = ", ".join(f"[{md_text(shown[p])}]({pages[p]})" for p in m.positions)
            lines.append(f"- **{len(m.positions)} of {total}** {md_code(m.id)}: {md_text(m.message)} ({links})")
        lines.append("")
    if not found:
        lines += ["No failure was diagnosed as a known mistake.", ""]
    scores = summary["scores"]
    lines += ["## Scores", ""]
    if scores["mean"] is not None:
        lines += [f"Mean {scores['mean']:.2f} of {scores['max_score']:g}.", ""]
    peak = max([b["count"] for b in scores["histogram"]] or [0])
    lines += ["| score | submissions | |", "| --- | --- | --- |"]
    for b in scores["histogram"]:
        label = f"{b['low']:g}" if b["low"] == b["high"] else f"{b['low']:.3g}–{b['high']:.3g}"
        bar = "█" * round(20 * b["count"] / peak) if peak else ""
        lines.append(f"| {label} | {b['count']} | {bar} |")
    lines.append("")
    if summary["flags"]:
        lines += ["## Flags", "", "| flag | submissions |", "| --- | --- |"]
        lines += [f"| {md_text(k)} | {n} |" for k, n in summary["flags"].items()]
        lines.append("")
    return lines


def render(report: ReportData) -> Rendered:
    pages = [(page, markdown(v, report)) for v, page in zip(report["submissions"], submission_pages(report, SUFFIX))]
    return pages + [(SUMMARY_FILE, summary_markdown(report))]
