"""A course's gradebook: the roster, Canvas's import CSV, late work, and report.json that re-grades
to the same bytes."""

from __future__ import annotations

import csv
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli import main
from harness.course.late import days_late, gradescope_late, parse_policy
from harness.course.roster import load_roster
from harness.errors import UsageError
from harness.report.canvas import HEADER, POINTS_POSSIBLE

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"
ROSTER = """submission,student_id,name,section,sis_user_id,sis_login_id,due,submitted
alice/correct_script.py,101,"Smith, Alice",A,S1,alice,2026-03-01T23:59:00Z,2026-03-01T12:00:00Z
bob,102,=HYPERLINK("http://x"),B,S2,bob,2026-03-01T23:59:00Z,2026-03-03T08:00:00Z
dora.py,104,"Explorer, Dora",@A,,,2026-03-01T23:59:00Z,
ghost.py,103,"Ghost, Casper",A,,,,
"""
WHEN = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc).timestamp()  # dora: 3 days late


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A class folder (alice/, bob/ holding a file, dora.py, and stray.py no roster row names),
    graded twice into two folders with the roster, Canvas and a late policy."""
    base = tmp_path_factory.mktemp("course")
    folder = base / "class"
    for name, source in [
        ("alice/correct_script.py", "correct_script.py"),
        ("bob/hw.py", "bug_loss_abs.py"),
        ("dora.py", "correct_script.py"),
        ("stray.py", "bug_loss_abs.py"),
    ]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SUBMISSIONS / source, folder / name)
        os.utime(folder / name, (WHEN, WHEN))
    roster = base / "roster.csv"
    roster.write_text(ROSTER)
    outs: dict[str, Path] = {"folder": folder, "roster": roster}
    for run in ("first", "second"):
        out = base / run
        result = _run(
            "grade", str(folder), "--out", str(out), "--jobs", "1", "--format", "canvas,md",
            "--roster", str(roster), "--canvas-assignment", "Backprop (1234)", "--late-policy", "percent:25",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outs[run] = out
        outs[f"{run}_output"] = result.output  # type: ignore[assignment]
    return outs


def test_regrading_the_same_folder_writes_the_same_report_json_bytes(course: dict[str, Path]) -> None:
    first, second = course["first"], course["second"]
    assert (first / "report.json").read_bytes() == (second / "report.json").read_bytes()
    assert (first / "canvas.csv").read_bytes() == (second / "canvas.csv").read_bytes()
    report = json.loads((first / "report.json").read_text())
    assert all("duration_s" not in v for v in report["submissions"])
    timings = json.loads((first / "timings.json").read_text())["submissions"]
    assert [t["submission"] for t in timings] == [v["submission"] for v in report["submissions"]]
    assert all(isinstance(t["duration_s"], float) and t["duration_s"] > 0 for t in timings)


def test_the_canvas_csv_follows_canvas_import_rules(course: dict[str, Path]) -> None:
    with (course["first"] / "canvas.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, points, *students = rows
    assert header == [*HEADER, "Backprop (1234)"]  # names and order; the id in parentheses
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert points[0].strip() == "Points Possible" and points[0] == POINTS_POSSIBLE
    assert points[1:5] == ["", "", "", ""] and float(points[5]) == 10.0
    assert all(len(row) == len(header) for row in rows)
    by_id = {row[1]: row for row in students}
    assert len(by_id) == len(students)  # one row per student
    assert set(by_id) == {"101", "102", "103", "104"}
    assert by_id["101"] == ["Smith, Alice", "101", "S1", "alice", "A", "10"]  # on time
    assert float(by_id["102"][5]) == pytest.approx(9 * 0.5)  # 2 days late at 25%/day (roster's submitted)
    assert float(by_id["104"][5]) == pytest.approx(10 * 0.25)  # 3 days late by its file's time
    assert by_id["103"][5] == ""  # on the roster, no submission: empty, which Canvas leaves unchanged
    for row in students:
        if row[5]:
            float(row[5])  # a plain number
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@") and "\n" not in cell  # formula-safe
    assert by_id["102"][0].startswith("'=") and by_id["104"][4] == "'@A"


def test_unmatched_submissions_are_named_never_dropped(course: dict[str, Path]) -> None:
    report = json.loads((course["first"] / "report.json").read_text())
    stray = str(course["folder"] / "stray.py")
    assert report["roster"]["unmatched"] == [stray]
    assert [s["student_id"] for s in report["roster"]["absent"]] == ["103"]
    assert report["roster"]["canvas_assignment"] == "Backprop (1234)"
    assert f"warning: 1 submissions have no roster row (not in the gradebook): {stray}" in str(course["first_output"])
    by_name = {Path(v["submission"]).name: v for v in report["submissions"]}
    assert "student" not in by_name["stray.py"]
    assert by_name["hw.py"]["student"]["student_id"] == "102"  # bob's folder names the file in it


def test_late_work_is_recorded_per_submission_and_shown_on_its_page(course: dict[str, Path]) -> None:
    report = json.loads((course["first"] / "report.json").read_text())
    by_name = {Path(v["submission"]).name: v for v in report["submissions"]}
    late = by_name["dora.py"]["late"]
    assert late == {
        "days": 3,
        "policy": "percent:25",
        "penalty": 0.75,
        "score_before": 10.0,
        "due": "2026-03-01T23:59:00+00:00",
        "submitted": "2026-03-04T12:00:00+00:00",
        "source": "mtime",
    }
    assert by_name["dora.py"]["score"] == 2.5
    assert by_name["correct_script.py"]["late"]["days"] == 0 and by_name["correct_script.py"]["score"] == 10.0
    assert "late" not in by_name["stray.py"]
    page = (course["first"] / "submissions" / "dora.py.md").read_text()
    assert "late: 3 days after 2026-03-01T23:59:00+00:00" in page


def test_the_penalty_is_per_day_and_capped() -> None:
    policy = parse_policy("percent:40")
    assert [policy.penalty(d) for d in (0, 1, 2, 3)] == [0.0, 0.4, 0.8, 1.0]
    assert parse_policy("zero").penalty(1) == 1.0 and parse_policy("none").penalty(9) == 0.0
    due = datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert days_late(due, due) == 0
    assert days_late(due, datetime(2026, 3, 1, 0, 0, 1, tzinfo=timezone.utc)) == 1
    assert days_late(due, datetime(2026, 3, 2, 0, 0, 1, tzinfo=timezone.utc)) == 2
    for bad in ("percent:0", "percent:101", "half", "percent:x"):
        with pytest.raises(UsageError, match="late_policy="):
            parse_policy(bad)


def test_gradescope_submission_metadata_gives_the_lateness() -> None:
    metadata = {
        "created_at": "2018-07-02T01:22:32.365935-07:00",
        "assignment": {"due_date": "2018-07-01T23:00:00.000000-07:00", "late_due_date": None},
    }
    late = gradescope_late(metadata, parse_policy("percent:10"), 8.0)
    assert late is not None and late["days"] == 1 and late["penalty"] == pytest.approx(0.1)
    assert late["source"] == "gradescope" and late["due"] == "2018-07-02T06:00:00+00:00"
    assert gradescope_late({"created_at": "2018-07-02T00:00:00Z"}, parse_policy("zero"), 1.0) is None


@pytest.mark.parametrize(
    ("roster", "args", "message"),
    [
        (None, ["--roster", "MISSING"], "roster='MISSING': no such file"),
        ("submission,name,section\na.py,A,B\n", [], "has no column student_id"),
        ("submission,student_id,name,section\na.py,1,A,B\n./a.py,2,C,D\n", [], "submission='a.py' is named twice"),
        ("submission,student_id,name,section\na.py,1,A,B\nb.py,1,C,D\n", [], "student_id='1' is on line 2 too"),
        ("submission,student_id,name,section\n*.py,1,A,B\n", [], "is a pattern"),
        ("submission,student_id,name,section,due\na.py,1,A,B,soon\n", [], "expected an ISO 8601"),
        ("submission,student_id,name,section\na.py,1,A,B\n", ["--format", "canvas"], "needs --canvas-assignment"),
        (None, ["--late-policy", "zero"], "needs --roster"),
        ("submission,student_id,name,section\na.py,1,A,B\n", ["--late-policy", "zero"], "has no due dates"),
        (None, ["--canvas-assignment", "Backprop"], "canvas_assignment='Backprop'"),
    ],
)
def test_gradebook_options_are_checked_up_front_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, roster: str | None, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if roster is not None:
        Path("roster.csv").write_text(roster)
        args = ["--roster", "roster.csv", *args]
    result = _run("grade", str(SUBMISSIONS / "correct_script.py"), "--out", "out", *args)
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and message in error[0], result.output
    assert not Path("out").exists()  # nothing graded


def test_a_roster_names_folders_and_files_relative_to_the_graded_folder(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("submission,student_id,name,section\nalice,1,A,X\nbob/hw.ipynb,2,B,Y\n")
    roster = load_roster(tmp_path / "r.csv")
    assert roster.match("alice/hw.py") is not None and roster.match("alice/deep/x.py") is not None
    assert roster.match("bob/hw.ipynb") is not None and roster.match("bob/other.py") is None
    assert roster.match("alice2/hw.py") is None and roster.match("Alice/hw.py") is None


def test_gradescope_run_takes_the_late_penalty_off_the_score(tmp_path: Path) -> None:
    from harness.course import gradescope

    (tmp_path / "submission").mkdir()
    shutil.copyfile(SUBMISSIONS / "correct_script.py", tmp_path / "submission" / "hw.py")
    metadata = {"created_at": "2026-03-02T10:00:00Z", "assignment": {"due_date": "2026-03-01T23:59:00Z"}}
    (tmp_path / "submission_metadata.json").write_text(json.dumps(metadata))
    data = gradescope.run(tmp_path, late_policy="percent:30")
    assert sum(t["score"] for t in data["tests"]) == 10.0  # the tests keep their points
    assert data["score"] == 7.0
    assert "Late: 1 day after 2026-03-01T23:59:00+00:00" in data["output"]
    assert json.loads((tmp_path / "results" / "results.json").read_text())["score"] == 7.0
    assert gradescope.validate_results(data) == []


def test_gradescope_build_passes_the_late_policy_to_run_autograder(tmp_path: Path) -> None:
    import zipfile

    result = _run("gradescope", "build", "-o", str(tmp_path / "a.zip"), "--late-policy", "percent:10")
    assert result.exit_code == 0, result.output
    script = zipfile.ZipFile(tmp_path / "a.zip").read("run_autograder").decode()
    assert script.rstrip().endswith('--spec "$ROOT/source/spec.toml" --late-policy percent:10')
    assert _run("gradescope", "build", "-o", str(tmp_path / "b.zip"), "--late-policy", "late").exit_code == 2
