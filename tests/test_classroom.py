"""``--format classroom``: what GitHub Classroom's autograding reporter reads, read back the way it reads it.

The reporter (classroom-resources/autograding-grading-reporter, ``src/main.js``) takes each runner
id of its ``runners`` input, reads the environment variable ``<ID upper-cased>_RESULTS``, decodes
it from base64 as UTF-8 and parses the JSON; it fails the step where a runner's ``status`` is
``fail`` or ``error``, prints each test's ``name`` (and ``message`` where its ``status`` is not
``pass``), and tells Classroom the sum of the tests' ``score`` out of the runner's ``max_score``
(``src/notify-classroom.js``).  :func:`_reporter` does the same; where Node.js is installed, Node's
own ``Buffer`` decodes the file too.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.report import FORMATS, parse_formats, write_reports
from harness.report.classroom import HIDDEN_MESSAGE, result
from harness.report.data import report_data

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"
RUNNER = "gradproof"  # the runner id the README's workflow gives the reporter


def _check(name: str, status: str = "pass", points: float = 2.0, **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "score": points if status == "pass" else 0.0,
        "max_score": points,
        "message": f"{name} is {status}",
        "max_abs_error": None,
        "max_rel_error": None,
        "diagnosis": None,
        "tolerance": "rtol=0.0001, atol=1e-06",
        "notes": [],
        "worst": [],
        "counterexample": None,
        "errors": None,
        "runs": [],
        **kw,
    }


def _verdict(name: str, checks: list[dict[str, Any]], **kw: Any) -> Any:
    return {
        "submission": name,
        "status": "graded",
        "error": None,
        "score": sum(c["score"] for c in checks),
        "max_score": sum(c["max_score"] for c in checks),
        "isolation": "process",
        "duration_s": 1.234,
        "style": "script",
        "digest": "ab" * 32,
        "seed": 1,
        "notes": [],
        "stdout": "",
        "stderr": "",
        "checks": checks,
        "flags": [],
        **kw,
    }


SIGN = {"id": "sign-flip", "message": "dE_dW2 has the opposite sign: the secret hint"}


def _reporter(env: dict[str, str], runners: str = RUNNER) -> dict[str, Any]:
    """What the reporter makes of its environment: each runner's results, whether the step fails,
    and the points it tells Classroom."""
    results = []
    for runner in runners.split(","):
        encoded = env[f"{runner.strip().upper()}_RESULTS"]
        results.append(json.loads(base64.b64decode(encoded).decode("utf-8")))
    failed = any(r["status"] == "fail" for r in results) or any(r["status"] == "error" for r in results)
    total = sum(t["score"] for r in results if r["max_score"] for t in r["tests"])
    maximum = sum(r["max_score"] for r in results if r["max_score"])
    shown = [
        (t["name"], None if t["status"] == "pass" else t["message"] or f"Failed to run test '{t['name']}'")
        for r in results
        for t in r["tests"]
    ]
    return {"results": results, "failed": failed, "points": (total, maximum), "shown": shown}


def _files(report: Any) -> dict[str, str]:
    return dict(FORMATS["classroom"](report))


def test_classroom_is_a_format_the_cli_accepts() -> None:
    assert parse_formats("classroom") == ("json", "classroom")


def test_each_submission_gets_its_own_file_named_like_its_pages() -> None:
    report = report_data([_verdict("subs/a.py", [_check("forward")]), _verdict("subs/b c.ipynb", [])], "x")
    assert list(_files(report)) == ["classroom/a.py.b64", "classroom/b_c.ipynb.b64"]


def test_the_reporter_reads_a_passing_submission_with_each_checks_own_points() -> None:
    verdict = _verdict("hw.py", [_check("forward", points=1.0), _check("dE_dW2", points=3.0)])
    (content,) = _files(report_data([verdict], "mlp-4-3-1")).values()
    seen = _reporter({"GRADPROOF_RESULTS": content})
    assert seen["failed"] is False and seen["points"] == (4.0, 4.0)
    assert seen["results"] == [
        {
            "version": 1,
            "status": "pass",
            "max_score": 4.0,
            "tests": [
                {
                    "name": name,
                    "status": "pass",
                    "score": points,
                    "max_score": points,
                    "message": f"{name} is pass",
                    "test_code": f"gradproof check {name}",
                    "filename": "hw.py",
                    "line_no": 0,
                    "execution_time": "1.23s",
                }
                for name, points in (("forward", 1.0), ("dE_dW2", 3.0))
            ],
        }
    ]
    assert "\n" not in content and content.isascii()


def test_a_failing_check_fails_the_step_and_says_the_likely_mistake() -> None:
    checks = [_check("forward"), _check("dE_dW2", "fail", diagnosis=SIGN), _check("update", "missing")]
    (content,) = _files(report_data([_verdict("hw.py", checks)], "x")).values()
    seen = _reporter({"GRADPROOF_RESULTS": content})
    assert seen["failed"] is True and seen["points"] == (2.0, 6.0)
    assert [t["status"] for t in seen["results"][0]["tests"]] == ["pass", "fail", "fail"]
    assert seen["shown"][1] == (
        "dE_dW2",
        "dE_dW2 is fail\nLikely mistake: dE_dW2 has the opposite sign: the secret hint",
    )


def test_a_hidden_check_shows_only_that_it_exists_and_its_points() -> None:
    checks = [_check("forward"), _check("dE_dW2", "fail", diagnosis=SIGN, notes=["a note"])]
    report = report_data([_verdict("hw.py", checks)], "x", visibility={"dE_dW2": "hidden", "forward": "visible"})
    assert report["visibility"] == {"dE_dW2": "hidden"}
    (content,) = _files(report).values()
    hidden = _reporter({"GRADPROOF_RESULTS": content})["results"][0]["tests"][1]
    assert hidden == {
        "name": "dE_dW2",
        "status": "fail",
        "score": 0.0,
        "max_score": 2.0,
        "message": HIDDEN_MESSAGE,
        "test_code": "",
        "filename": "",
        "line_no": 0,
        "execution_time": "1.23s",
    }
    decoded = base64.b64decode(content).decode()
    assert "secret hint" not in decoded and "sign-flip" not in decoded and "a note" not in decoded


@pytest.mark.parametrize("seen", ["after_due_date", "after_published"])
def test_a_check_shown_only_later_is_hidden_now(seen: str) -> None:
    report = report_data([_verdict("hw.py", [_check("forward", "fail")])], "x", visibility={"forward": seen})
    assert result(report["submissions"][0], report)["tests"][0]["message"] == HIDDEN_MESSAGE


def test_a_submission_that_could_not_be_graded_errors_the_step_with_why() -> None:
    verdict: Any = {
        **_verdict("hw.ipynb", []),
        "status": "error",
        "error": "the notebook is not valid JSON",
        "max_score": 10.0,
    }
    seen = _reporter({"GRADPROOF_RESULTS": _files(report_data([verdict], "x"))["classroom/hw.ipynb.b64"]})
    assert seen["failed"] is True and seen["points"] == (0.0, 10.0)
    assert seen["results"][0]["status"] == "error"
    assert seen["shown"] == [("grade", "Your submission could not be graded: the notebook is not valid JSON")]


def test_a_check_that_raised_is_an_error() -> None:
    report = report_data([_verdict("hw.py", [_check("forward"), _check("loss", "error")])], "x")
    assert result(report["submissions"][0], report)["status"] == "error"


def test_what_a_submission_printed_or_is_named_reaches_the_reporter_as_plain_text() -> None:
    odd = _check("forward", "fail", message="wrong \x1b[2J\u202e\udcff \u00e9")
    report = report_data([_verdict("\u00e9l\u00e8ve/h\udcffw.py", [odd])], "x")
    (path, content), *_ = write_and_read(report)
    test = _reporter({"GRADPROOF_RESULTS": content})["results"][0]["tests"][0]
    assert test["message"] == "wrong \\x1b[2J\\u202e\\xff \u00e9" and test["filename"] == "h\\xffw.py"
    assert path == "classroom/h_xffw.py.b64"


def write_and_read(report: Any) -> list[tuple[str, str]]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        written = write_reports(Path(folder), report, ("classroom",))
        return [(str(p.relative_to(folder)), p.read_text()) for p in written if p.suffix == ".b64"]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_nodes_buffer_decodes_the_file_as_the_reporter_does(tmp_path: Path) -> None:
    checks = [_check("forward"), _check("dE_dW2", "fail", diagnosis=SIGN)]
    write_reports(tmp_path, report_data([_verdict("\u00e9l\u00e8ve.py", checks)], "x"), ("classroom",))
    (file,) = (tmp_path / "classroom").iterdir()
    content = file.read_text()
    script = (
        "const r = JSON.parse(Buffer.from(process.env.GRADPROOF_RESULTS, 'base64').toString('utf-8'));"
        "console.log(JSON.stringify([r.status, r.max_score, r.tests.map(t => [t.name, t.status, t.score]),"
        " r.tests[1].message]));"
    )
    out = subprocess.run(
        ["node", "-e", script], env={"GRADPROOF_RESULTS": content}, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        "fail",
        4.0,
        [["forward", "pass", 2.0], ["dE_dW2", "fail", 0.0]],
        "dE_dW2 is fail\nLikely mistake: dE_dW2 has the opposite sign: the secret hint",
    ]


def test_grade_format_classroom_writes_the_file_a_workflow_step_hands_the_reporter(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('[checks.dE_dW2]\nvisibility = "hidden"\n')
    out = tmp_path / "out"
    submission = SUBMISSIONS / "bug_sign_flip_dW2.py"
    ran = CliRunner().invoke(
        main, ["grade", str(submission), "--out", str(out), "--spec", str(spec), "--format", "classroom", "--jobs", "1"]
    )
    assert ran.exit_code == 0, ran.output
    lines = ran.output.splitlines()
    assert lines[0].startswith("FAIL ") and lines[0].endswith(f"{submission}: dE_dW2 fail (scale--1)")
    assert lines[1:] == [f"1 submissions, 1 graded, 0 not gradable; mean score {_mean(out)}; reports in {out}"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.b64")) == ["classroom/bug_sign_flip_dW2.py.b64"]
    content = (out / "classroom" / "bug_sign_flip_dW2.py.b64").read_text()
    seen = _reporter({"GRADPROOF_RESULTS": content})
    verdict = json.loads((out / "report.json").read_text())["submissions"][0]
    assert seen["failed"] is True and seen["points"] == (verdict["score"], verdict["max_score"])
    tests = {t["name"]: t for t in seen["results"][0]["tests"]}
    assert list(tests) == [c["name"] for c in verdict["checks"]]
    assert tests["dE_dW2"]["message"] == HIDDEN_MESSAGE and "opposite" not in base64.b64decode(content).decode()
    assert tests["forward"]["status"] == "pass" and tests["forward"]["filename"] == "bug_sign_flip_dW2.py"


def _mean(out: Path) -> str:
    verdict = json.loads((out / "report.json").read_text())["submissions"][0]
    return f"{verdict['score']:.2f}"
