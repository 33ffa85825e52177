"""Format ``html``: ``index.html`` (the batch) and ``submissions/<name>.html`` per submission.

The batch page: scores, a histogram of totals, the checks that failed most, and what the class
got wrong (:func:`~harness.report.data.summary`): the pass rate per check, and per check a bar
chart of its diagnosed mistakes, each with links to the pages of the submissions that made it.
A submission's page: each check, its diagnosis, a heat map of a wrong
gradient's per-entry error.  Self-contained: inline CSS and SVG, no script,
no network (a Content-Security-Policy forbids every fetch).  Built from
``report.json``'s plain data alone.  Every text is escaped
(:func:`~harness.report.escape.html_text`); a submission's page name is its
own (:func:`~harness.report.files.page_stems`), and the index links to it.
"""

from __future__ import annotations

import json
import math

from harness.records.report import CheckData, ReportData, VerdictData
from harness.report.data import check_columns, histogram_bins, mistakes, summary_of
from harness.report.escape import html_text
from harness.report.files import Rendered, display_names, submission_pages
from harness.report.text import num, plain

HTML_INDEX = "index.html"
SUFFIX = ".html"


def page_names(report: ReportData) -> list[str]:
    """Each submission's HTML page in the report folder, in order (the Markdown page's name with ``.html``)."""
    return submission_pages(report, SUFFIX)


def render(report: ReportData) -> Rendered:
    pages = [(page, html_submission(v, report)) for v, page in zip(report["submissions"], page_names(report))]
    return [(HTML_INDEX, html_index(report)), *pages]


_CSS = """
:root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1040px;
       padding: 24px; color: #1f2328; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 1.2em; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 0; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.scroll { overflow-x: auto; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: .85em; font-weight: 600; color: #fff; }
.pass { background: var(--ok); } .fail, .error { background: var(--bad); } .missing { background: var(--warn); }
.graded { background: #0969da; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
.card.bad { border-left: 5px solid var(--bad); } .card.good { border-left: 5px solid var(--ok); }
.diag { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
.stats { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.stat { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.stat b { display: block; font-size: 1.4em; }
.charts { display: flex; gap: 24px; flex-wrap: wrap; }
.charts figure { margin: 0; flex: 1 1 440px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; font-size: .85em; white-space: pre-wrap; word-break: break-all; }
svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
"""


def _e(text: object) -> str:
    return html_text(text)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(status)}</span>'


def _count_ticks(peak: int) -> list[int]:
    """Whole-number gridlines from 0 to at least ``peak`` (counts are never fractional)."""
    step = max(1, math.ceil(peak / 4))
    return list(range(0, max(peak, 1) + step, step))


def _histogram_svg(labels: list[str], values: list[int], title: str, width: int = 460, height: int = 200) -> str:
    """Vertical bars (a histogram) as inline SVG, no script."""
    left, bottom, top_pad = 34, 34, 14
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    ticks = _count_ticks(max(values or [0]))
    peak = ticks[-1]
    n = max(len(values), 1)
    slot = plot_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
    ]
    for value in ticks:
        y = top_pad + plot_h - plot_h * value / peak
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    every = max(1, math.ceil(n / 12))
    for i, (label, value) in enumerate(zip(labels, values)):
        h = plot_h * value / peak
        x = left + i * slot + slot * 0.12
        y = top_pad + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.76:.1f}" height="{h:.1f}" fill="#0969da">'
            f"<title>{_e(f'score {label}: {value} submission(s)')}</title></rect>"
        )
        if value:
            parts.append(f'<text x="{x + slot * 0.38:.1f}" y="{y - 3:.1f}" text-anchor="middle">{value}</text>')
        if i % every == 0:
            parts.append(
                f'<text x="{left + (i + 0.5) * slot:.1f}" y="{height - bottom + 14}" '
                f'text-anchor="middle">{_e(label)}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - 8}" y1="{top_pad + plot_h}" y2="{top_pad + plot_h}" stroke="#57606a"/>'
    )
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">total score</text>')
    parts.append("</svg>")
    return "".join(parts)


def _failures_svg(labels: list[str], values: list[int], of: int, title: str, width: int = 460) -> str:
    """Horizontal bars, one per check, longest first: how many submissions failed it."""
    row, left, right = 24, 110, 70
    height = max(row * len(values), row) + 8
    plot_w = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
    ]
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 4 + i * row
        w = plot_w * value / of if of else 0
        parts.append(f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end">{_e(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{plot_w}" height="{row - 6}" fill="#f6f8fa"/>')
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="#cf222e">'
            f"<title>{_e(f'{label}: failed in {value} of {of} submission(s)')}</title></rect>"
        )
        parts.append(f'<text x="{left + plot_w + 6}" y="{y + row / 2 + 4:.1f}">{value} of {of}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bars_svg(rows: list[tuple[str, int, str]], of: int, title: str, color: str, width: int = 520) -> str:
    """Horizontal bars in the style of :func:`_failures_svg`: ``(label, value, tooltip)`` a row, each
    bar its share of ``of``, the count and ``of`` at its end."""
    row, right = 24, 70
    left = min(max(60, 8 + 7 * max((len(label) for label, _, _ in rows), default=0)), 230)
    height = max(row * len(rows), row) + 8
    plot_w = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{_e(title)}</title>'
    ]
    for i, (label, value, tip) in enumerate(rows):
        y = 4 + i * row
        w = plot_w * value / of if of else 0
        shown = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end">{_e(shown)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{plot_w}" height="{row - 6}" fill="#f6f8fa"/>')
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{color}">'
            f"<title>{_e(tip)}</title></rect>"
        )
        parts.append(f'<text x="{left + plot_w + 6}" y="{y + row / 2 + 4:.1f}">{value} of {of}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.0f}%"


def _class_section(report: ReportData) -> str:
    """What the class got wrong: each check's pass rate (a chart), then per check its diagnosed
    mistakes (a chart, then each with links to the pages of the submissions that made it), and the flags."""
    summary = summary_of(report)
    subs = report["submissions"]
    pages, shown = page_names(report), display_names([v["submission"] for v in subs])
    checks = summary["checks"]
    parts = ['<h2 id="class">What the class got wrong</h2>']
    if checks:
        rates = [
            (name, c["passed"], f"{name}: passed in {c['passed']} of {c['total']} submission(s)")
            for name, c in checks.items()
        ]
        totals = {c["total"] for c in checks.values()}
        of = max(totals) if totals else 0
        parts.append(
            '<div class="charts"><figure><figcaption>Pass rate per check</figcaption>'
            + _bars_svg(rates, of, "Pass rate per check", "#1a7f37")
            + "</figure></div>"
        )
    found = mistakes(subs)
    for name, rows in found.items():
        c = checks[name]
        parts.append(
            f'<div class="card bad" id="mistakes-{_e(name)}"><h3>{_e(name)} <span class="muted">passed in '
            f"{c['passed']} of {c['total']} ({_percent(c['pass_rate'])})</span></h3>"
        )
        bars = [(m.id, len(m.positions), f"{name}: {len(m.positions)} of {c['total']}: {m.message}") for m in rows]
        parts.append(_bars_svg(bars, c["total"], f"Mistakes in {name}", "#cf222e"))
        parts.append("<ul>")
        for m in rows:
            links = ", ".join(
                f'<a href="{_e(pages[p])}" title="{_e(subs[p]["submission"])}">{_e(shown[p])}</a>' for p in m.positions
            )
            parts.append(
                f"<li><b>{len(m.positions)} of {c['total']}</b> <code>{_e(m.id)}</code>: {_e(m.message)}"
                f'<br><span class="muted">{links}</span></li>'
            )
        parts.append("</ul></div>")
    if not found:
        parts.append('<p class="muted">No failure was diagnosed as a known mistake.</p>')
    flags = summary["flags"]
    if flags:
        parts.append('<h2>Flags</h2><table><tr><th>flag</th><th class="num">submissions</th></tr>')
        parts += [f'<tr><td><code>{_e(k)}</code></td><td class="num">{n}</td></tr>' for k, n in flags.items()]
        parts.append("</table>")
    return "".join(parts)


def html_index(report: ReportData) -> str:
    """The batch page: statistics, a histogram of totals, the checks that failed most, every submission."""
    subs = report["submissions"]
    totals = [float(v["score"]) for v in subs]
    max_score = max([float(v["max_score"]) for v in subs] or [0.0])
    graded = sum(v["status"] == "graded" for v in subs)
    mean = sum(totals) / len(totals) if totals else 0.0
    ordered = sorted(totals)
    median = (
        (
            ordered[len(ordered) // 2]
            if len(ordered) % 2
            else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
        )
        if ordered
        else 0.0
    )
    full = sum(1 for v in subs if v["status"] == "graded" and v["score"] >= v["max_score"])
    stats = [
        ("submissions", str(len(subs))),
        ("graded", str(graded)),
        ("not gradable", str(len(subs) - graded)),
        ("mean score", f"{mean:.2f} / {plain(max_score)}"),
        ("median", f"{median:g}"),
        ("full marks", str(full)),
        ("flagged", str(sum(1 for v in subs if v.get("flags")))),
    ]
    body = [
        f"<h1>{_e(report['assignment'])}: {len(subs)} submissions</h1>",
        f'<p class="muted">Graded by {_e(report["tool"])} {_e(report["version"])}.</p>',
        '<div class="stats">' + "".join(f'<div class="stat"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in stats) + "</div>",
    ]

    bins = histogram_bins(totals, max_score)
    labels = [plain(low) if low == high else f"{low:.3g}–{high:.3g}" for low, high, _ in bins]
    hist = _histogram_svg(labels, [c for _, _, c in bins], "Histogram of total scores")
    columns = check_columns(report)
    fails = [
        sum(1 for v in subs for c in v.get("checks") or [] if c["name"] == name and c["status"] != "pass")
        for name in columns
    ]
    not_graded = len(subs) - graded
    bar_labels = columns + (["not graded"] if not_graded else [])
    bar_values = fails + ([not_graded] if not_graded else [])
    order = sorted(range(len(bar_values)), key=lambda i: -bar_values[i])
    failing = _failures_svg(
        [bar_labels[i] for i in order], [bar_values[i] for i in order], len(subs), "Which checks failed most"
    )
    body.append(
        '<div class="charts">'
        f"<figure><figcaption>Total scores</figcaption>{hist}</figure>"
        f"<figure><figcaption>Checks that failed most</figcaption>{failing}</figure></div>"
    )

    body.append(_class_section(report))

    body.append(
        '<h2>Submissions</h2><div class="scroll"><table><tr><th>submission</th><th>status</th>'
        '<th class="num">score</th>' + "".join(f"<th>{_e(c)}</th>" for c in columns) + "</tr>"
    )
    for v, shown, page in zip(subs, display_names([v["submission"] for v in subs]), page_names(report)):
        link = f'<a href="{_e(page)}" title="{_e(v["submission"])}">{_e(shown)}</a>'
        status = {c["name"]: c["status"] for c in v.get("checks") or []}
        cells = "".join(f"<td>{_badge(status[c]) if c in status else ''}</td>" for c in columns)
        body.append(
            f"<tr><td>{link}</td><td>{_badge(v['status'])}</td>"
            f'<td class="num">{plain(v["score"])} / {plain(v["max_score"])}</td>{cells}</tr>'
        )
    body.append("</table></div>")
    return _page(f"{report['assignment']}: gradproof report", "\n".join(body))


def _heat_color(fraction: float) -> str:
    """White (no error) through yellow to red (the largest error)."""
    f = min(max(fraction, 0.0), 1.0)
    if f < 0.5:  # white -> amber
        t = 2 * f
        r, g, b = 255, 255 - int(40 * t), int(255 * (1 - t))
    else:  # amber -> deep red
        t = 2 * f - 1
        r, g, b = 255 - int(48 * t), 215 - int(180 * t), 0
    return f"rgb({r},{g},{b})"


def heatmap_svg(errors: list[list[float | None]], title: str) -> str:
    """The per-entry absolute error of a matrix as an SVG heat map (``None``: not finite, drawn black)."""
    rows = len(errors)
    cols = max((len(r) for r in errors), default=0)
    finite = [x for r in errors for x in r if isinstance(x, (int, float)) and math.isfinite(x)]
    peak = max(finite or [0.0])
    cell = 44 if cols <= 8 and rows <= 8 else 24 if cols <= 20 and rows <= 20 else 10
    left, top, legend = 30, 20, 70
    width, height = left + cols * cell + legend + 10, top + rows * cell + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{max(height, 130)}" '
        f'viewBox="0 0 {width} {max(height, 130)}"><title>{_e(title)}</title>'
    ]
    for j in range(cols):
        if cell >= 24 or j % 5 == 0:
            parts.append(f'<text x="{left + (j + 0.5) * cell:.1f}" y="{top - 6}" text-anchor="middle">{j}</text>')
    for i, row in enumerate(errors):
        if cell >= 24 or i % 5 == 0:
            parts.append(f'<text x="{left - 6}" y="{top + (i + 0.5) * cell + 4:.1f}" text-anchor="end">{i}</text>')
        for j, entry in enumerate(row):
            ok = isinstance(entry, (int, float)) and math.isfinite(entry)
            value = float(entry) if entry is not None and ok else 0.0
            color = _heat_color(value / peak if ok and peak > 0 else 0.0) if ok else "#000"
            label = f"[{i}, {j}] abs error {value:.3g}" if ok else f"[{i}, {j}] not finite"
            parts.append(
                f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{color}"><title>{_e(label)}</title></rect>'
            )
            if cell >= 44 and ok:
                shade = "#fff" if peak > 0 and value / peak > 0.6 else "#1f2328"
                parts.append(
                    f'<text x="{left + (j + 0.5) * cell:.1f}" y="{top + (i + 0.5) * cell + 4:.1f}" '
                    f'text-anchor="middle" style="fill:{shade}">{value:.2g}</text>'
                )
    lx = left + cols * cell + 16
    for k in range(10):
        parts.append(f'<rect x="{lx}" y="{top + (9 - k) * 10}" width="14" height="10" fill="{_heat_color(k / 9)}"/>')
    parts.append(f'<text x="{lx + 18}" y="{top + 8}">{peak:.2g}</text>')
    parts.append(f'<text x="{lx + 18}" y="{top + 100}">0</text>')
    parts.append("</svg>")
    return "".join(parts)


def _compact_json(value: object, depth: int = 0) -> str:
    """Objects one key a line (two levels deep), arrays on one line: a matrix reads as a matrix."""
    if isinstance(value, dict) and value and depth < 2:
        pad = "  " * (depth + 1)
        inner = ",\n".join(f"{pad}{json.dumps(str(k))}: {_compact_json(v, depth + 1)}" for k, v in value.items())
        return "{\n" + inner + "\n" + "  " * depth + "}"
    return json.dumps(value)


def _worst_table(check: CheckData) -> str:
    rows = "".join(
        f'<tr><td>{_e(e["index"])}</td><td class="num">{num(e["submitted"])}</td>'
        f'<td class="num">{num(e["expected"])}</td><td class="num">{num(e["abs_error"])}</td></tr>'
        for e in check.get("worst") or []
    )
    return (
        (
            '<table><tr><th>entry</th><th class="num">yours</th><th class="num">expected</th>'
            f'<th class="num">abs error</th></tr>{rows}</table>'
        )
        if rows
        else ""
    )


def _as_matrix(errors: object) -> list[list[float | None]] | None:
    if not isinstance(errors, list) or not errors:
        return None
    if all(isinstance(r, list) for r in errors):
        return [[x if isinstance(x, (int, float)) else None for x in r] for r in errors]
    return [[x if isinstance(x, (int, float)) else None for x in errors]]


def html_submission(verdict: VerdictData, report: ReportData) -> str:
    """One submission's page: every check, its diagnosis, and a heat map of each wrong gradient."""
    name = verdict["submission"]
    body = ['<p><a href="../index.html">← all submissions</a></p>', f"<h1>{_e(name)}</h1>"]
    if verdict["status"] == "error":
        body.append(f'<div class="card bad"><h3>{_badge("error")} not graded</h3><p>{_e(verdict["error"])}</p></div>')
    body.append(
        f"<p>Score: <b>{plain(verdict['score'])} / {plain(verdict['max_score'])}</b>"
        + (f" ({_e(verdict.get('style') or 'script')} style)" if verdict["status"] == "graded" else "")
        + "</p>"
    )
    checks = verdict.get("checks") or []
    if checks:
        body.append(
            '<table><tr><th>check</th><th>result</th><th class="num">points</th>'
            '<th class="num">max abs error</th><th class="num">max rel error</th></tr>'
        )
        for c in checks:
            body.append(
                f'<tr><td><a href="#{_e(c["name"])}">{_e(c["name"])}</a></td><td>{_badge(c["status"])}</td>'
                f'<td class="num">{plain(c["score"])} / {plain(c["max_score"])}</td>'
                f'<td class="num">{num(c["max_abs_error"])}</td><td class="num">{num(c["max_rel_error"])}</td></tr>'
            )
        body.append("</table>")
    for c in checks:
        good = c["status"] == "pass"
        parts = [
            f'<div class="card {"good" if good else "bad"}" id="{_e(c["name"])}">',
            f'<h3>{_badge(c["status"])} {_e(c["name"])} <span class="muted">'
            f"{plain(c['score'])} / {plain(c['max_score'])} points</span></h3>",
            f"<p>{_e(c['message'])}</p>",
        ]
        diagnosis = c.get("diagnosis")
        if diagnosis:
            parts.append(
                f'<div class="diag"><b>Likely mistake</b> (<code>{_e(diagnosis["id"])}</code>): '
                f"{_e(diagnosis['message'])}</div>"
            )
        for note in c.get("notes") or []:
            parts.append(f'<p class="muted">Note: {_e(note)}</p>')
        if not good:
            matrix = _as_matrix(c.get("errors"))
            if matrix:
                parts.append(f"<p>Per-entry absolute error of {_e(c['name'])} (rows × columns):</p>")
                parts.append(heatmap_svg(matrix, f"absolute error of {c['name']} per entry"))
            parts.append(_worst_table(c))
            if c.get("counterexample"):
                parts.append(
                    "<p>Smallest failing input:</p><pre>"
                    + html_text(_compact_json(c["counterexample"])[:3000], lines=True)
                    + "</pre>"
                )
        if c.get("tolerance"):
            parts.append(f'<p class="muted">Tolerance: {_e(c["tolerance"])}</p>')
        parts.append("</div>")
        body.append("".join(parts))
    if verdict.get("notes"):
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in verdict["notes"]) + "</ul>")
    if verdict.get("stdout"):
        body.append(f"<h2>Output (first part)</h2><pre>{html_text(verdict['stdout'][:4000], lines=True)}</pre>")
    body.append(
        f'<p class="muted">Isolation: {_e(verdict["isolation"])}. Graded by {_e(report["tool"])} '
        f"{_e(report['version'])} (assignment {_e(report['assignment'])}).</p>"
    )
    return _page(f"{name}: gradproof", "\n".join(body))
