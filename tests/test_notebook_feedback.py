"""Format ``notebook``: each submission back as a notebook with a feedback cell after its last code cell."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.report.notebook import CELL_ID, annotated, feedback

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"


@pytest.fixture(scope="module")
def fed_back(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("notebook")
    folder = base / "class"
    folder.mkdir()
    shutil.copyfile(SUBMISSIONS / "bug_missing_activation_derivative.ipynb", folder / "nb.ipynb")
    (folder / "script.py").write_text(
        (SUBMISSIONS / "bug_loss_abs.py").read_text() + '\nprint("<script>alert(1)</script> ``` # [x](y)")\n'
    )
    spec = base / "spec.toml"
    spec.write_text('[checks.loss]\nvisibility = "hidden"\n')
    out = base / "out"
    result = CliRunner().invoke(
        main, ["grade", str(folder), "--out", str(out), "--jobs", "1", "--format", "notebook", "--spec", str(spec)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    return {"out": out, "report": report}


@pytest.mark.parametrize("name", ["nb.ipynb", "script.py"])
def test_each_submission_comes_back_a_valid_notebook_with_its_feedback_after_the_last_code_cell(
    fed_back: dict[str, Any], name: str
) -> None:
    path = fed_back["out"] / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    last_code = max(i for i, k in enumerate(kinds) if k == "code")
    cell = nb.cells[last_code + 1]
    assert cell.cell_type == "markdown" and cell.source.startswith("## gradproof feedback: ")
    assert sum(c.cell_type == "markdown" and "gradproof feedback" in c.source for c in nb.cells) == 1
    original = SUBMISSIONS / "bug_missing_activation_derivative.ipynb"
    if name == "nb.ipynb":
        before = nbformat.read(original, as_version=4)
        assert [c.source for c in nb.cells if c.cell_type == "code"] == [
            c.source for c in before.cells if c.cell_type == "code"
        ]
    else:
        assert kinds == ["code", "markdown"] and "print(" in nb.cells[0].source


def test_the_feedback_shows_verdicts_worst_entries_diagnosis_and_runs_but_no_hidden_details(
    fed_back: dict[str, Any],
) -> None:
    nb = nbformat.read(fed_back["out"] / "notebooks" / "nb.ipynb.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and "gradproof feedback" in c.source)
    assert cell.get("id", CELL_ID).startswith(CELL_ID)
    verdict = next(v for v in fed_back["report"]["submissions"] if v["submission"].endswith("nb.ipynb"))
    check = next(c for c in verdict["checks"] if c["name"] == "dE_dW1")
    assert check["status"] == "fail" and check["diagnosis"]
    sections = {part.split(":")[0].split("\n")[0].strip(): part for part in cell.source.split("### ")[1:]}
    shown = sections["dE_dW1"]
    assert shown.startswith("dE_dW1: fail (0/")
    assert "**Likely mistake:**" in shown and "Worst entries:" in shown and "- at \\[" in shown
    assert "Judged on (right on every one to pass):" in shown and "inputs the grader drew" in shown
    hidden = sections["loss"]
    assert "A hidden check" in hidden
    assert not any(w in hidden for w in ("pass", "fail", "Worst", "Judged", "/"))
    assert fed_back["report"]["visibility"]["loss"] == "hidden"


def test_student_text_is_escaped_in_the_feedback_cell() -> None:
    verdict: Any = {
        "submission": "x.py",
        "status": "error",
        "error": "<script>alert(1)</script>\n```\n# not a heading",
        "score": 0.0,
        "max_score": 10.0,
        "notes": ["[link](javascript:x) <b>bold</b>"],
        "checks": [],
        "digest": "",
    }
    text = feedback(verdict, {})
    assert "<b>" not in text and "&lt;b&gt;" in text and "\\[link\\]" in text  # no raw HTML, no link
    lines = text.splitlines()
    fences = [i for i, line in enumerate(lines) if line == "````"]  # longer than the ``` inside
    assert len(fences) == 2 and fences[0] < lines.index("<script>alert(1)</script>") < fences[1]  # as code, inert
    nb = annotated(verdict, {})  # x.py is not the graded file: the feedback alone, and said so
    nbformat.validate(nbformat.from_dict(nb))
    assert len(nb["cells"]) == 1 and "could not be copied here" in nb["cells"][0]["source"]
