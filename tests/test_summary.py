"""What the class got wrong: ``report.json``'s ``summary``, and how summary.md and index.html show it.

Synthetic verdicts (the report.json schema) pin the counts; the Markdown and HTML are read back
(links resolved against the pages the same render writes); headless Chromium (where installed)
draws the index, and a screenshot is kept for a person to look at.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from harness.report import FORMATS, write_reports
from harness.report.data import report_data, summary
from harness.report.html_pages import html_index
from harness.report.markdown import summary_markdown

SHOTS = Path("/tmp/gradproof-summary-shots")  # where the screenshot is kept, to look at


def _check(name: str, status: str = "pass", diagnosis: tuple[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    points = 2.0
    return {
        "name": name,
        "status": status,
        "score": points if status == "pass" else 0.0,
        "max_score": points,
        "message": f"{name} is {status}",
        "max_abs_error": None,
        "max_rel_error": None,
        "diagnosis": {"id": diagnosis[0], "message": diagnosis[1]} if diagnosis else None,
        "tolerance": "",
        "notes": [],
        "worst": [],
        "counterexample": None,
        "errors": None,
        "runs": [],
        **kw,
    }


def _verdict(name: str, checks: list[dict[str, Any]], flags: tuple[str, ...] = (), **kw: Any) -> Any:
    return {
        "submission": name,
        "status": "graded",
        "error": None,
        "score": sum(c["score"] for c in checks),
        "max_score": sum(c["max_score"] for c in checks),
        "isolation": "process",
        "duration_s": 0.5,
        "style": "script",
        "digest": "ab" * 32,
        "seed": 1,
        "notes": [],
        "stdout": "",
        "stderr": "",
        "checks": checks,
        "flags": [{"id": f, "message": f"uses {f}", "evidence": []} for f in flags],
        **kw,
    }


LEAVE_OUT = ("leave-out-dH_dZ", "dE_dW1 leaves out dH_dZ, the sigmoid's derivative")
TWICE = ("carry-H-twice", "dE_dW1 carries H twice")
SIGN = ("sign-flip", "dE_dW2 has the opposite sign")


def _batch() -> list[Any]:
    return [
        _verdict("subs/ann.py", [_check("forward"), _check("dE_dW2"), _check("dE_dW1", "fail", LEAVE_OUT)]),
        _verdict("subs/bo.py", [_check("forward"), _check("dE_dW2", "fail", SIGN), _check("dE_dW1", "fail", TWICE)]),
        _verdict(
            "subs/cy.ipynb",
            [_check("forward"), _check("dE_dW2"), _check("dE_dW1", "fail", (LEAVE_OUT[0], "a variant wording"))],
            flags=("autograd",),
        ),
        _verdict(
            "subs/di.py",
            [_check("forward"), _check("dE_dW2", "missing"), _check("dE_dW1", "fail", LEAVE_OUT)],
            flags=("autograd", "grader-import"),
        ),
        _verdict("subs/ed.py", [_check("forward"), _check("dE_dW2"), _check("dE_dW1", "error")]),
        {**_verdict("subs/fay.py", []), "status": "error", "error": "cannot load", "max_score": 6.0},
    ]


def test_the_summary_counts_each_checks_statuses_and_its_pass_rate() -> None:
    checks = summary(_batch())["checks"]
    assert list(checks) == ["forward", "dE_dW2", "dE_dW1"]  # the grader's order of checks
    assert checks["forward"] == {"passed": 5, "failed": 0, "missing": 0, "error": 0, "total": 5, "pass_rate": 1.0}
    assert checks["dE_dW2"] == {"passed": 3, "failed": 1, "missing": 1, "error": 0, "total": 5, "pass_rate": 0.6}
    assert checks["dE_dW1"] == {"passed": 0, "failed": 4, "missing": 0, "error": 1, "total": 5, "pass_rate": 0.0}


def test_the_summary_groups_mistakes_by_check_and_diagnosis_most_frequent_first() -> None:
    mistakes = summary(_batch())["mistakes"]
    assert list(mistakes) == ["dE_dW2", "dE_dW1"]
    assert mistakes["dE_dW1"] == [
        {
            "id": "leave-out-dH_dZ",
            "message": LEAVE_OUT[1],  # the message most of them got
            "count": 3,
            "submissions": ["subs/ann.py", "subs/cy.ipynb", "subs/di.py"],
        },
        {"id": "carry-H-twice", "message": TWICE[1], "count": 1, "submissions": ["subs/bo.py"]},
    ]
    assert mistakes["dE_dW2"] == [{"id": "sign-flip", "message": SIGN[1], "count": 1, "submissions": ["subs/bo.py"]}]


def test_mistakes_of_equal_count_are_ordered_by_id() -> None:
    batch = [
        _verdict("b.py", [_check("dE_dW1", "fail", ("zeta", "z"))]),
        _verdict("a.py", [_check("dE_dW1", "fail", ("alpha", "a"))]),
    ]
    assert [m["id"] for m in summary(batch)["mistakes"]["dE_dW1"]] == ["alpha", "zeta"]


def test_the_summary_counts_the_submissions_each_flag_was_raised_for() -> None:
    twice = _verdict("x.py", [_check("forward")], flags=("autograd", "autograd"))
    assert summary(_batch())["flags"] == {"autograd": 2, "grader-import": 1}
    assert summary([twice])["flags"] == {"autograd": 1}


def test_the_summary_holds_the_score_histogram_mean_and_maximum() -> None:
    scores = summary(_batch())["scores"]
    assert scores["max_score"] == 6.0
    assert scores["mean"] == round((4 + 2 + 4 + 2 + 4 + 0) / 6, 6)
    assert [(b["low"], b["count"]) for b in scores["histogram"]] == [
        (0.0, 1),
        (1.0, 0),
        (2.0, 2),
        (3.0, 0),
        (4.0, 3),
        (5.0, 0),
        (6.0, 0),
    ]


def test_an_empty_batch_has_an_empty_summary() -> None:
    empty: Any = summary([])
    assert empty == {
        "checks": {},
        "mistakes": {},
        "flags": {},
        "scores": {"histogram": [{"low": 0.0, "high": 0.0, "count": 0}], "mean": None, "max_score": 0.0},
    }


def test_report_json_carries_the_summary_and_reads_back_equal(tmp_path: Path) -> None:
    data = report_data(_batch(), "mlp-4-3-1")
    write_reports(tmp_path, data, ("json",))
    back = json.loads((tmp_path / "report.json").read_text())
    assert back["summary"] == summary(_batch()) == json.loads(json.dumps(data["summary"]))
    assert list(back) == ["tool", "version", "assignment", "tolerances", "submissions", "summary"]


def test_the_summary_does_not_depend_on_the_order_of_a_verdicts_flags_or_dict_order() -> None:
    batch = _batch()
    shuffled: list[Any] = [dict(reversed(list(v.items()))) for v in batch]
    for v in shuffled:
        v["flags"] = list(reversed(v["flags"]))
    assert json.dumps(summary(shuffled)) == json.dumps(summary(batch))


# ---------------------------------------------------------------- summary.md


def _report() -> Any:
    return report_data(_batch(), "mlp-4-3-1")


def test_summary_md_says_per_check_how_many_made_each_mistake() -> None:
    text = summary_markdown(_report())
    assert "## What the class got wrong" in text
    assert "| dE_dW1 | 0 | 4 | 0 | 1 | 0% |" in text and "| dE_dW2 | 3 | 1 | 1 | 0 | 60% |" in text
    assert "### dE_dW1: 3 of 5 `leave-out-dH_dZ`; 1 of 5 `carry-H-twice`" in text
    assert (
        "- **3 of 5** `leave-out-dH_dZ`: dE_dW1 leaves out dH_dZ, the sigmoid's derivative "
        "([ann.py](submissions/ann.py.md), [cy.ipynb](submissions/cy.ipynb.md), [di.py](submissions/di.py.md))"
    ) in text
    assert "| autograd | 2 |" in text and "| grader-import | 1 |" in text
    assert "Mean 2.67 of 6." in text and "| 4 | 3 | ████████████████████ |" in text


def test_every_mistake_link_in_summary_md_is_a_page_the_report_writes() -> None:
    report = _report()
    written = {path for path, _ in FORMATS["md"](report)}
    links = re.findall(r"\]\((submissions/[^)]+)\)", summary_markdown(report))
    assert len(links) > len(report["submissions"]) and set(links) <= written


def test_summary_md_escapes_a_diagnosis_that_quotes_a_submission() -> None:
    bad = ("odd`id", "[click](http://x) <script>alert(1)</script> | *bold*")
    report = report_data([_verdict("a.py", [_check("dE_dW1", "fail", bad)])], "x")
    text = summary_markdown(report)
    assert "<script>" not in text and "[click](" not in text and "&lt;script&gt;" in text
    assert "\\[click\\]" in text and "\\| \\*bold\\*" in text and "``odd`id``" in text


# ---------------------------------------------------------------- index.html


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    return parsed


def test_the_index_draws_the_pass_rates_and_each_checks_mistakes_as_bar_charts() -> None:
    page = html_index(_report())
    parsed = _parse(page)
    text = " ".join(parsed.text)
    # the histogram, the failing checks, the pass rates, and one chart per check with a diagnosed mistake
    assert parsed.tags.count("svg") == 5
    assert "Pass rate per check" in text and "Mistakes in dE_dW1" in text and "Mistakes in dE_dW2" in text
    assert "dE_dW2: passed in 3 of 5 submission(s)" in text
    assert "dE_dW1: 3 of 5: dE_dW1 leaves out dH_dZ, the sigmoid&#x27;s derivative" in page
    assert "passed in 0 of 5 (0%)" in text
    assert "autograd" in text and "flagged" in text


def test_each_mistake_in_the_index_links_to_the_pages_of_the_submissions_that_made_it() -> None:
    report = _report()
    page = html_index(report)
    written = {path for path, _ in FORMATS["html"](report)}
    start = page.index('id="mistakes-dE_dW1"')
    section = page[start : page.index("</div>", start)]
    links = re.findall(r'<a href="([^"]+)"', section)
    assert links == [
        "submissions/ann.py.html",
        "submissions/cy.ipynb.html",
        "submissions/di.py.html",
        "submissions/bo.py.html",
    ]
    assert set(_parse(page).links) <= written


def test_the_index_escapes_a_diagnosis_that_quotes_a_submission() -> None:
    bad = ("<b>id</b>", "<script>alert(1)</script> & co")
    report = report_data([_verdict("<i>a</i>.py", [_check("dE_dW1", "fail", bad)])], "x")
    page = html_index(report)
    assert "<script>" not in page and "<b>id</b>" not in page and "<i>a</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install -y chromium)")
def test_chromium_draws_the_index_with_its_charts_and_no_console_error(tmp_path: Path) -> None:
    browser = _chromium()
    assert browser is not None
    write_reports(tmp_path / "out", _report(), ("json", "html"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "index.png"
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1100,2200",
        f"--screenshot={shot}",
        (tmp_path / "out" / "index.html").as_uri(),
    ]
    taken = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert taken.returncode == 0, taken.stderr[-2000:]
    console = [line for line in taken.stderr.splitlines() if "CONSOLE" in line or "Refused to" in line]
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
