"""Assignment specs: the packaged default, TOML loading, and one-line errors naming the key and the value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import SpecError, UsageError
from harness.records.assignment import CHECKS, DEFAULT_NAMES, Assignment, Limits, Tolerance
from harness.spec import default_spec_path, default_spec_text, load_spec, parse_spec


def test_the_packaged_default_spec_describes_exactly_the_default_assignment() -> None:
    assert load_spec() == Assignment()
    assert load_spec(default_spec_path()) == Assignment()


def test_the_default_spec_names_every_check_with_its_points_and_visibility() -> None:
    text = default_spec_text()
    for check in CHECKS:
        assert f"[checks.{check}]" in text
    for key in DEFAULT_NAMES:
        assert f"\n{key} = [" in text


def test_the_default_spec_ships_inside_the_package_data() -> None:
    import harness

    assert default_spec_path() == Path(str(harness.__file__)).parent / "spec-template.toml"
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert '"*.toml", "assignments/*/*.toml"' in pyproject


def test_an_empty_spec_is_the_default_assignment() -> None:
    assert parse_spec("") == Assignment()


def test_a_spec_sets_every_field_it_names() -> None:
    a = parse_spec("""
[assignment]
name = "mlp-2-5-1"
sizes = [2, 5, 1]
general_sizes = true
lr = 0.5
autograd = "forbid"

[names]
Y_cap = ["y_pred"]
lr = "eta"

[tolerances.float32]
rtol = 1e-3

[checks.dE_dW1]
points = 4.5
visibility = "hidden"

[checks.update]
visibility = "after_due_date"

[limits]
timeout = 5
cpu_seconds = 4
memory_bytes = "512MiB"
processes = 8
file_bytes = 1048576
output_bytes = "1 MB"
output_keep_bytes = "8KiB"

[hypothesis]
examples = 3

[gradescope]
submission = "backprop.ipynb"
""")
    assert (a.name, a.sizes, a.general_sizes, a.lr, a.autograd) == ("mlp-2-5-1", (2, 5, 1), True, 0.5, "forbid")
    assert a.aliases("Y_cap") == ("y_pred",) and a.aliases("lr") == ("eta",) and a.aliases("X") == ("X",)
    assert a.tolerance("float32") == Tolerance(rtol=1e-3, atol=1e-6)
    assert a.tolerance("float64") == Tolerance(rtol=1e-7, atol=1e-10)
    assert a.max_points("dE_dW1") == 4.5 and a.max_points("forward") == 2.0
    assert a.visibility_of("dE_dW1") == "hidden" and a.visibility_of("update") == "after_due_date"
    assert a.visible("forward") and not a.visible("update") and not a.visible("dE_dW1")
    assert a.limits == Limits(
        timeout=5.0,
        cpu_seconds=4.0,
        memory_bytes=512 * 1024**2,
        processes=8,
        file_bytes=1048576,
        output_bytes=1_000_000,
        output_keep_bytes=8192,
    )
    assert a.examples == 3 and a.submission == "backprop.ipynb"
    assert "y_pred" in a.tracked_names() and "Y_cap" not in a.tracked_names()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "colour = 1",
            "s.toml: colour=1: unknown key; expected one of assignment, names, tolerances, checks, limits, "
            "hypothesis, gradescope",
        ),
        (
            "[checks.forward]\npointz = 1",
            "s.toml: checks.forward.pointz=1: unknown key; expected one of points, visibility",
        ),
        (
            "[checks.fwd]\npoints = 1",
            "s.toml: checks.fwd={'points': 1}: unknown key; expected one of forward, loss, "
            "dE_dW2, dE_dW1, update, sigmoid, sigmoid_grad",
        ),
        ("[checks.forward]\npoints = 'two'", "s.toml: checks.forward.points='two': must be a number ≥ 0"),
        ("[checks.forward]\npoints = -1", "s.toml: checks.forward.points=-1: must be a number ≥ 0"),
        (
            "[checks.loss]\nvisibility = 'secret'",
            "s.toml: checks.loss.visibility='secret': expected one of visible, hidden, after_due_date, after_published",
        ),
        (
            "[assignment]\nsizes = [4, 3]",
            "s.toml: assignment.sizes=[4, 3]: expected three whole numbers ≥ 1: [n_in, n_hidden, n_out]",
        ),
        ("[assignment]\nlr = 0", "s.toml: assignment.lr=0: must be a number > 0"),
        ("[assignment]\nlr = nan", "s.toml: assignment.lr=nan: must be a number > 0"),
        ("[assignment]\nautograd = 'allow'", "s.toml: assignment.autograd='allow': expected one of report, forbid"),
        ("[assignment]\ngeneral_sizes = 1", "s.toml: assignment.general_sizes=1: expected true or false"),
        ("[assignment]\nname = ''", "s.toml: assignment.name='': expected a non-empty string"),
        (
            "[names]\nW3 = ['W3']",
            "s.toml: names.W3=['W3']: unknown key; expected one of X, Y, W1, W2, Z, H, O, Y_cap, E, "
            "dE_dW2, dE_dW1, W1_new, W2_new, lr",
        ),
        ("[names]\nW2 = ['W1']", "s.toml: names.W2=['W1']: 'W1' is already a name of W1"),
        (
            "[names]\nX = ['not an identifier']",
            "s.toml: names.X=['not an identifier']: expected a non-empty list of Python identifiers",
        ),
        (
            "[tolerances.float8]\nrtol = 1",
            "s.toml: tolerances.float8={'rtol': 1}: unknown key; expected one of float64, float32, float16, bfloat16",
        ),
        ("[tolerances.float32]\nrtol = -1", "s.toml: tolerances.float32.rtol=-1: must be a number ≥ 0"),
        ("[limits]\ntimeout = 0", "s.toml: limits.timeout=0: must be a number > 0"),
        (
            "[limits]\nmemory_bytes = '2 XB'",
            "s.toml: limits.memory_bytes='2 XB': expected a whole number of bytes or a "
            "size such as '2GiB', '512MiB', '16MB'",
        ),
        ("[limits]\nprocesses = 2.5", "s.toml: limits.processes=2.5: must be a whole number ≥ 1"),
        (
            "[limits]\nswap = 1",
            "s.toml: limits.swap=1: unknown key; expected one of timeout, cpu_seconds, memory_bytes, "
            "processes, file_bytes, output_bytes, output_keep_bytes, scratch_bytes",
        ),
        ("[hypothesis]\nexamples = true", "s.toml: hypothesis.examples=True: must be a whole number ≥ 1"),
        (
            "[gradescope]\nsubmission = 'a/b.py'",
            "s.toml: gradescope.submission='a/b.py': expected a file name (no folder), e.g. 'backprop.ipynb'",
        ),
        ("checks = 3", "s.toml: checks=3: expected a table"),
    ],
)
def test_a_bad_spec_is_one_line_naming_the_key_and_the_value(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, source="s.toml")
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_a_spec_that_is_not_toml_says_where_it_broke() -> None:
    with pytest.raises(SpecError, match=r"^s\.toml: not valid TOML: .*line 1"):
        parse_spec("[checks\n", source="s.toml")


def test_a_spec_error_is_a_usage_error_so_the_cli_exits_2() -> None:
    assert issubclass(SpecError, UsageError)


def test_a_missing_spec_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"^spec='.*nope\.toml': no such file$"):
        load_spec(tmp_path / "nope.toml")


def test_a_spec_written_from_the_default_and_edited_loads(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(
        default_spec_text().replace(
            '[checks.dE_dW2]\npoints = 3\nvisibility = "visible"', '[checks.dE_dW2]\npoints = 5\nvisibility = "hidden"'
        )
    )
    a = load_spec(path)
    assert a.max_points("dE_dW2") == 5.0 and a.visibility_of("dE_dW2") == "hidden"


def test_an_assignment_refuses_an_unknown_visibility() -> None:
    with pytest.raises(UsageError, match=r"^visibility\['loss'\]='secret': expected one of"):
        Assignment(visibility={"loss": "secret"})


def test_loading_a_spec_does_not_import_torch() -> None:
    code = (
        "import sys; from harness.spec import load_spec; load_spec(); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
