"""Stage 5, report: JSON written atomically, Markdown and terminal lines built from the data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UsageError
from harness.report import parse_formats, write_reports
from harness.report.data import report_data
from harness.report.files import write_atomic
from harness.report.markdown import markdown
from harness.report.text import summary_line


def check(
    name: str, status: str, score: float, max_score: float, diagnosis: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "score": score,
        "max_score": max_score,
        "message": f"{name} says {status}",
        "max_abs_error": 0.5 if status == "fail" else 0.0,
        "max_rel_error": 1.0 if status == "fail" else 0.0,
        "diagnosis": diagnosis,
        "tolerance": "rtol=0.0001, atol=1e-06",
        "notes": [],
        "worst": [{"index": [0, 0], "submitted": -0.1, "expected": 0.1, "abs_error": 0.2, "rel_error": 2.0}]
        if status == "fail"
        else [],
        "counterexample": None,
        "errors": None,
    }


def verdict(**changes: Any) -> dict[str, Any]:
    base = {
        "submission": "subs/a.py",
        "status": "graded",
        "error": None,
        "score": 7.0,
        "max_score": 10.0,
        "isolation": "bubblewrap",
        "duration_s": 0.1,
        "style": "script",
        "digest": "d",
        "seed": 1,
        "notes": [],
        "stdout": "",
        "stderr": "",
        "checks": [
            check("forward", "pass", 2, 2),
            check("dE_dW2", "fail", 0, 3, {"id": "sign-flip", "message": "flip it"}),
            check("dE_dW1", "pass", 3, 3),
            check("loss", "pass", 1, 1),
            check("update", "pass", 1, 1),
        ],
    }
    base.update(changes)
    return base


def test_the_terminal_line_names_the_failing_check_and_its_diagnosis() -> None:
    assert summary_line(verdict()) == "FAIL       7/10  subs/a.py: dE_dW2 fail (sign-flip)"


def test_the_terminal_line_of_a_full_score_is_a_pass() -> None:
    checks = [check("forward", "pass", 2, 2)]
    assert summary_line(verdict(checks=checks, score=10.0)) == "PASS      10/10  subs/a.py"


def test_the_terminal_line_of_an_ungradable_submission_says_why() -> None:
    line = summary_line(verdict(status="error", error="cannot load the submission: binary", score=0.0, checks=[]))
    assert line == "ERROR      0/10  subs/a.py: cannot load the submission: binary"


def test_the_markdown_page_shows_each_check_the_diagnosis_and_the_worst_entries() -> None:
    page = markdown(verdict(stdout="hello"), report_data([], "mlp-4-3-1"))
    assert "Score: **7 / 10**" in page
    assert "## dE_dW2: fail" in page and "**Likely mistake** (`sign-flip`): flip it" in page
    assert "| [0, 0] | -0.1 | 0.1 | 0.2 |" in page
    assert "hello" in page and "Isolation: bubblewrap" in page


def test_the_markdown_page_of_an_ungradable_submission_says_it_was_not_graded() -> None:
    page = markdown(verdict(status="error", error="the notebook is not valid JSON", checks=[]), report_data([], "x"))
    assert "**Not graded:** the notebook is not valid JSON" in page


def test_reports_are_written_from_the_data_and_read_back(tmp_path: Path) -> None:
    data = report_data([verdict(), verdict(submission="subs/b.ipynb")], "mlp-4-3-1")
    written = write_reports(tmp_path, data, ("json", "md"))
    assert json.loads((tmp_path / "report.json").read_text()) == data
    assert {p.name for p in written} == {"report.json", "a.py.md", "b.ipynb.md", "summary.md"}


def test_an_atomic_write_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    write_atomic(tmp_path / "r.json", "{}")
    write_atomic(tmp_path / "r.json", "[]")
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"] and (tmp_path / "r.json").read_text() == "[]"


def test_json_is_always_among_the_formats() -> None:
    assert parse_formats("md") == ("json", "md")


def test_an_unknown_format_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match="format='pdf'"):
        parse_formats("json,pdf")


def test_a_check_as_text_has_its_message_mistake_and_worst_entries() -> None:
    from harness.report.text import check_details

    failing = check("dE_dW2", "fail", 0, 3, {"id": "sign-flip", "message": "flip it"})
    assert check_details(failing).splitlines() == [
        "dE_dW2 says fail",
        "Likely mistake (sign-flip): flip it",
        "  entry [0, 0]: yours -0.1, expected 0.1, abs error 0.2",
        "Tolerance: rtol=0.0001, atol=1e-06",
    ]
    assert check_details(failing, diagnosis_id=False, tolerance=False).splitlines()[1] == "Likely mistake: flip it"
    assert check_details(check("loss", "pass", 1, 1), tolerance=False) == "loss says pass"


def _streamed_and_whole(tmp_path: Path, verdicts: list[dict[str, Any]], early: bool = False) -> tuple[Path, Path]:
    """The same verdicts written whole (write_reports) and one at a time from a journal; ``early``:
    the md pages written as the verdicts arrive (last first), as ``gradproof grade`` does."""
    from harness.batch import Graded
    from harness.batch.journal import Journal, canonical_line
    from harness.course.gradebook import split_timings
    from harness.report import Pages, write_reports_streamed

    journal_dir, whole, streamed = tmp_path / "journal", tmp_path / "whole", tmp_path / "streamed"
    for folder in (journal_dir, whole, streamed):
        folder.mkdir()
    journal = Journal(journal_dir)
    places = journal.append_lines([canonical_line(v) for v in verdicts])  # type: ignore[arg-type]
    graded = Graded(len(verdicts), journal)
    for i, (offset, length) in enumerate(places):
        graded.add(i, journal.read_at(offset, length), (offset, length) if i % 3 else None)  # some kept
    read_back = list(graded)
    data = report_data(read_back, "mlp-4-3-1", {"float32": "rtol"}, {"dE_dW1": "hidden"})  # type: ignore[arg-type]
    data["submissions"], _ = split_timings(read_back)
    write_reports(whole, data, ("json", "md"))
    slims = graded.slims()
    data = report_data(slims, "mlp-4-3-1", {"float32": "rtol"}, {"dE_dW1": "hidden"})
    data["submissions"], _ = split_timings(slims)
    pages = None
    if early:
        head = report_data([], "mlp-4-3-1", {"float32": "rtol"}, {"dE_dW1": "hidden"})
        pages = Pages(streamed, [str(v["submission"]) for v in verdicts], head)
        for v in reversed(read_back[1:]):  # the first one's page is left to the end
            pages.add(v)
    write_reports_streamed(streamed, data, graded.lines, ("json", "md"), pages=pages)
    graded.close()
    return whole, streamed


def test_reports_written_one_verdict_at_a_time_are_the_same_bytes_as_written_whole(tmp_path: Path) -> None:
    verdicts = [
        verdict(submission=f"subs/{name}", score=float(i), flags=[{"id": "autograd", "message": "m", "evidence": []}])
        for i, name in enumerate(["a.py", "b.ipynb", "ä ö.py", "x\udcff.py", 'weird "quote".py', "e.py"])
    ]
    verdicts.append(verdict(submission="subs/broken.py", status="error", error="cannot load", checks=[]))
    whole, streamed = _streamed_and_whole(tmp_path, verdicts)
    names = sorted(str(p.relative_to(whole)) for p in whole.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(streamed)) for p in streamed.rglob("*") if p.is_file())
    assert len(names) == len(verdicts) + 2  # report.json, summary.md, a page each
    for name in names:
        assert (whole / name).read_bytes() == (streamed / name).read_bytes(), name


@pytest.mark.parametrize("early", [False, True], ids=["pages-at-the-end", "pages-as-verdicts-arrive"])
def test_reports_streamed_are_the_same_bytes_however_the_md_pages_are_written(tmp_path: Path, early: bool) -> None:
    verdicts = [verdict(submission=f"subs/{name}", score=len(name)) for name in ["a.py", "b.py", "a.py"]]
    verdicts.append(verdict(submission="subs/x\udcff.py", stdout="out \ud83d\ude00 \udcff"))
    seconds_last = {k: v for k, v in verdict(submission="subs/c.py").items() if k != "duration_s"}
    verdicts.append({**seconds_last, "duration_s": 0.25})  # as Verdict.to_data orders it
    whole, streamed = _streamed_and_whole(tmp_path, verdicts, early=early)
    names = sorted(str(p.relative_to(whole)) for p in whole.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(streamed)) for p in streamed.rglob("*") if p.is_file())
    assert len(names) == len(verdicts) + 2
    for name in names:
        assert (whole / name).read_bytes() == (streamed / name).read_bytes(), name


def test_pages_made_for_other_submissions_are_refused(tmp_path: Path) -> None:
    from harness.report import Pages, write_reports_streamed

    data = report_data([verdict(submission="a.py")], "mlp-4-3-1", {}, {})  # type: ignore[list-item]
    pages = Pages(tmp_path, ["b.py"], data)
    with pytest.raises(UsageError, match="pages="):
        write_reports_streamed(tmp_path, data, lambda: iter([]), ("json", "md"), pages=pages)


def test_a_report_of_no_verdicts_streamed_is_the_same_bytes(tmp_path: Path) -> None:
    whole, streamed = _streamed_and_whole(tmp_path, [])
    assert (whole / "report.json").read_bytes() == (streamed / "report.json").read_bytes()
