"""Format ``notebook``: each submission back as a notebook, each check's feedback right after the cell that
produced the value it judged (``report.json``'s ``cell``), the summary after the last code cell."""

from __future__ import annotations

import ast
import copy
import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch
from click.testing import CliRunner

import reference
from harness.check.defined import check_defined, observe_script_runs, placed
from harness.cli import main
from harness.definition import load_assignment
from harness.load import defined_in
from harness.records.outcome import Binding, Outcome, Value
from harness.records.result import CheckResult
from harness.records.submission import Cell
from harness.report.notebook import CELL_ID, PLACED_HEAD, annotated, feedback

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "submissions"


@pytest.fixture(scope="module")
def fed_back(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("notebook")
    folder = base / "class"
    folder.mkdir()
    shutil.copyfile(SUBMISSIONS / "bug_missing_activation_derivative.ipynb", folder / "nb.ipynb")
    shutil.copyfile(SUBMISSIONS / "correct_notebook_classic.ipynb", folder / "classic.ipynb")
    shutil.copyfile(SUBMISSIONS / "correct_functions_notebook.ipynb", folder / "functions.ipynb")
    (folder / "script.py").write_text(
        (SUBMISSIONS / "bug_loss_abs.py").read_text() + '\nprint("<script>alert(1)</script> ``` # [x](y)")\n'
    )
    spec = base / "spec.toml"
    spec.write_text('[checks.loss]\nvisibility = "hidden"\n')
    out = base / "out"
    result = CliRunner().invoke(
        main, ["grade", str(folder), "--out", str(out), "--jobs", "4", "--format", "notebook", "--spec", str(spec)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    return {"out": out, "report": report}


def _verdict(fed_back: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in fed_back["report"]["submissions"] if v["submission"].endswith(f"/{name}"))


def _is_summary(cell: Any) -> bool:
    return bool(cell.cell_type == "markdown" and cell.source.startswith("## gradproof feedback: "))


def _is_placed(cell: Any) -> bool:
    return bool(cell.cell_type == "markdown" and cell.source.startswith(PLACED_HEAD))


def _sections(source: str) -> dict[str, str]:
    """A feedback cell's checks: name -> its section."""
    return {part.split(":")[0].split("\n")[0].strip(): part for part in source.split("### ")[1:]}


def _assigns(source: str, name: str) -> bool:
    if source.lstrip().startswith(("%", "!")):
        return False  # an IPython line: it assigns nothing
    return any(
        isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        for node in ast.walk(ast.parse(source))
    )


@pytest.mark.parametrize("name", ["nb.ipynb", "classic.ipynb", "functions.ipynb", "script.py"])
def test_each_submission_comes_back_a_valid_notebook_with_its_code_unchanged_and_the_summary_after_the_last_code_cell(
    fed_back: dict[str, Any], name: str
) -> None:
    path = fed_back["out"] / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    last_code = max(i for i, k in enumerate(kinds) if k == "code")
    after = last_code + 1 + _is_placed(nb.cells[last_code + 1])  # the last code cell's own feedback first
    assert _is_summary(nb.cells[after])
    assert sum(_is_summary(c) for c in nb.cells) == 1
    ids = [c.get("id") for c in nb.cells]
    assert len(set(ids)) == len(ids)
    if name.endswith(".ipynb"):
        before = nbformat.read(fed_back["out"].parent / "class" / name, as_version=4)
        assert [c.source for c in nb.cells if not (_is_placed(c) or _is_summary(c))] == [c.source for c in before.cells]
    else:
        assert kinds == ["code", "markdown", "markdown"] and "print(" in nb.cells[0].source


@pytest.mark.parametrize("name", ["nb.ipynb", "classic.ipynb"])
def test_the_feedback_on_dE_dW1_comes_right_after_the_notebook_cell_that_assigns_dE_dW1(
    fed_back: dict[str, Any], name: str
) -> None:
    nb = nbformat.read(fed_back["out"] / "notebooks" / f"{name}.ipynb", as_version=4)
    original = nbformat.read(fed_back["out"].parent / "class" / name, as_version=4)
    assigning = [i for i, c in enumerate(original.cells) if c.cell_type == "code" and _assigns(c.source, "dE_dW1")]
    assert len(assigning) == 1  # the test's premise: one cell binds it
    check = next(c for c in _verdict(fed_back, name)["checks"] if c["name"] == "dE_dW1")
    assert check["cell"] == f"cell {assigning[0] + 1}"
    at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and _assigns(c.source, "dE_dW1"))
    cell = nb.cells[at + 1]
    assert _is_placed(cell) and "dE_dW1" in _sections(cell.source)
    assert _sections(cell.source)["dE_dW1"].startswith(f"dE_dW1: {check['status']} (")
    assert sum("### dE_dW1" in c.source for c in nb.cells if c.cell_type == "markdown") == 1


def test_the_feedback_on_a_py_submission_comes_in_one_cell_after_its_code_in_check_order_hidden_checks_in_the_summary(
    fed_back: dict[str, Any],
) -> None:
    nb = nbformat.read(fed_back["out"] / "notebooks" / "script.py.ipynb", as_version=4)
    code, placed, summary = nb.cells
    assert _assigns(code.source, "dE_dW1") and _is_placed(placed) and _is_summary(summary)
    checks = _verdict(fed_back, "script.py")["checks"]
    assert {c["cell"] for c in checks} == {"script.py"}  # a module is one cell, labelled by its file name
    visible = [c["name"] for c in checks if c["name"] != "loss"]
    assert list(_sections(placed.source)) == visible  # in check order
    assert list(_sections(summary.source)) == ["loss"]  # hidden: where it sits would tell what it judged
    assert "A hidden check" in _sections(summary.source)["loss"]


def test_function_style_feedback_comes_after_the_cell_that_defined_each_function(fed_back: dict[str, Any]) -> None:
    nb = nbformat.read(fed_back["out"] / "notebooks" / "functions.ipynb.ipynb", as_version=4)
    cell_of = {c["name"]: c["cell"] for c in _verdict(fed_back, "functions.ipynb")["checks"]}
    for check, function in (("forward", "forward"), ("dE_dW1", "backward"), ("update", "update")):
        at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and f"def {function}(" in c.source)
        assert _is_placed(nb.cells[at + 1]) and check in _sections(nb.cells[at + 1].source)
        assert cell_of[check] is not None


def test_the_feedback_shows_verdicts_worst_entries_diagnosis_and_runs_but_no_hidden_details(
    fed_back: dict[str, Any],
) -> None:
    nb = nbformat.read(fed_back["out"] / "notebooks" / "nb.ipynb.ipynb", as_version=4)
    cells = [c for c in nb.cells if _is_placed(c) or _is_summary(c)]
    assert all(c.get("id", CELL_ID).startswith(CELL_ID) for c in cells)
    verdict = _verdict(fed_back, "nb.ipynb")
    check = next(c for c in verdict["checks"] if c["name"] == "dE_dW1")
    assert check["status"] == "fail" and check["diagnosis"]
    sections = {name: part for c in cells for name, part in _sections(c.source).items()}
    assert set(sections) == {c["name"] for c in verdict["checks"]}
    shown = sections["dE_dW1"]
    assert shown.startswith("dE_dW1: fail (0/")
    assert "**Likely mistake:**" in shown and "Worst entries:" in shown and "- at \\[" in shown
    assert "Judged on (right on every one to pass):" in shown and "inputs the grader drew" in shown
    hidden = sections["loss"]
    assert "A hidden check" in hidden
    assert not any(w in hidden for w in ("pass", "fail", "Worst", "Judged", "/"))
    assert fed_back["report"]["visibility"]["loss"] == "hidden"


def test_a_report_written_before_checks_had_a_cell_puts_all_the_feedback_in_the_summary(
    fed_back: dict[str, Any],
) -> None:
    verdict = copy.deepcopy(_verdict(fed_back, "nb.ipynb"))
    for check in verdict["checks"]:
        del check["cell"]
    nb = nbformat.reads(json.dumps(annotated(verdict, {})), as_version=4)  # sources joined, as on disk
    nbformat.validate(nb)
    added = [c for c in nb.cells if _is_placed(c) or _is_summary(c)]
    assert len(added) == 1 and _is_summary(added[0])
    assert list(_sections(added[0].source)) == [c["name"] for c in verdict["checks"]]
    last_code = max(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    assert nb.cells[last_code + 1] is added[0]


def _history(cells: dict[str, str], **changes: Any) -> Outcome:
    """A script's history, one statement per name, each in the cell ``cells`` gives it ("cell 1" else)."""
    X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
    Y = torch.zeros(1, 1)
    W1 = torch.rand(4, 3, generator=torch.Generator().manual_seed(3))
    W2 = torch.rand(3, 1, generator=torch.Generator().manual_seed(4))
    f = reference.forward(X, Y, W1, W2)
    g = reference.backward(X, Y, W1, W2, f)
    values = {"X": X, "Y": Y, "W1": W1, "W2": W2, "Z": f.Z, "H": f.H, "O": f.O, "Y_cap": f.Y_cap, "E": f.E}
    values |= {"dE_dW2": g.dE_dW2, "dE_dW1": g.dE_dW1, "W1_new": W1 - 0.1 * g.dE_dW1, "W2_new": W2 - 0.1 * g.dE_dW2}
    values |= changes
    history = [
        Binding(i, cells.get(name, "cell 1"), name, Value("tensor", "float32", torch.as_tensor(v, dtype=torch.float64)))
        for i, (name, v) in enumerate(values.items())
    ]
    return Outcome(history=history, executed=True)


def _cells(outcome: Outcome) -> dict[str, str | None]:
    """Each check of the default assignment on this history (its own run) and the cell it names."""
    assignment = load_assignment()
    definition = assignment.definition
    assert definition is not None
    observed = observe_script_runs(outcome, [], definition)
    return {
        r.name: placed(r, definition, observed, [], stepped=False).cell for r in check_defined(observed, assignment)
    }


def test_a_script_check_carries_the_cell_of_the_binding_it_judged() -> None:
    cells = {"Z": "cell 2", "Y_cap": "cell 3", "E": "cell 4", "dE_dW2": "cell 5", "dE_dW1": "cell 6"}
    cells |= {"W1_new": "cell 7", "W2_new": "cell 8"}
    assert _cells(_history(cells)) == {
        "forward": "cell 3",
        "loss": "cell 4",
        "dE_dW2": "cell 5",
        "dE_dW1": "cell 6",
        "update": "cell 8",  # right: the later of the two updated weights
    }
    assert _cells(_history(cells, Z=torch.zeros(3, 1)))["forward"] == "cell 2"  # wrong at Z: the cell of Z
    assert _cells(_history(cells, W1_new=torch.zeros(4, 3)))["update"] == "cell 7"  # wrong in W1_new: its cell
    missing = _history(cells)
    missing.history = [b for b in missing.history if b.name != "dE_dW1"]
    assert _cells(missing)["dE_dW1"] is None  # never bound: no cell
    assert CheckResult("x", "pass", 1.0, 1.0, "").to_data()["cell"] is None


def test_a_function_is_defined_in_the_last_cell_that_binds_it_at_module_level() -> None:
    cells = [
        Cell("cell 2", "def forward(X, W1, W2):\n    def backward():\n        pass\n    return X\n"),
        Cell("cell 3", "if True:\n    def update(W1, W2, a, b, lr):\n        return W1, W2\n"),
        Cell("cell 5", "import torch\nsigmoid = torch.sigmoid\nloss = {}\n"),
        Cell("cell 6", "loss['x'] = 1\nloss.y = 2\n"),  # binds no name: loss stays in cell 5
        Cell("cell 7", "def forward(X, W1, W2):\n    return X\n"),
        Cell("cell 8", "def (broken"),
    ]
    assert defined_in(cells, "forward") == "cell 7"  # the last definition is the one called
    assert defined_in(cells, "update") == "cell 3"
    assert defined_in(cells, "sigmoid") == "cell 5"
    assert defined_in(cells, "backward") is None  # only inside another function
    assert defined_in(cells, "loss") == "cell 5"
    assert defined_in(cells, "sigmoid_grad") is None


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
