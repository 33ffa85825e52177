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


def test_the_default_is_the_built_in_mlp_4_3_1_in_both_styles() -> None:
    default = load_assignment(None).definition
    assert default is not None and default == load_assignment("mlp-4-3-1").definition
    assert (default.style, default.script_too, default.loss) == ("functions", True, "E")


def test_without_a_style_a_spec_changes_the_default_assignment(tmp_path: Path) -> None:
    spec = tmp_path / "course.toml"
    spec.write_text(
        '[assignment]\nname = "hw2"\nsizes = [2, 5, 1]\nlr = 0.5\n'
        '[names]\nW1 = ["weights1"]\ndE_dW1 = ["grad_w1", "dW1"]\nW1_new = ["weights1_next"]\n'
        '[checks.update]\npoints = 4\nvisibility = "hidden"\n'
    )
    a = load_assignment(spec)
    d = a.definition
    assert d is not None and d.source == str(spec) and a.name == "hw2" and a.lr == 0.5
    assert d.sizes == {"I": (2,), "J": (5,), "K": (1,)}
    assert d.read["W1"] == ("weights1",)
    assert d.read["grad.W1"] == ("grad_w1", "dW1", "backward_out[0]")  # the functions' result is read as before
    assert d.read["new.W1"] == ("weights1_next", "weights1", "update_out[0]")  # or updated in place
    assert (a.max_points("update"), a.visibility_of("update"), a.max_score()) == (4.0, "hidden", 13.0)


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
            'style = "functions"',
            'style = ["functions", "objects"]',
            ":3: assignment.style=['functions', 'objects']: expected one style, or two: 'script' and",
        ),
        ('as = "out"', 'as = "out"\nhelper = "yes"', ":25: steps.0.helper='yes': expected true or false"),
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


# ---------------------------------------------------------------- size expressions


def _sized(tmp_path: Path, sizes: str, w_shape: str = '["D", "K"]') -> Path:
    spec = SPEC.replace("[sizes]\nN = [3, 2]\nD = 2\nK = 2\n", f"[sizes]\n{sizes}\n", 1)
    return folder(tmp_path, spec.replace('shape = ["D", "K"]', f"shape = {w_shape}", 1))


def test_a_size_may_be_an_expression_of_the_others_computed_on_each_run(tmp_path: Path) -> None:
    home = _sized(tmp_path, 'N = [3, 2]\nB = [1, 2, 3]\nE = 2\nD = "B*E"\nK = "(D - 1) * 2 + N"')
    definition = load_assignment(home).definition
    assert definition is not None
    assert definition.sizes["D"] == (2, 4, 6) and definition.sizes["K"] == (5, 8, 13, 4, 9, 12)
    for run in range(7):
        at = definition.sizes_of(run)
        assert at["D"] == at["B"] * at["E"] and at["K"] == (at["D"] - 1) * 2 + at["N"], (run, at)


def test_a_shape_may_hold_an_expression_of_sizes(tmp_path: Path) -> None:
    home = _sized(tmp_path, "N = [3, 2]\nB = [1, 2]\nE = 2\nD = 2\nK = 2", w_shape='["B*E - 1 + 1", "K"]')
    spec = (home / "assignment.toml").read_text().replace('shape = ["N", "D"]', 'shape = ["N", "B * E"]', 1)
    (home / "assignment.toml").write_text(spec)
    a = load_assignment(home)
    assert a.definition is not None
    x, w = a.definition.inputs[0], a.definition.inputs[1]
    assert x.shape == ("N", "B * E") and w.shape == ("B * E - 1 + 1", "K")
    assert [a.definition.shape_of(x, run) for run in range(3)] == [(3, 2), (2, 4), (3, 2)]
    assert [a.definition.shape_of(w, run) for run in range(3)] == [(2, 2), (4, 2), (2, 2)]
    validate(a)  # the reference runs at every run's shapes


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ('D = "B**2"', "sizes.D='B**2': expected a size, a whole number, or sizes and whole numbers with + - *"),
        ('D = "B/2"', "sizes.D='B/2': expected a size, a whole number, or sizes and whole numbers with + - *"),
        ('D = "len(B)"', "sizes.D='len(B)': expected a size, a whole number"),
        ("D = \"__import__('os')\"", "sizes.D=\"__import__('os')\": expected a size, a whole number"),
        ('D = "B.real"', "sizes.D='B.real': expected a size, a whole number"),
        ('D = "B*"', "sizes.D='B*': expected a size, a whole number"),
        ('D = "2.5*B"', "sizes.D='2.5*B': expected a size, a whole number"),
        ('D = "-B"', "sizes.D='-B': expected a size, a whole number"),
        ('D = "B*F"', "sizes.D='B*F': F is not a size of [sizes] (N, B, K, D)"),
        ('D = "B - 3"', "sizes.D='B - 3': is -1 at B=2: a size is a whole number from 1 to 4096"),
        ('D = "K*2"\nK = "D+1"', "sizes.D='K*2': the sizes D, K are defined in terms of each other"),
        ('D = "D"', "sizes.D='D': the sizes D are defined in terms of each other"),
        ('D = "B*4096"', "sizes.D='B*4096': is 8192 at B=2: a size is a whole number from 1 to 4096"),
    ],
)
def test_a_bad_size_expression_is_one_line_naming_the_key(tmp_path: Path, sizes: str, message: str) -> None:
    base = "N = [3, 2]\nB = 2\nK = 2\n"
    home = _sized(tmp_path, base + sizes if "K =" not in sizes else base.replace("K = 2\n", "") + sizes)
    with pytest.raises(SpecError) as info:
        load_assignment(home)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{home / 'assignment.toml'}:"), text
    assert message in text, text


def test_a_bad_expression_in_a_shape_is_one_line_naming_the_input(tmp_path: Path) -> None:
    home = _sized(tmp_path, "N = [3, 2]\nD = 2\nK = 2", w_shape='["D*Q", "K"]')
    with pytest.raises(SpecError, match=r":14: inputs.W.shape='D\*Q': Q is not a size of \[sizes\] \(N, D, K\)"):
        load_assignment(home)
    (home / "assignment.toml").write_text((home / "assignment.toml").read_text().replace('"D*Q"', '"D - 2"'))
    with pytest.raises(SpecError, match=r":14: inputs.W.shape='D - 2': is 0 at D=2: a size is a whole number"):
        load_assignment(home)


SCRIPT_SPEC = """[assignment]
name = "tiny-script"
style = "script"
runs = 1

[sizes]
N = 3
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
[inputs.lr]
shape = []
kind = "rate"

[read]
X = ["X"]
W = ["W"]
b = ["b"]
lr = ["lr"]
"grad.W" = ["dW"]
"new.W" = ["W"]

[checks.update]
values = ["new.W"]
"""


def test_an_update_in_place_reads_the_parameter_and_its_new_value_from_the_same_name(tmp_path: Path) -> None:
    a = load_assignment(folder(tmp_path, SCRIPT_SPEC, REFERENCE))
    assert a.definition is not None and a.definition.read["new.W"] == ("W",) == a.definition.read["W"]
    validate(a)


def test_any_other_two_quantities_on_one_name_are_still_refused(tmp_path: Path) -> None:
    spec = SCRIPT_SPEC.replace('"grad.W" = ["dW"]', '"grad.W" = ["W"]')
    with pytest.raises(SpecError, match=r"read.grad.W='W': the name is already read as W: one name, one quantity"):
        load_assignment(folder(tmp_path, spec, REFERENCE))


def test_a_relative_assignment_folder_finds_the_reference_of_the_directory_it_is_used_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from harness.computation import reference_of

    for course in ("a", "b"):
        shutil.copytree(
            Path(__file__).resolve().parent.parent / "harness" / "assignments" / "mlp-4-3-1", tmp_path / course / "asg"
        )
        with open(tmp_path / course / "asg" / "reference.py", "a", encoding="utf-8") as f:
            f.write(f"\ncompute.course = {course!r}\n")
    found = []
    for course in ("a", "b"):
        monkeypatch.chdir(tmp_path / course)
        definition = load_assignment(Path("asg")).definition
        assert definition is not None and not Path(definition.folder).is_absolute()
        found.append(getattr(reference_of(definition), "course", None))
    assert found == ["a", "b"]
