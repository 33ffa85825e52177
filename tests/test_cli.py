"""The command line, through click's CliRunner, with its output pinned."""

from __future__ import annotations

import csv
import grp
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness.cli import main
from harness.spec import default_spec_text

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def in_checkout(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


def test_help_lists_every_command() -> None:
    result = _run("--help")
    assert result.exit_code == 0
    commands = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert commands == ["assignment", "grade", "gradescope", "merge", "reference", "selftest", "spec"]


def a_group_of_mine() -> grp.struct_group:
    """A group the reports may be given to: one other than the user's own where they may (root)."""
    if os.geteuid() == 0:
        others = [g for g in grp.getgrall() if g.gr_gid != os.getegid()]
        if others:
            return others[0]
    return grp.getgrgid(os.getegid())


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("cli") / "out"
    spec = out.parent / "spec.toml"
    spec.write_text('[assignment]\nname = "hw1"\n[checks.dE_dW2]\npoints = 5\n')
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        result = _run(
            "grade",
            "submissions/bug_sign_flip_dW2.py",
            "submissions/broken_invalid_notebook.ipynb",
            "--out",
            str(out),
            "--spec",
            str(spec),
            "--jobs",
            "1",
            "--format",
            "csv,junit",
            "--group",
            a_group_of_mine().gr_name,
        )
    return result, out


def test_grade_with_a_spec_prints_a_line_per_submission_and_a_summary(graded: tuple[Result, Path]) -> None:
    result, out = graded
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "FAIL       7/12  submissions/bug_sign_flip_dW2.py: dE_dW2 fail (scale--1)"
    assert lines[1].startswith(
        "ERROR      0/12  submissions/broken_invalid_notebook.ipynb: cannot load the submission: "
        "the notebook is not valid JSON"
    )
    assert lines[2] == (f"2 submissions, 1 graded, 1 not gradable; mean score 3.50; reports in {out}")
    assert len(lines) == 3


def test_grade_writes_the_formats_asked_for_and_json_always(graded: tuple[Result, Path]) -> None:
    _, out = graded
    assert sorted(p.name for p in out.iterdir()) == [
        "grades.csv",
        "journal.jsonl",
        "junit.xml",
        "report.json",
        "timings.json",
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["assignment"] == "hw1"
    assert [c["max_score"] for c in report["submissions"][0]["checks"] if c["name"] == "dE_dW2"] == [5.0]
    rows = list(csv.DictReader((out / "grades.csv").open(newline="")))
    assert [(r["total"], r["max_score"]) for r in rows] == [("7", "12"), ("0", "12")]


def test_grade_with_a_group_gives_it_the_reports_and_the_journal_readable(graded: tuple[Result, Path]) -> None:
    _, out = graded
    group = a_group_of_mine()
    for path in out.iterdir():
        assert path.is_file()
        assert (stat.S_IMODE(path.stat().st_mode), path.stat().st_gid) == (0o640, group.gr_gid), path.name
    assert (stat.S_IMODE(out.stat().st_mode), out.stat().st_gid) == (0o750, group.gr_gid)


# Run in a fresh interpreter (this one has torch already): records, when the pool's workers are
# started, whether torch is imported yet and whether they will back themselves with huge pages.
_START_ORDER = """
import sys
from harness.run import pool
seen = []
spawn = pool.Pool.spawn
def spy(self):
    seen.append(("torch" in sys.modules, [w.huge_pages for w in self.workers]))
    spawn(self)
pool.Pool.spawn = spy
from harness.cli import main
main(["grade", *sys.argv[2:], "--out", sys.argv[1], "--quiet", "--jobs", "1"], standalone_mode=False)
print(seen[0])
"""


@pytest.mark.parametrize("files, huge_pages", [(1, False), (2, True)])
def test_grade_starts_its_worker_before_it_imports_torch(tmp_path: Path, files: int, huge_pages: bool) -> None:
    # One file: one warm worker without huge pages (they pay off over many forks, not three);
    # more than one: huge pages too.  Either way the worker imports torch while the grader does.
    paths = [str(ROOT / "submissions" / name) for name in ("correct_script.py", "bug_loss_abs.py")[:files]]
    done = subprocess.run(
        [sys.executable, "-c", _START_ORDER, str(tmp_path / "out"), *paths], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == repr((False, [huge_pages]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--group", "no-such-group-gradproof"],
            "Error: group='no-such-group-gradproof': no such group on this machine",
        ),
        (
            ["--format", "json,pdf"],
            "Error: format='pdf': expected a comma-separated list of json, md, html, junit, csv, classroom, canvas, notebook",
        ),
        (["--shard", "0/2"], "Error: shard='0/2': K counts from 1 and must be between 1 and 2"),
        (["--shard", "auto"], "Error: shard='auto': none of SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX is set"),
        (
            ["--spec", "missing.toml"],
            "Error: assignment='missing.toml': no such folder, file or built-in assignment "
            "(built in: backprop-drill, mlp-4-3-1, mlp-class, two-layer-softmax, word2vec-softmax)",
        ),
    ],
)
def test_grade_refuses_bad_options_with_exit_2_before_grading(
    args: list[str], message: str, tmp_path: Path, in_checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"):
        monkeypatch.delenv(name, raising=False)
    result = _run("grade", "submissions/correct_script.py", "--out", str(tmp_path / "o"), *args)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == message
    assert not (tmp_path / "o").exists()


def test_a_group_the_user_is_not_in_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    group = a_group_of_mine()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "getegid", lambda: group.gr_gid + 1)
    monkeypatch.setattr(os, "getgroups", lambda: [group.gr_gid + 1])
    result = _run("merge", str(tmp_path), "--out", str(tmp_path / "m"), "--group", group.gr_name)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        f"Error: group={group.gr_name!r}: you are not in this group, so gradproof cannot give it the reports"
    )
    assert not (tmp_path / "m").exists()


def test_an_error_naming_a_path_shows_its_control_characters_as_escapes(tmp_path: Path) -> None:
    missing = tmp_path / "no\x1b[2J\nsuch.py"
    result = _run("grade", str(missing), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: path={str(missing)!r}: no such file or folder"
    assert "\x1b" not in result.output


def test_a_bad_spec_is_one_line_and_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text("[checks.loss]\npoints = 'lots'\n")
    result = _run(
        "grade", str(ROOT / "submissions" / "correct_script.py"), "--out", str(tmp_path / "o"), "--spec", str(spec)
    )
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: {spec}: checks.loss.points='lots': must be a number ≥ 0"


def test_spec_init_writes_the_default_spec_and_will_not_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "hw.toml"
    result = _run("spec", "init", str(path))
    assert result.exit_code == 0
    assert result.output == f"wrote {path}: edit it, then use it with --spec {path}\n"
    assert path.read_text() == default_spec_text()
    again = _run("spec", "init", str(path))
    assert again.exit_code == 2
    assert again.output.splitlines()[-1] == f"Error: path={str(path)!r}: exists already (--force overwrites it)"
    assert _run("spec", "init", str(path), "--force").exit_code == 0


def test_spec_init_defaults_to_a_file_in_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run("spec", "init").exit_code == 0
    assert (tmp_path / "gradproof-spec.toml").read_text() == default_spec_text()


def test_spec_check_prints_what_a_spec_sets(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[assignment]\nname = "hw2"\n[checks.dE_dW1]\npoints = 4\nvisibility = "hidden"\n')
    result = _run("spec", "check", str(path))
    assert result.exit_code == 0
    assert result.output == (
        f"{path}: assignment hw2, sizes 4,3,1, lr 0.1, autograd report, timeout 30 s, 2 grader runs\n"
        "  forward          2 points  visible\n"
        "  loss             1 points  visible\n"
        "  dE_dW2           3 points  visible\n"
        "  dE_dW1           4 points  hidden\n"
        "  update           1 points  visible\n"
        "  sigmoid          0 points  visible\n"
        "  sigmoid_grad     0 points  visible\n"
    )


def test_selftest_exits_0_when_every_visible_check_passes(in_checkout: Path) -> None:
    result = _run("selftest", "submissions/correct_script.py")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "gradproof self-test: correct_script.py (assignment mlp-4-3-1)"
    assert result.output.splitlines()[-1] == "5 of 5 visible checks pass (10 of 10 points)."


def test_selftest_exits_1_and_explains_a_failing_check(in_checkout: Path) -> None:
    result = _run("selftest", "submissions/bug_sign_flip_dW2.py")
    assert result.exit_code == 1
    assert "  FAIL    dE_dW2   0/3" in result.output.splitlines()
    assert "Likely mistake: dE_dW2 has the opposite sign" in result.output
    assert result.output.splitlines()[-1] == "4 of 5 visible checks pass (7 of 10 points)."


def test_selftest_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = _run("selftest", str(tmp_path / "hw.py"))
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: path={str(tmp_path / 'hw.py')!r}: no such file or folder"


def test_gradescope_build_writes_the_zip_and_names_its_contents(tmp_path: Path) -> None:
    out = tmp_path / "autograder.zip"
    result = _run("gradescope", "build", "-o", str(out))
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    assert result.output == f"wrote {out}: {', '.join(names)}\n"
    assert names[:3] == ["setup.sh", "run_autograder", "spec.toml"]


def test_gradescope_run_without_a_submission_still_writes_results(tmp_path: Path) -> None:
    (tmp_path / "submission").mkdir()
    result = _run("gradescope", "run", "--root", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output == f"score 0; 0 of 5 tests passed; results in {tmp_path / 'results' / 'results.json'}\n"


def test_merge_needs_folders_and_an_output(tmp_path: Path) -> None:
    result = _run("merge", "--out", str(tmp_path / "m"))
    assert result.exit_code == 2
    assert "Missing argument 'DIRS...'" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run("merge", str(empty), "--out", str(tmp_path / "m"))
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        f"Error: dir={str(empty)!r}: holds no report.json (is it a gradproof --out folder?)"
    )


@pytest.mark.parametrize(
    "args",
    [["grade", "submissions", "--out", "OUT", "--assignment", "nosuch"], ["assignment", "check", "nosuch"]],
)
def test_an_unknown_assignment_is_one_error_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, [a.replace("OUT", str(tmp_path / "out")) for a in args])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "Error: assignment='nosuch': no such folder, file or built-in assignment (built in: backprop-drill, "
        "mlp-4-3-1, mlp-class, two-layer-softmax, word2vec-softmax)"
    ]


def test_an_out_folder_that_cannot_be_made_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    out = tmp_path / "a-file" / "reports"
    result = _run("grade", str(ROOT / "submissions" / "correct_script.py"), "--out", str(out))
    assert result.exit_code == 1
    assert result.output == f"Error: {out}: Not a directory\n"
