"""JUnit XML, CSV and HTML reports, each read back by a real consumer.

JUnit: ``xml.etree`` checks the attributes Jenkins, GitLab and GitHub test
reporters require.  CSV: the ``csv`` module.  HTML: ``html.parser`` for the
structure, and headless Chromium (where installed) loads the pages, reports no
console error, and takes a screenshot.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.report import ALL_FORMATS, json_file, write_reports
from harness.report.csv_file import grades_csv
from harness.report.data import histogram_bins
from harness.report.html_pages import heatmap_svg, html_index, html_submission, page_names
from harness.report.junit import junit_xml

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"
GRADED = ["correct_script.py", "bug_sign_flip_dW2.py", "broken_invalid_notebook.ipynb"]


def _check(name: str, status: str = "pass", score: float = 1.0, max_score: float = 1.0, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "score": score,
        "max_score": max_score,
        "message": kw.pop("message", f"{name} is {status}"),
        "max_abs_error": None,
        "max_rel_error": None,
        "diagnosis": None,
        "tolerance": "rtol=0.0001, atol=1e-06",
        "notes": [],
        "worst": [],
        "counterexample": None,
        "errors": None,
        **kw,
    }


def _verdict(name: str, checks: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {
        "submission": name,
        "status": "graded",
        "error": None,
        "score": sum(c["score"] for c in checks),
        "max_score": sum(c["max_score"] for c in checks),
        "isolation": "process",
        "duration_s": 0.25,
        "style": "script",
        "digest": "ab" * 32,
        "seed": 1,
        "notes": [],
        "stdout": "",
        "stderr": "",
        "checks": checks,
        **kw,
    }


@pytest.fixture
def synthetic() -> dict[str, Any]:
    wrong = _check(
        "dE_dW2",
        "fail",
        0.0,
        3.0,
        message="The gradient dE_dW2 is wrong <&> \x00 \x1b[31m",
        diagnosis={"id": "sign-flip", "message": "dE_dW2 has the opposite sign"},
        worst=[{"index": [0, 0], "submitted": -0.12, "expected": 0.12, "abs_error": 0.24, "rel_error": 2.0}],
        errors=[[0.24], [0.2], [None]],
        max_abs_error=0.24,
        max_rel_error=2.0,
    )
    return {
        "tool": "gradproof",
        "version": "0.1.0",
        "assignment": "mlp-4-3-1",
        "tolerances": {},
        "submissions": [
            _verdict(
                "alice/hw.py",
                [_check("forward", score=2, max_score=2), wrong, _check("update", "missing", 0)],
                stdout="printed \x07 <b>bold</b>",
            ),
            _verdict('=HYPERLINK("x")/bob.ipynb', [_check("forward", score=2, max_score=2), _check("sigmoid")]),
            {
                **_verdict("carol.py", []),
                "status": "error",
                "error": "cannot load the submission: bad JSON",
                "score": 0.0,
                "max_score": 10.0,
                "style": None,
            },
        ],
    }


# ---------------------------------------------------------------- unit: synthetic report data


def test_every_format_is_known_to_the_format_parser() -> None:
    assert ALL_FORMATS == ("json", "md", "html", "junit", "csv", "classroom", "canvas", "notebook")


def test_junit_has_a_suite_per_submission_and_a_case_per_check_with_required_attributes(
    synthetic: dict[str, Any],
) -> None:
    root = ET.fromstring(junit_xml(synthetic).encode())
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "6",
        "failures": "2",
        "errors": "1",
        "skipped": "0",
    }
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [v["submission"] for v in synthetic["submissions"]]
    for suite in suites:
        for attr in ("name", "tests", "failures", "errors", "skipped", "time"):
            assert suite.get(attr) is not None, attr
        float(suite.get("time") or "x")
        assert int(suite.get("tests") or -1) == len(suite.findall("testcase"))
        for case in suite.findall("testcase"):
            for attr in ("name", "classname", "time"):
                assert case.get(attr), attr
    alice = suites[0]
    assert [c.get("name") for c in alice.findall("testcase")] == ["forward", "dE_dW2", "update"]
    failure = alice.findall("testcase")[1].find("failure")
    assert failure is not None and failure.get("type") == "sign-flip"
    assert (failure.get("message") or "").startswith("The gradient dE_dW2 is wrong <&>")
    assert "Likely mistake (sign-flip): dE_dW2 has the opposite sign" in (failure.text or "")
    assert alice.findall("testcase")[2].find("failure").get("type") == "missing"  # type: ignore[union-attr]
    assert alice.find("system-out").text == "printed \\x07 <b>bold</b>"  # type: ignore[union-attr]
    carol = suites[2].find("testcase")
    assert carol is not None and carol.get("name") == "grade"
    assert carol.find("error").get("message") == "cannot load the submission: bad JSON"  # type: ignore[union-attr]


def test_junit_carries_each_submissions_score_as_properties(synthetic: dict[str, Any]) -> None:
    suite = ET.fromstring(junit_xml(synthetic).encode()).find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["score"] == "2" and props["max_score"] == "6" and props["status"] == "graded"


def test_csv_has_a_header_then_one_row_per_submission_with_a_column_per_check(synthetic: dict[str, Any]) -> None:
    rows = list(csv.reader(io.StringIO(grades_csv(synthetic))))
    assert rows[0] == ["submission", "id", "status", "forward", "dE_dW2", "update", "sigmoid", "total", "max_score"]
    assert rows[1] == ["alice/hw.py", "hw", "graded", "2", "0", "0", "", "2", "6"]
    assert rows[2][0] == '\'=HYPERLINK("x")/bob.ipynb'  # never a spreadsheet formula
    assert rows[2][3:] == ["2", "", "", "1", "3", "3"]
    assert rows[3] == ["carol.py", "carol", "error", "", "", "", "", "0", "10"]
    assert len(rows) == 4


class _Structure(HTMLParser):
    """Collects tags, links and text; fails on anything that would reach the network or run a script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        assert tag not in ("script", "link", "img", "iframe", "object"), tag
        for name, value in attrs:
            assert not name.startswith("on"), name
            if name in ("href", "src"):
                assert value is not None and not re.match(r"^[a-z]+:", value), value
                self.links.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Structure:
    parser = _Structure()
    parser.feed(page)
    parser.close()
    return parser


def test_the_html_index_is_self_contained_with_a_histogram_and_the_failing_checks(synthetic: dict[str, Any]) -> None:
    page = html_index(synthetic)
    parsed = _parse(page)
    # the histogram, the failing checks, the pass rate per check, the mistakes of dE_dW2
    assert "style" in parsed.tags and parsed.tags.count("svg") == 4
    assert "default-src 'none'" in page
    text = " ".join(parsed.text)
    assert "Histogram of total scores" in text and "Which checks failed most" in text
    assert "dE_dW2: failed in 1 of 3 submission(s)" in text and "not graded: failed in 1 of 3" in text
    assert "What the class got wrong" in text and "Mistakes in dE_dW2" in text
    pages = [
        "submissions/alice_hw.py.html",
        "submissions/HYPERLINK_x_bob.ipynb.html",
        "submissions/carol.py.html",
    ]
    assert page_names(synthetic) == pages
    assert parsed.links == ["submissions/alice_hw.py.html", *pages]  # sign-flip's, then every submission's


def test_the_html_escapes_what_a_submission_prints(synthetic: dict[str, Any]) -> None:
    page = html_submission(synthetic["submissions"][0], synthetic)
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "wrong &lt;&amp;&gt;" in page


def test_a_wrong_gradient_page_has_a_heat_map_of_its_per_entry_error(synthetic: dict[str, Any]) -> None:
    page = html_submission(synthetic["submissions"][0], synthetic)
    parsed = _parse(page)
    assert parsed.tags.count("svg") == 1
    assert "[0, 0] abs error 0.24" in page and "[2, 0] not finite" in page
    assert "Likely mistake" in page and "dE_dW2 has the opposite sign" in page


def test_a_heat_map_shades_entries_by_their_share_of_the_largest_error() -> None:
    svg = heatmap_svg([[0.0, 1.0], [0.5, None]], "t")
    cells = re.findall(r'fill="([^"]+)"><title>\[(\d), (\d)\]', svg)
    colors = {(int(i), int(j)): c for c, i, j in cells}
    assert colors[(0, 0)] == "rgb(255,255,255)" and colors[(1, 1)] == "#000"
    assert colors[(0, 1)] != colors[(1, 0)] != colors[(0, 0)]
    ET.fromstring(svg)  # well-formed SVG


def test_histogram_bins_count_every_total_once() -> None:
    assert histogram_bins([0, 7, 7, 10, 9.5], 10) == [
        (float(i), float(i), {0: 1, 7: 2, 9: 1, 10: 1}.get(i, 0)) for i in range(11)
    ]
    bins = histogram_bins([0.0, 12.5, 25.0, 24.9], 25.0)
    assert len(bins) == 10 and sum(c for _, _, c in bins) == 4


def test_the_extra_formats_are_written_by_write_reports(tmp_path: Path, synthetic: dict[str, Any]) -> None:
    written = write_reports(tmp_path, synthetic, ("json", "md", "html", "junit", "csv"))
    names = sorted(str(p.relative_to(tmp_path)) for p in written)
    assert "junit.xml" in names and "grades.csv" in names and "index.html" in names
    assert "submissions/alice_hw.py.html" in names and "submissions/alice_hw.py.md" in names


# ---------------------------------------------------------------- a real batch


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from harness.cli import main

    out = tmp_path_factory.mktemp("reports")
    result = CliRunner().invoke(
        main,
        [
            "grade",
            "-q",
            *(str(SUBMISSIONS / f) for f in GRADED),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--format",
            "json,md,html,junit,csv",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_a_real_batch_writes_every_format(graded: Path) -> None:
    for name in ("report.json", "summary.md", "junit.xml", "grades.csv", "index.html"):
        assert (graded / name).is_file(), name
    report = json.loads((graded / "report.json").read_text())
    pages = page_names(report)
    assert len(set(pages)) == len(report["submissions"])
    for page in pages:
        assert (graded / page).is_file()


def test_a_real_batch_junit_and_csv_agree_with_report_json(graded: Path) -> None:
    report = json.loads((graded / "report.json").read_text())
    root = ET.parse(graded / "junit.xml").getroot()
    rows = list(csv.DictReader((graded / "grades.csv").open(newline="")))
    for verdict, suite, row in zip(report["submissions"], root.findall("testsuite"), rows, strict=True):
        assert suite.get("name") == row["submission"] == verdict["submission"]
        assert float(row["total"]) == verdict["score"]
        bad = [c["name"] for c in verdict["checks"] if c["status"] != "pass"]
        failing = [c.get("name") for c in suite.findall("testcase") if len(c)]
        assert failing == (bad or (["grade"] if verdict["status"] == "error" else []))
    assert [r["dE_dW2"] for r in rows] == ["3", "0", ""]


def test_the_report_formats_do_not_depend_on_live_objects(graded: Path) -> None:
    report = json.loads((graded / "report.json").read_text())
    again = copy.deepcopy(report)
    assert junit_xml(again) == (graded / "junit.xml").read_bytes().decode()
    assert grades_csv(again) == (graded / "grades.csv").read_bytes().decode()
    assert html_index(again) == (graded / "index.html").read_bytes().decode()


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _chromium_run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    browser = _chromium()
    assert browser is not None
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1100,1400",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _console(stderr: str) -> list[str]:
    """Console messages (errors, CSP refusals, failed loads) in Chromium's log."""
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line or "net::ERR" in line
    ]


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install -y chromium)")
def test_chromium_loads_the_index_and_a_submission_page_without_console_errors(graded: Path, tmp_path: Path) -> None:
    report = json.loads((graded / "report.json").read_text())
    failing = graded / page_names(report)[1]
    control = tmp_path / "control.html"  # the console check can fail: a page that fetches is caught
    control.write_text(html_index({**report, "assignment": "x"}).replace("<body>", '<body><img src="http://h/x.png">'))
    assert _console(_chromium_run(control, tmp_path / "profile-control", "--dump-dom").stderr)
    doms = {}
    for page in (graded / "index.html", failing):
        dom = _chromium_run(page, tmp_path / f"profile-{page.stem}", "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert _console(dom.stderr) == []
        assert "<svg" in dom.stdout and "</html>" in dom.stdout
        doms[page] = dom.stdout
    assert (
        "bug_sign_flip_dW2.py" in doms[graded / "index.html"]
        and "Checks that failed most" in doms[graded / "index.html"]
    )
    assert "dE_dW2 has the opposite sign" in doms[failing]
    shot = tmp_path / "page.png"
    taken = _chromium_run(failing, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_every_bundled_submission_renders_in_every_format_and_reads_back(
    bundled: dict[str, Any], tmp_path: Path
) -> None:
    """The whole example batch (the session's shared grading): every verdict shape through every consumer."""
    report = bundled["report"]
    write_reports(tmp_path, report, ALL_FORMATS)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert len(root.findall("testsuite")) == len(report["submissions"])
    assert int(root.get("tests") or 0) == sum(
        len(v["checks"]) + (v["status"] == "error") for v in report["submissions"]
    )
    rows = list(csv.DictReader((tmp_path / "grades.csv").open(newline="")))
    assert [float(r["total"]) for r in rows] == [v["score"] for v in report["submissions"]]
    pages = [tmp_path / "index.html"] + [tmp_path / page for page in page_names(report)]
    for page in pages:
        _parse(page.read_text())
    heat = sum("per entry" in p.read_text() for p in pages[1:])
    wrong = sum(any(c["status"] != "pass" and c.get("errors") for c in v["checks"]) for v in report["submissions"])
    assert heat == wrong > 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: (
        st.lists(inner)
        | st.tuples(inner, inner)
        | st.dictionaries(
            st.text() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.booleans() | st.none(),
            inner,
        )
    ),
    max_leaves=40,
)


@given(st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6), st.integers(0, 6), JSON_VALUES)
def test_a_verdicts_report_json_line_is_its_journal_line_without_its_seconds_wherever_they_are(
    rest: dict[str, Any], at: int, nested: Any
) -> None:
    from harness.batch.journal import canonical_line

    rest, nested = json.loads(json.dumps(rest)), json.loads(json.dumps(nested))  # as a journal gives data back
    rest.pop("duration_s", None)
    items = [("submission", "s.py"), *rest.items(), ("inner", {"duration_s": nested})]
    seconds = ("duration_s", 0.125)
    for place in (min(at, len(items)), len(items)):  # somewhere, and last (as Verdict.to_data puts them)
        data = dict([*items[:place], seconds, *items[place:]])
        without = {k: v for k, v in data.items() if k != "duration_s"}
        line = canonical_line(data)  # type: ignore[arg-type]
        assert json_file.timeless_text(line) == json_file.verdict_text(without)  # type: ignore[arg-type]
        assert json.loads(json_file.timeless_text(line)) == json.loads(json.dumps(without))


def test_report_json_is_indented_down_to_its_verdicts_and_holds_each_on_one_line(graded: Path) -> None:
    text = (graded / "report.json").read_text(encoding="utf-8")
    report = json.loads(text)
    assert report["submissions"]
    lines = text.splitlines()
    start = lines.index('  "submissions": [')
    rows = lines[start + 1 : start + 1 + len(report["submissions"])]
    assert [json.loads(r.strip().rstrip(",")) for r in rows] == report["submissions"]
    assert all(r.startswith('    {"submission": ') for r in rows)
    assert lines[start + 1 + len(report["submissions"])] == "  ],"
    assert json_file.report_json(report) == text
    others = {k: v for k, v in report.items() if k != "submissions"}
    assert json.loads(json_file.report_json({**report, "submissions": []})) == {**others, "submissions": []}


def test_report_json_refuses_what_json_refuses() -> None:
    report = {"tool": "gradproof", "submissions": [{"submission": "a", "score": float("nan")}]}
    with pytest.raises(ValueError):
        json_file.report_json(report)  # type: ignore[arg-type]
