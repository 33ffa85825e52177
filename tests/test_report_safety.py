"""Reports that cannot be broken or forged, and one student who cannot break the batch for everyone.

Each attack is one submission in a batch next to an honest one (the bundled
``correct_script.py``): a lone surrogate in an exception message, a file name
that is not UTF-8, HTML and a code fence in what it prints and raises, a
newline in its name that forges a terminal line, terminal escape sequences in
its name and output, two names that once shared a page, a name a spreadsheet
would run.  The batch ends in a verdict for each, full marks for the honest
file, every format written and exit 0; then each format is read back by a
consumer: Markdown by a CommonMark-ish reader, JUnit by ``xml.etree``, CSV by
``csv``, HTML by ``html.parser`` (and headless Chromium where installed), the
terminal output as pinned lines.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from harness.batch.journal import JOURNAL, Journal, canonical, canonical_line
from harness.cli import main
from harness.records.report import valid_data, valid_text
from harness.report import ALL_FORMATS, write_reports
from harness.report.escape import csv_cell, md_code, md_fence, md_text, terminal, visible
from harness.report.files import page_stems
from harness.report.html_pages import page_names

ROOT = Path(__file__).resolve().parent.parent
HONEST = (ROOT / "submissions" / "correct_script.py").read_text()
FORMATS = ",".join(ALL_FORMATS)

FORGED = "x\nPASS      10/10  victim.py"  # a folder "x\nPASS      10", a file "10  victim.py"
ESCAPES = "esc\x1b[2J\x1b]0;title\x07.py"
MARKUP_OUTPUT = (
    "<script>alert(1)</script>\n```\n<img src=x onerror=alert(2)>\n"
    "]]></system-out><evil/>\n=cmd|' /C calc'!A0\n````` still inside\n"
)
MARKUP = f"print({MARKUP_OUTPUT[:-1]!r})\nraise ValueError('<script>alert(3)</script> ``` ]]>')\n"
# (name, source); the name b"bad\xff.py" is made from bytes
SUBMISSIONS: list[tuple[str | bytes, str]] = [
    ("honest.py", HONEST),
    ("surrogate.py", 'raise ValueError("\\udcff")\n'),
    (b"bad\xff.py", HONEST),
    ("markup.py", MARKUP),
    (FORGED, HONEST),
    (ESCAPES, 'print("\\x1b[2J\\x1b]0;pwn\\x07\\x9b31m\\rPASS")\n'),
    ("alice_smith.py", "print('alice underscore')\n"),
    ("alice~smith.py", HONEST),
    ("=HYPERLINK(1).py", "print(1)\n"),
]


def _make_batch(folder: Path) -> None:
    for name, source in SUBMISSIONS:
        if isinstance(name, bytes):
            path = os.fsencode(folder) + b"/" + name  # a file name that is not UTF-8 (fine on Linux)
            with open(path, "wb") as f:
                f.write(source.encode())
            continue
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The attack batch graded once, through the CLI: its result, its folder, its report."""
    base = tmp_path_factory.mktemp("safety")
    _make_batch(base / "batch")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        result = CliRunner().invoke(main, ["grade", "batch", "--out", "out", "--jobs", "1", "--format", FORMATS])
    out = base / "out"
    report = json.loads((out / "report.json").read_text(encoding="utf-8")) if (out / "report.json").exists() else {}
    by_name = {v["submission"].removeprefix("batch/"): v for v in report.get("submissions", [])}
    return {"base": base, "result": result, "out": out, "report": report, "by_name": by_name}


def _ok(attacked: dict[str, Any]) -> Result:
    result: Result = attacked["result"]
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


# ---------------------------------------------------------------- the batch


def test_a_batch_of_attacks_next_to_an_honest_file_exits_0_and_writes_every_format(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    out = attacked["out"]
    for name in ("report.json", JOURNAL, "summary.md", "index.html", "junit.xml", "grades.csv"):
        assert (out / name).is_file(), name
    assert len(attacked["report"]["submissions"]) == len(SUBMISSIONS)


def test_the_honest_file_gets_full_marks_and_every_attacker_a_verdict(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    by_name = attacked["by_name"]
    assert sorted(by_name) == sorted(
        [
            "honest.py",
            "surrogate.py",
            "bad\\xff.py",
            "markup.py",
            FORGED,
            ESCAPES,
            "alice_smith.py",
            "alice~smith.py",
            "=HYPERLINK(1).py",
        ]
    )
    assert by_name["honest.py"]["score"] == by_name["honest.py"]["max_score"] == 10
    assert all(v["status"] == "graded" for v in by_name.values())
    assert by_name["bad\\xff.py"]["score"] == 10  # an odd name changes nothing of the grading
    assert by_name["surrogate.py"]["score"] == by_name["markup.py"]["score"] == 0


def test_the_terminal_lines_are_pinned_and_neither_forged_nor_escape_sequences(attacked: dict[str, Any]) -> None:
    output = _ok(attacked).output
    missing = "forward missing; loss missing; dE_dW2 missing; dE_dW1 missing; update missing"
    raised = "forward error; loss error; dE_dW2 error; dE_dW1 error; update error"
    assert output.splitlines() == [
        f"FAIL       0/10  batch/=HYPERLINK(1).py: {missing}",
        f"FAIL       0/10  batch/alice_smith.py: {missing}",
        "PASS      10/10  batch/alice~smith.py",
        "PASS      10/10  batch/bad\\xff.py",
        f"FAIL       0/10  batch/esc\\x1b[2J\\x1b]0;title\\x07.py: {missing}",
        "PASS      10/10  batch/honest.py",
        f"FAIL       0/10  batch/markup.py: {raised}",
        f"FAIL       0/10  batch/surrogate.py: {raised}",
        "PASS      10/10  batch/x\\nPASS      10/10  victim.py",
        "9 submissions, 9 graded, 0 not gradable; mean score 4.44; reports in out",
    ]
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", output)  # no ESC, CR, BEL, CSI: only the newlines
    assert "\nPASS      10/10  victim.py" not in output


def test_every_file_written_is_valid_utf8_and_report_json_holds_no_surrogate(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    out = attacked["out"]
    for path in out.rglob("*"):
        if path.is_file():
            path.read_bytes().decode("utf-8")  # strict
    text = (out / "report.json").read_text(encoding="utf-8")
    assert not re.search(r"\\ud[89a-f][0-9a-f]{2}", text)  # not even as a JSON escape
    for line in (out / JOURNAL).read_text(encoding="utf-8").splitlines():
        assert not re.search(r"\\ud[89a-f][0-9a-f]{2}", line)
        json.loads(line)


def test_a_surrogate_an_exception_carries_is_shown_as_an_escape(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    verdict = attacked["by_name"]["surrogate.py"]
    assert verdict["notes"] == ["the submission stopped: ValueError: \\xff (surrogate.py, line 1)"]
    page = (attacked["out"] / "submissions" / "surrogate.py.md").read_text(encoding="utf-8")
    assert "ValueError: \\\\xff (surrogate.py, line 1)" in page  # the backslash itself escaped for Markdown


def test_a_file_name_that_is_not_utf8_is_graded_and_named_with_the_byte_shown(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    out = attacked["out"]
    assert attacked["by_name"]["bad\\xff.py"]["submission"] == "batch/bad\\xff.py"
    assert "# batch/bad\\\\xff.py" in (out / "submissions" / "bad_xff.py.md").read_text(encoding="utf-8")
    assert (out / "submissions" / "bad_xff.py.html").is_file()


def test_each_submission_has_a_page_of_its_own_and_the_index_links_to_it(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    out = attacked["out"]
    report = attacked["report"]
    pages = page_names(report)
    assert len(set(pages)) == len(pages) == len(SUBMISSIONS)
    assert sorted(p.name for p in (out / "submissions").glob("*.html")) == sorted(Path(p).name for p in pages)
    assert sorted(p.name for p in (out / "submissions").glob("*.md")) == sorted(
        Path(p).with_suffix(".md").name for p in pages
    )
    links = _Html.parse((out / "index.html").read_text(encoding="utf-8")).links
    assert sorted(links) == sorted(pages)
    for verdict, page in zip(report["submissions"], pages):
        h1 = _Html.parse((out / page).read_text(encoding="utf-8")).h1
        assert h1 == visible(verdict["submission"]), page
    alice = [page for v, page in zip(report["submissions"], pages) if "alice" in v["submission"]]
    assert len(alice) == 2 and all(re.fullmatch(r"submissions/alice_smith\.py-[0-9a-f]{8}\.html", p) for p in alice)
    underscore = (out / alice[0]).read_text(encoding="utf-8")
    tilde = (out / alice[1]).read_text(encoding="utf-8")
    assert "alice underscore" in underscore and "alice underscore" not in tilde


def test_the_same_batch_gives_the_same_page_names(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    report = attacked["report"]
    assert page_names(report) == page_names(json.loads(json.dumps(report)))


# ---------------------------------------------------------------- Markdown, read as CommonMark


_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def _markdown(page: str) -> tuple[list[str], list[list[str]]]:
    """A CommonMark-ish reading of a page: its lines outside fenced code, and each fenced block's
    lines.  Fails where a fence is left open."""
    outside: list[str] = []
    blocks: list[list[str]] = []
    fence: str | None = None
    for line in page.split("\n"):
        if fence is None:
            m = _FENCE_OPEN.match(line)
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                fence = m.group(1)
                blocks.append([])
            else:
                outside.append(line)
        elif re.fullmatch(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}} *", line):
            fence = None
        else:
            blocks[-1].append(line)
    assert fence is None, "a fence is never closed"
    return outside, blocks


def _without_code_spans(line: str) -> str:
    return re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", line)


def _raw_html(lines: list[str]) -> list[str]:
    """Lines with raw HTML (or an autolink): a ``<`` outside code, not backslash-escaped."""
    return [line for line in lines if re.search(r"(?<!\\)<", _without_code_spans(line))]


def test_no_markdown_page_holds_raw_html_and_every_fence_closes(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    pages = [*(attacked["out"] / "submissions").glob("*.md"), attacked["out"] / "summary.md"]
    assert len(pages) == len(SUBMISSIONS) + 1
    for path in pages:
        outside, _ = _markdown(path.read_text(encoding="utf-8"))
        assert _raw_html(outside) == [], path.name
        assert not any("<script" in line.lower() for line in outside), path.name


def test_what_a_submission_prints_stays_inside_its_code_block(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    page = (attacked["out"] / "submissions" / "markup.py.md").read_text(encoding="utf-8")
    outside, blocks = _markdown(page)
    assert blocks == [MARKUP_OUTPUT.split("\n")]  # one block, closed right after the output
    assert page.count("``````\n") == 2  # a fence longer than the five backticks it printed
    assert outside[-3].startswith("Isolation: ")  # the page goes on after the block, as a page
    escapes = (attacked["out"] / "submissions" / "esc_2J_0_title_.py.md").read_text(encoding="utf-8")
    assert "\x1b" not in escapes and "\\x1b[2J\\x1b]0;pwn\\x07\\x9b31m\\rPASS" in _markdown(escapes)[1][0]


# ---------------------------------------------------------------- JUnit, CSV, HTML


def test_junit_parses_and_holds_no_control_character(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    raw = (attacked["out"] / "junit.xml").read_text(encoding="utf-8")
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", raw)
    root = ET.fromstring(raw.encode())
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert len(suites) == len(SUBMISSIONS)
    markup = suites["batch/markup.py"]
    assert (markup.findtext("system-out") or "") == MARKUP_OUTPUT  # ]]> and </system-out> stay text
    assert "batch/x\\nPASS      10/10  victim.py" in suites
    assert suites["batch/honest.py"].get("failures") == "0"


def test_csv_reads_back_with_no_cell_a_spreadsheet_would_run(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    with (attacked["out"] / "grades.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == len(SUBMISSIONS) + 1 and all(len(r) == len(rows[0]) for r in rows)
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
            assert not re.search("[\x00-\x1f]", cell), cell
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["batch/=HYPERLINK(1).py"][:3] == ["batch/=HYPERLINK(1).py", "'=HYPERLINK(1)", "graded"]
    assert by_name["batch/honest.py"][-2:] == ["10", "10"]


class _Html(HTMLParser):
    """Links, the first ``<h1>``'s text; fails on a tag that runs a script or reaches out."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.h1 = ""
        self._in_h1 = False

    @classmethod
    def parse(cls, page: str) -> _Html:
        parser = cls()
        parser.feed(page)
        parser.close()
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag not in ("script", "img", "iframe", "object", "link", "evil"), tag
        assert not any(name.startswith("on") for name, _ in attrs)
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith("submissions/"):
                self.links.append(href)
        self._in_h1 = tag == "h1" and not self.h1

    def handle_endtag(self, tag: str) -> None:
        self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.h1 += data


def test_html_pages_escape_everything_a_submission_said(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    out = attacked["out"]
    for path in [out / "index.html", *(out / "submissions").glob("*.html")]:
        page = path.read_text(encoding="utf-8")
        _Html.parse(page)
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", page), path.name
    markup = (out / "submissions" / "markup.py.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup and "&lt;img src=x onerror=alert(2)&gt;" in markup


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (apt-get install -y chromium)")
def test_chromium_renders_the_attackers_page_with_no_script_and_no_console_message(
    attacked: dict[str, Any], tmp_path: Path
) -> None:
    _ok(attacked)
    browser = _chromium()
    assert browser is not None
    page = attacked["out"] / "submissions" / "markup.py.html"
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.as_uri(),
    ]
    shown = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "<script" not in shown.stdout and "<img" not in shown.stdout and "</html>" in shown.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.stdout
    assert [line for line in shown.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line] == []


# ---------------------------------------------------------------- modes, resume


def test_every_report_file_and_the_journal_is_its_owners_alone(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    out = attacked["out"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == 8 + 4 * len(
        SUBMISSIONS
    )  # 6 formats' files, journal, timings; 2 pages, a classroom file, a notebook each
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    for folder in (out, out / "submissions", out / "classroom"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder.name


def test_a_resumed_attack_batch_grades_nothing_again_and_writes_the_same_pages(attacked: dict[str, Any]) -> None:
    _ok(attacked)
    base, out = attacked["base"], attacked["out"]
    journal = (out / JOURNAL).read_text(encoding="utf-8")
    before = {p.name: p.read_bytes() for p in (out / "submissions").iterdir()}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        again = CliRunner().invoke(main, ["grade", "batch", "--out", "out", "--resume", "--format", FORMATS, "-q"])
    assert again.exit_code == 0, again.output
    assert again.output == "9 submissions, 9 graded, 0 not gradable; mean score 4.44; reports in out\n"
    assert (out / JOURNAL).read_text(encoding="utf-8") == journal  # the name not UTF-8 included
    after = {p.name: p.read_bytes() for p in (out / "submissions").iterdir()}
    assert sorted(after) == sorted(before)


# ---------------------------------------------------------------- unit: no grading


def _hostile_verdict(name: str) -> dict[str, Any]:
    text = "\udcff \ud800 <script>x</script> ``` \x1b[2J \n= ]]>"
    check = {
        "name": "dE_dW2",
        "status": "fail",
        "score": 0.0,
        "max_score": 3.0,
        "message": text,
        "max_abs_error": 1.0,
        "max_rel_error": 1.0,
        "diagnosis": {"id": text, "message": text},
        "tolerance": text,
        "notes": [text],
        "worst": [{"index": [0, 0], "submitted": 1.0, "expected": 0.0, "abs_error": 1.0, "rel_error": 1.0}],
        "counterexample": {text: text},
        "errors": [[1.0]],
    }
    return {
        "submission": name,
        "status": "graded",
        "error": text,
        "score": 0.0,
        "max_score": 3.0,
        "isolation": text,
        "duration_s": 0.1,
        "style": "script",
        "digest": "d",
        "seed": 1,
        "notes": [text],
        "stdout": text,
        "stderr": text,
        "checks": [check],
    }


def test_every_format_is_written_whatever_text_the_data_holds(tmp_path: Path) -> None:
    verdicts = [
        _hostile_verdict("a/\udcff\n.py"),
        _hostile_verdict("a/-\x1b.py"),
        {**_hostile_verdict("e"), "status": "error"},
    ]
    report = {"tool": "gradproof", "version": "1", "assignment": "\udcffhw", "tolerances": {}, "submissions": verdicts}
    written = write_reports(tmp_path, report, ALL_FORMATS)  # type: ignore[arg-type]
    assert len(written) == 6 + 4 * len(verdicts)  # 6 formats' files; 2 pages, a classroom file and a notebook each
    for path in written:
        path.read_bytes().decode("utf-8")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ET.parse(tmp_path / "junit.xml")
    assert json.loads((tmp_path / "report.json").read_text())["submissions"][0]["submission"] == "a/\\xff\n.py"


def test_valid_text_shows_a_byte_that_was_not_utf8_and_replaces_any_other_surrogate() -> None:
    assert valid_text("bad\udcff.py") == "bad\\xff.py"
    assert valid_text("\ud800x\udfff") == "\ufffdx\ufffd"
    assert valid_text("ünïcode ✓") == "ünïcode ✓"
    assert valid_data({"\udc80": ["\udc81", 1, None]}) == {"\\x80": ["\\x81", 1, None]}


def test_a_journal_line_is_valid_utf8_and_a_resume_finds_a_name_that_is_not(tmp_path: Path) -> None:
    verdict = _hostile_verdict("subs/bad\udcff.py")
    line = canonical_line(verdict)  # type: ignore[arg-type]
    line.encode("utf-8")
    assert "\\ud" not in line
    journal = Journal(tmp_path)
    journal.append(canonical(verdict))  # type: ignore[arg-type]
    assert stat.S_IMODE((tmp_path / JOURNAL).stat().st_mode) == 0o600
    done = journal.done()
    assert ("subs/bad\udcff.py", "d") in done and ("subs/bad\\xff.py", "d") in done
    assert done[("subs/bad\udcff.py", "d")]["submission"] == "subs/bad\\xff.py"
    assert ("subs/other.py", "d") not in done
    with pytest.raises(KeyError):
        done[("subs/bad\udcfe.py", "d")]


def test_page_names_are_readable_unique_and_deterministic() -> None:
    names = ["hw/alice_smith.py", "hw/alice~smith.py", "hw/Bob.py", "hw/bob.py", "hw/carol.py", "hw/carol.py"]
    stems = page_stems(names)
    assert stems == page_stems(list(names))
    assert stems[4:] == ["carol.py", "carol.py-2"]  # the same path twice still gets two pages
    assert re.fullmatch(r"alice_smith\.py-[0-9a-f]{8}", stems[0]) and stems[0] != stems[1]
    assert stems[2].lower() != stems[3].lower()  # apart on a file system that ignores case, too
    long = page_stems(["a/" + "x" * 300 + ".py"])[0]
    assert len(long) <= 100 and re.fullmatch(r"x+\.py-[0-9a-f]{8}", long)
    assert page_stems([".hidden.py", "-rf.py", "../..", "\udcff"]) == ["hidden.py", "rf.py", "submission", "xff"]
    assert page_stems(["subs/a.py", "subs/b.py"]) == ["a.py", "b.py"]  # the folder they share left out


def test_markdown_text_is_shown_never_run() -> None:
    assert md_text("<b>&</b>") == "&lt;b&gt;&amp;&lt;/b&gt;"
    assert md_text("[x](javascript:y) *a* `c` | ~s~ \\") == "\\[x\\](javascript:y) \\*a\\* \\`c\\` \\| \\~s\\~ \\\\"
    assert md_text("dE_dW2 _it_") == "dE_dW2 \\_it\\_"
    assert md_text("# h") == "\\# h" and md_text("- item") == "\\- item" and md_text("1. item") == "1\\. item"
    assert md_text("0.1.0") == "0.1.0" and md_text("    code") == "&#32;" * 4 + "code"
    assert md_text("a\nb\x1b") == "a\\\\nb\\\\x1b"
    assert md_code("a`b") == "``a`b``" and md_code("`") == "`` ` ``"
    assert md_fence("x\n`````\ny") == ["``````", "x\n`````\ny", "``````"]
    assert md_fence("plain", "json") == ["```json", "plain", "```"]


def test_a_csv_cell_never_starts_a_formula() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", " =1"):
        assert csv_cell(text).startswith("'"), text
    assert csv_cell("alice.py") == "alice.py" and csv_cell("a\nb") == "a\\nb"


def test_the_terminal_sees_every_control_character_as_an_escape() -> None:
    assert terminal("a\nb\rc\x1b[2J\x07\x9b\u202e\u2028") == "a\\nb\\rc\\x1b[2J\\x07\\x9b\\u202e\\u2028"
    assert terminal("bad\udcff ≥ é") == "bad\\xff ≥ é"
    assert visible("keep\nthis\tline", keep="\n") == "keep\nthis\\tline"


def test_a_markdown_page_of_hostile_data_holds_no_raw_html_and_closed_fences(tmp_path: Path) -> None:
    report = {"tool": "gradproof", "version": "1", "assignment": "hw", "tolerances": {}, "submissions": []}
    report["submissions"] = [_hostile_verdict("<script>.py")]
    write_reports(tmp_path, report, ("md",))  # type: ignore[arg-type]
    for path in [tmp_path / "summary.md", *(tmp_path / "submissions").glob("*.md")]:
        outside, blocks = _markdown(path.read_text(encoding="utf-8"))
        assert _raw_html(outside) == [], path.name
    page = next((tmp_path / "submissions").glob("*.md")).read_text(encoding="utf-8")
    _, blocks = _markdown(page)
    assert len(blocks) == 2  # the smallest failing input, the output: each closed where it ends


def test_csv_written_from_hostile_data_reads_back_one_row_each(tmp_path: Path) -> None:
    report = {"tool": "gradproof", "version": "1", "assignment": "hw", "tolerances": {}, "submissions": []}
    report["submissions"] = [_hostile_verdict("=cmd.py"), _hostile_verdict("a\nb.py")]
    write_reports(tmp_path, report, ("csv",))  # type: ignore[arg-type]
    rows = list(csv.reader(io.StringIO((tmp_path / "grades.csv").read_text(encoding="utf-8"))))
    assert [r[0] for r in rows] == ["submission", "'=cmd.py", "a\\nb.py"]
