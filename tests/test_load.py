"""Stage 1, load: files and folders into submissions; bad input is a clear error."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from harness.errors import SubmissionError, UsageError
from harness.load import collect, digest_of, load

SUBMISSIONS = Path(__file__).resolve().parent.parent / "submissions"


def notebook(path: Path, *cells: str, version: int = 4) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path.write_text(nbformat.writes(nb))
    return path


def test_a_module_is_one_cell_with_its_facts(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text("import torch\nimport numpy as np\nW = torch.zeros(2, requires_grad=True)\n")
    sub = load(path)
    assert sub.kind == "module" and len(sub.cells) == 1 and sub.cells[0].label == "s.py"
    assert sub.imports == {"torch", "numpy"}
    assert sub.uses_autograd and not sub.grader_imports


def test_notebook_code_cells_are_kept_in_order_and_markdown_is_skipped(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# hi"),
            nbformat.v4.new_code_cell("a = 1"),
            nbformat.v4.new_code_cell(""),
            nbformat.v4.new_code_cell("b = a + 1"),
        ]
    )
    (tmp_path / "n.ipynb").write_text(nbformat.writes(nb))
    sub = load(tmp_path / "n.ipynb")
    assert [c.label for c in sub.cells] == ["cell 2", "cell 4"]
    assert [c.source.strip() for c in sub.cells] == ["a = 1", "b = a + 1"]


def test_ipython_syntax_is_rewritten_to_calls_and_never_left_as_shell(tmp_path: Path) -> None:
    sub = load(
        notebook(
            tmp_path / "n.ipynb", "%matplotlib inline\nx = 1", "!pip install evil", "files = !ls", "%%bash\nrm -rf /"
        )
    )
    code = "\n".join(c.source for c in sub.cells)
    assert "get_ipython().system('pip install evil')" in code
    assert "get_ipython().getoutput('ls')" in code
    assert "run_cell_magic('bash'" in code
    assert len(sub.neutralised) == 4
    compile(code, "n", "exec")  # plain Python now


def test_an_old_nbformat_3_notebook_is_upgraded(tmp_path: Path) -> None:
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "code", "input": "x = 41 + 1", "language": "python", "outputs": [], "metadata": {}}
                ],
                "metadata": {},
            }
        ],
    }
    (tmp_path / "old.ipynb").write_text(json.dumps(v3))
    assert load(tmp_path / "old.ipynb").cells[0].source.strip() == "x = 41 + 1"


def test_a_notebook_is_read_as_nbformat_reads_it_its_code_cells_in_order(tmp_path: Path) -> None:
    cells = [
        nbformat.v4.new_markdown_cell("# Homework"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("   "),
        nbformat.v4.new_raw_cell("raw"),
        nbformat.v4.new_code_cell(["y = x\n", "z = y + 1"]),
    ]
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nbformat.v4.new_notebook(cells=cells)))
    read = nbformat.read(path, as_version=4)
    expected = [
        (f"cell {n}", c.source) for n, c in enumerate(read.cells, 1) if c.cell_type == "code" and c.source.strip()
    ]
    assert (
        [(c.label, c.source) for c in load(path).cells]
        == expected
        == [("cell 2", "x = 1"), ("cell 5", "y = x\nz = y + 1")]
    )


def test_a_notebook_whose_metadata_the_schema_rejects_is_graded_from_its_code_cells(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 42")])
    nb.metadata["kernelspec"] = {"display_name": 3}  # nbformat's schema wants a name, and a string
    path = tmp_path / "odd.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(nbformat.ValidationError):
        nbformat.validate(nbformat.read(path, as_version=4))
    assert [c.source for c in load(path).cells] == ["x = 42"]


@pytest.mark.parametrize(
    "cell",
    [
        {"cell_type": "code", "id": "c1", "metadata": {}, "outputs": []},
        {"cell_type": "code", "id": "c1", "source": 42, "metadata": {}, "outputs": []},
        {"cell_type": "code", "source": ["x = 1", 2], "metadata": {}, "outputs": []},
        {"source": "x = 1"},
        "x = 1",
    ],
)
def test_a_notebook_whose_cells_are_not_nbformats_is_a_clear_submission_error(tmp_path: Path, cell: object) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}))
    with pytest.raises(SubmissionError, match=r"notebook cannot be read|not a valid nbformat v4 notebook"):
        load(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.ipynb", b"{not json", "not valid JSON"),
        (
            "empty.ipynb",
            json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode(),
            "no code cells",
        ),
        (
            "wrong.ipynb",
            json.dumps({"nbformat": 4, "cells": "nope"}).encode(),
            "notebook cannot be read|not a valid nbformat",
        ),
        ("junk.py", bytes(range(256)), "binary"),
        ("latin.py", "x = 'é'".encode("latin-1"), "not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_graded_is_a_clear_submission_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SubmissionError, match=message):
        load(tmp_path / name)


def test_a_huge_file_is_refused_by_the_size_cap(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text("x = 1\n" * 1000)
    with pytest.raises(SubmissionError, match="over the 100-byte limit"):
        load(tmp_path / "big.py", max_bytes=100)


def test_the_size_cap_is_validated() -> None:
    with pytest.raises(UsageError, match="max_bytes=0"):
        load(Path("x.py"), max_bytes=0)


def test_importing_the_reference_is_seen_statically(tmp_path: Path) -> None:
    (tmp_path / "cheat.py").write_text("from reference.mlp import backward\n")
    assert load(tmp_path / "cheat.py").grader_imports == ["reference"]


def test_a_folder_expands_to_its_submissions_sorted_skipping_hidden_files(tmp_path: Path) -> None:
    for name in ("b.py", "a.ipynb", "notes.txt", ".hidden.py", ".ipynb_checkpoints/a-checkpoint.ipynb", "sub/c.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1")
    assert [p.relative_to(tmp_path).as_posix() for p in collect([tmp_path])] == ["a.ipynb", "b.py", "sub/c.py"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.py", "no such file"),
        (lambda d: ((d / "x.txt").write_text("") and d / "x.txt") or d / "x.txt", "expected a .py or .ipynb"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "holds no .py or .ipynb"),
    ],
)
def test_paths_that_cannot_be_graded_are_usage_errors(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(UsageError, match=message):
        collect([path])


def test_no_paths_at_all_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="paths=\\[\\]"):
        collect([])


@pytest.mark.parametrize(
    "cell",
    [
        "x = 1\ny = x * 2",
        "# is this a comment?\nx = 1",
        "d = {'a': 1}  # what?",
        "s = 'a % b' % ('x',)\nt = a != b",
        "if True:\n    z = 3",
        "    x = 1\n    y = 2",
        ">>> x = 1\n>>> y = 2",
        "In [1]: x = 1",
        "os?",
        "?os",
        "files = !ls",
        "x = %time 1",
        "%%time\nx = 1",
        "!!ls",
        "/print 'a'",
        "x = 5 % 2\ny = [1, 2]",
    ],
)
def test_the_fast_path_for_plain_cells_agrees_with_ipythons_transformers(cell: str) -> None:
    from harness.load import _neutralise_ipython, _transformer

    fast, _ = _neutralise_ipython(cell)
    assert fast.rstrip("\n") == _transformer().transform_cell(cell).rstrip("\n")


# ---------------------------------------------------------------- only regular files


def _odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "ok.py").write_text("X = 1\n")
    os.mkfifo(folder / "fifo.py")
    (folder / "zero.py").symlink_to("/dev/zero")
    (folder / "secret.py").symlink_to(tmp_path / "outside.py")
    (tmp_path / "outside.py").write_text("hidden = 1\n")
    (folder / "alias.py").symlink_to("ok.py")
    (folder / "loop").symlink_to(".", target_is_directory=True)
    return folder


def test_a_folder_lists_what_is_named_like_a_submission_even_if_it_is_no_file_and_never_loops(tmp_path: Path) -> None:
    folder = _odd_folder(tmp_path)
    assert [p.name for p in collect([folder])] == ["alias.py", "fifo.py", "ok.py", "secret.py", "zero.py"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("fifo.py", "it is a named pipe (FIFO), not a regular file"),
        ("zero.py", "it is a symbolic link to '/dev/zero', outside its own folder"),
        ("secret.py", "outside its own folder"),
    ],
)
def test_what_is_not_a_regular_file_in_its_folder_is_refused_fast_without_reading_it(
    tmp_path: Path, name: str, message: str
) -> None:
    path = _odd_folder(tmp_path) / name
    with pytest.raises(SubmissionError, match=re.escape(message)):
        load(path)
    assert digest_of(path) == ""


def test_a_link_to_a_file_in_its_own_folder_is_followed(tmp_path: Path) -> None:
    folder = _odd_folder(tmp_path)
    assert load(folder / "alias.py").cells[0].source == "X = 1\n"
    assert digest_of(folder / "alias.py") == digest_of(folder / "ok.py") != ""


def test_a_fifo_and_a_device_link_in_a_batch_end_in_verdicts_and_the_honest_file_is_graded(tmp_path: Path) -> None:
    from harness.batch import grade_batch

    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "good.py").write_text((SUBMISSIONS / "correct_script.py").read_text())
    os.mkfifo(folder / "x.py")
    (folder / "y.py").symlink_to("/dev/zero")
    verdicts = {Path(v["submission"]).name: v for v in grade_batch(collect([folder]), jobs=1, sandbox="off")}
    assert verdicts["x.py"]["status"] == "error" and "named pipe" in str(verdicts["x.py"]["error"])
    assert verdicts["y.py"]["status"] == "error" and "/dev/zero" in str(verdicts["y.py"]["error"])
    assert verdicts["good.py"]["score"] == verdicts["good.py"]["max_score"] > 0


# ---------------------------------------------------------------- autograd, read from the code's structure


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ("E.backward()", "calls .backward()"),
        ('getattr(E, "back" + "ward")()', "getattr with a name computed at run time"),
        ('getattr(E, "backward")()', "getattr(..., 'backward')"),
        ("import torch.func\ng = torch.func.grad(f)", "uses torch.func.grad"),
        ("from torch.autograd import grad as g", "imports grad from torch.autograd"),
        ("import functorch", "imports functorch"),
        (
            'import importlib\nm = importlib.import_module("torch.autograd")',
            "importlib.import_module('torch.autograd')",
        ),
        ("name = 'torch.' + 'autograd'\nm = __import__(name)", "__import__() of a name computed at run time"),
        ("W = torch.zeros(3, requires_grad=True)", "creates a tensor with requires_grad"),
        ("W.requires_grad_(True)", "sets requires_grad"),
        ("g = W.grad", "reads .grad"),
        ("exec(source)", "exec() of code built at run time"),
    ],
)
def test_every_way_to_reach_autograd_is_read_from_the_syntax_with_its_line(
    tmp_path: Path, code: str, found: str
) -> None:
    path = tmp_path / "s.py"
    path.write_text("import torch\n\n" + code + "\n")
    evidence = load(path).autograd
    assert any(found in e and e.startswith("s.py, line ") for e in evidence), evidence


def test_comments_strings_and_no_grad_are_never_autograd(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text(
        "import torch\n# I checked this with E.backward() and torch.autograd.grad\n"
        's = "requires_grad=True, x.backward()"\nwith torch.no_grad():\n    W = torch.zeros(3)\n'
        'h = getattr(W, "shape")\n'
    )
    assert load(path).autograd == () and not load(path).uses_autograd


def test_a_students_own_backward_method_and_grad_attribute_are_not_autograd(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text(
        "import torch\n\nclass Linear:\n    def __init__(self):\n        self.grad = {}\n"
        "    def backward(self, g):\n        self.grad['W'] = g\n        return g\n\n"
        "layer = Linear()\nlayer.backward(torch.ones(2))\nprint(layer.grad)\n"
    )
    assert load(path).autograd == ()


def test_a_backward_call_is_autograd_when_the_submission_defines_no_backward_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text("import torch\n\nclass Net:\n    def step(self, loss):\n        loss.backward()\n")
    assert any("calls .backward()" in e for e in load(path).autograd)
