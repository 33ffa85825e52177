"""A course's own assignment folder: read up front, every mistake one line naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.computation import validate
from harness.definition import built_in_names, find_spec, load_assignment
from harness.errors import SpecError

REFERENCE = """import torch

def compute(X, W, b):
    z = X @ W + b
    h = torch.sigmoid(z)
    return {"z": z, "h": h, "loss": (h ** 2).sum() / 2}
"""

SPEC = """[assignment]
name = "tiny"
style = "functions"

[sizes]
N = [3, 2]
D = 2
K = 2

[inputs.X]
shape = ["N", "D"]

[inputs.W]
shape = ["D", "K"]
kind = "weight"

[inputs.b]
shape = ["K"]
kind = "weight"

[[steps]]
call = "grads"
args = ["$X", "$W", "$b"]
as = "out"

[read]
"grad.W" = ["out[0]"]
"grad.b" = ["out[1]"]

[checks.dW]
values = ["grad.W"]
points = 2

[checks.db]
values = ["grad.b"]
"""


def folder(tmp_path: Path, spec: str = SPEC, reference: str = REFERENCE) -> Path:
    home = tmp_path / "tiny"
    home.mkdir()
    (home / "assignment.toml").write_text(spec)
    (home / "reference.py").write_text(reference)
    return home


def test_a_folder_is_read_into_checks_points_and_a_definition(tmp_path: Path) -> None:
    a = load_assignment(folder(tmp_path))
    assert a.definition is not None and a.definition.style == "functions"
    assert a.checks == ("dW", "db") and a.max_points("dW") == 2.0 and a.max_points("db") == 1.0
    assert a.definition.sizes_of(1) == {"N": 2, "D": 2, "K": 2}
    assert a.definition.parameters == ("W", "b")
    validate(a)


def test_every_built_in_assignment_loads_and_its_reference_runs() -> None:
    names = built_in_names()
    assert "mlp-4-3-1" in names and len(names) >= 4
    for name in names:
        validate(load_assignment(name))


def test_without_a_style_a_spec_is_the_classic_kind() -> None:
    assert load_assignment("mlp-4-3-1").definition is None
    assert load_assignment(None).definition is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'kind = "weight"\n\n[inputs.b]',
            'kind = "wieght"\n\n[inputs.b]',
            ":15: inputs.W.kind='wieght': expected one of",
        ),
        ('values = ["grad.W"]', 'values = ["grad.V"]', ":31: checks.dW.values='grad.V': no [read] entry"),
        (
            '"grad.b" = ["out[1]"]',
            '"grad.b" = ["out[0]"]',
            ":28: read.grad.b='out[0]': the name is already read as grad.W",
        ),
        ('style = "functions"', 'style = "notebook"', ":3: assignment.style='notebook': expected one of"),
        ('shape = ["N", "D"]', 'shape = ["N", "Q"]', ":11: inputs.X.shape='Q': expected a whole number"),
        ('call = "grads"', 'call = "grads("', ":22: steps.0.call='grads(': not a name"),
        ("[checks.db]", "[checks.db]\nweight = 3", ":35: checks.db.weight=3: unknown key"),
        (
            'args = ["$X", "$W", "$b"]',
            'args = ["$X", "$W", "$b", { a = 1 }]',
            ":21: steps.grads={'a': 1}: an argument is a string, a number, a boolean, a list of them, or '$name'",
        ),
    ],
)
def test_a_mistake_in_the_spec_is_one_line_naming_the_file_and_the_line(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in SPEC
    home = folder(tmp_path, SPEC.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_assignment(home)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(home / "assignment.toml")), text
    assert message in text, text


def test_a_reference_that_raises_is_named_with_its_line(tmp_path: Path) -> None:
    home = folder(tmp_path, reference=REFERENCE.replace("h = torch.sigmoid(z)", "h = torch.sigmoid(z).reshape(7)"))
    with pytest.raises(SpecError, match=r"reference.py:5: the reference raised RuntimeError"):
        validate(load_assignment(home))


def test_a_check_on_a_value_the_reference_does_not_produce_is_refused(tmp_path: Path) -> None:
    spec = SPEC.replace('"grad.b" = ["out[1]"]', '"grad.b" = ["out[1]"]\n"grad.q" = ["out[2]"]')
    with pytest.raises(SpecError, match=r"read.grad.q: the reference computes no 'grad.q'"):
        validate(load_assignment(folder(tmp_path, spec)))


def test_an_unknown_name_or_folder_says_what_is_built_in() -> None:
    with pytest.raises(SpecError, match=r"no such folder, file or built-in assignment \(built in: .*mlp-4-3-1"):
        find_spec("no-such-assignment")
