"""The graph diagnosis of a course's assignment (harness.diagnose.graph, harness.diagnose.values): each
rule names a mistake planted by hand (the student's formula written out here, not made by the engine),
and stays silent on right values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import Tensor

from harness.computation import draw_inputs, truth_of
from harness.definition import load_assignment
from harness.diagnose.values import (
    _closed_form,
    diagnose_value,
    summed_over_wrong_axis,
    trace_of,
    wrong_shaped_operand,
)
from harness.records.definition import GRAD, Definition
from harness.records.result import ValueEvidence, ValueRun

SOFTMAX = load_assignment("two-layer-softmax").definition
MLP = load_assignment("mlp-class").definition
TINY = """
[assignment]
name = "tiny"
style = "script"
loss = "loss"
lr = 0.5
runs = 2

[sizes]
N = [5, 3]
D = 4
K = 2

[inputs.X]
shape = ["N", "D"]
kind = "input"

[inputs.Y]
shape = ["N", "K"]
kind = "input"

[inputs.W]
shape = ["D", "K"]
kind = "weight"

[read]
X = ["X"]
Y = ["Y"]
W = ["W"]
"grad.W" = ["dW"]
"new.W" = ["W_new"]

[checks.dW]
values = ["grad.W"]
points = 1

[checks.update]
values = ["new.W"]
points = 1
"""
TINY_REFERENCE = """
import torch


def compute(X, Y, W):
    z = X @ W
    s = torch.sigmoid(z)
    loss = ((s - Y) ** 2).mean()
    return {"z": z, "s": s, "loss": loss}
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Definition:
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "assignment.toml").write_text(TINY, encoding="utf-8")
    (folder / "reference.py").write_text(TINY_REFERENCE, encoding="utf-8")
    (folder / "solution.py").write_text("", encoding="utf-8")
    definition = load_assignment(str(folder)).definition
    assert definition is not None
    return definition


Student = Callable[[dict[str, Tensor]], Tensor]


def _evidence(
    definition: Definition, quantity: str, student: Student, cell: dict[str, object] | None = None
) -> ValueEvidence:
    """The evidence a failing check leaves, on two of the grader's runs (two batch sizes)."""
    cell = cell if cell is not None else definition.cells()[0]
    runs = []
    truths = []
    for run in (0, 1):
        inputs = draw_inputs(definition, run, 11 + run)
        truth = truth_of(definition, inputs, cell)
        truths.append(truth)
        runs.append(ValueRun(inputs, cell, student({**truth.values}).to(torch.float64), {}))
    truth = truths[0]
    return ValueEvidence(
        quantity=quantity,
        submitted=runs[0].submitted,
        expected=truth.values[quantity],
        truths=truth.values,
        read={},
        consumers={n: truth.consumers(n) for n in truth.order},
        names={quantity: quantity},
        rtol=1e-7,
        atol=1e-10,
        definition=definition,
        runs=tuple(runs),
    )


def _softmax_parts(v: dict[str, Tensor]) -> tuple[Tensor, Tensor, int]:
    p = torch.softmax(v["scores"], dim=1)
    onehot = torch.nn.functional.one_hot(v["y"], p.shape[1]).to(p.dtype)
    return p, onehot, p.shape[0]


def _dscores(v: dict[str, Tensor]) -> Tensor:
    p, onehot, n = _softmax_parts(v)
    return (p - onehot) / n


# Each: (quantity, the student's formula, the diagnosis id it must get).
SOFTMAX_BUGS: dict[str, tuple[str, Student, str]] = {
    "no relu mask": ("grad.W1", lambda v: v["X"].T @ (_dscores(v) @ v["W2"].T), "missing-local-derivative"),
    "relu mask by the output": (
        "grad.W1",
        lambda v: v["X"].T @ ((_dscores(v) @ v["W2"].T) * v["a"]),
        "derivative-at-wrong-tensor",
    ),
    "softmax without the one-hot": (
        "grad.W2",
        lambda v: v["a"].T @ (_softmax_parts(v)[0] / _softmax_parts(v)[2]),
        "softmax-no-onehot",
    ),
    "one-hot added, not subtracted": (
        "grad.b2",
        lambda v: ((_softmax_parts(v)[0] + _softmax_parts(v)[1]) / _softmax_parts(v)[2]).sum(0),
        "scale--1",
    ),
    "pre-activation for the activation": ("grad.W2", lambda v: v["h"].T @ _dscores(v), "wrong-operand"),
    "X for the hidden layer": (
        "grad.W1",
        lambda v: v["X"].T @ ((_dscores(v) @ v["W2"].T) * (v["h"] > 0)) * 2,
        "scale-2",
    ),
    "one-hot on whole columns": (
        "grad.b2",
        lambda v: ((_softmax_parts(v)[0] - _columns(v)) / _softmax_parts(v)[2]).sum(0),
        "wrong-operand",
    ),
}


def _columns(v: dict[str, Tensor]) -> Tensor:
    p, _, _ = _softmax_parts(v)
    columns = torch.zeros_like(p)
    columns[:, v["y"]] = 1.0
    return columns


@pytest.mark.parametrize("bug", sorted(SOFTMAX_BUGS))
def test_a_hand_written_mistake_in_the_softmax_network_is_named(bug: str) -> None:
    assert SOFTMAX is not None
    quantity, student, want = SOFTMAX_BUGS[bug]
    found = diagnose_value(_evidence(SOFTMAX, quantity, student))
    assert found is not None and found.id == want, found


def _mlp_cell(f: str, g: str, loss: str = "mse") -> dict[str, object]:
    return {"f_function": f, "g_function": g, "loss": loss}


def _mlp_backward(
    v: dict[str, Tensor], df: Callable[[Tensor, Tensor], Tensor], dg: Callable[[Tensor, Tensor], Tensor]
) -> Tensor:
    """dJ/dW1 of the mlp-class network (weights (out, in)), MSE mean over every entry."""
    dy = 2 * (v["y_hat"] - v["y"]) / v["y"].numel()
    dz3 = dy * dg(v["z3"], v["y_hat"])
    dz1 = (dz3 @ v["W2"]) * df(v["z1"], v["z2"])
    return dz1.T @ v["x"]


def _sig(z: Tensor, s: Tensor) -> Tensor:
    return s * (1 - s)


def _at_output(z: Tensor, s: Tensor) -> Tensor:
    return torch.sigmoid(s) * (1 - torch.sigmoid(s))


def _relu(z: Tensor, a: Tensor) -> Tensor:
    return (z > 0).to(z.dtype)


MLP_BUGS: dict[str, tuple[dict[str, object], Student, str]] = {
    "sigmoid' at the output, every layer": (
        _mlp_cell("sigmoid", "sigmoid"),
        lambda v: _mlp_backward(v, _at_output, _at_output),
        "derivative-at-wrong-tensor",
    ),
    "relu' as the relu's output": (
        _mlp_cell("relu", "sigmoid"),
        lambda v: _mlp_backward(v, lambda z, a: a, _sig),
        "derivative-at-wrong-tensor",
    ),
    "tanh' where sigmoid' belongs": (
        _mlp_cell("sigmoid", "sigmoid"),
        lambda v: _mlp_backward(v, lambda z, s: 1 - torch.tanh(z) ** 2, _sig),
        "other-activation-derivative",
    ),
    "the output activation's derivative left out": (
        _mlp_cell("relu", "sigmoid"),
        lambda v: _mlp_backward(v, _relu, lambda z, s: torch.ones_like(s)),
        "missing-local-derivative",
    ),
}


@pytest.mark.parametrize("bug", sorted(MLP_BUGS))
def test_a_hand_written_mistake_in_the_class_network_is_named(bug: str) -> None:
    assert MLP is not None
    cell, student, want = MLP_BUGS[bug]
    found = diagnose_value(_evidence(MLP, "grad.W1", student, cell))
    assert found is not None and found.id == want, found


TINY_BUGS: dict[str, tuple[str, Student, str]] = {
    "update up the gradient": ("new.W", lambda v: v["W"] + 0.5 * v["grad.W"], "update-sign"),
    "no update": ("new.W", lambda v: v["W"].clone(), "no-update"),
    "learning rate 1": ("new.W", lambda v: v["W"] - v["grad.W"], "update-lr"),
    "sigmoid' left out": (
        "grad.W",
        lambda v: v["X"].T @ (2 * (v["s"] - v["Y"]) / v["Y"].numel()),
        "missing-local-derivative",
    ),
    "sigmoid' on the pre-activation": (
        "grad.W",
        lambda v: v["X"].T @ (2 * (v["s"] - v["Y"]) / v["Y"].numel() * v["z"] * (1 - v["z"])),
        "derivative-at-wrong-tensor",
    ),
}


@pytest.mark.parametrize("bug", sorted(TINY_BUGS))
def test_update_and_activation_mistakes_of_a_one_layer_assignment_are_named(tiny: Definition, bug: str) -> None:
    quantity, student, want = TINY_BUGS[bug]
    found = diagnose_value(_evidence(tiny, quantity, student))
    assert found is not None and found.id == want, found


def test_the_gradient_of_the_updated_weights_is_named(tiny: Definition) -> None:
    def student(v: dict[str, Tensor]) -> Tensor:
        moved = v["W"] - 0.5 * v["grad.W"]
        z = v["X"] @ moved
        s = torch.sigmoid(z)
        grad = v["X"].T @ (2 * (s - v["Y"]) / v["Y"].numel() * s * (1 - s))
        return v["W"] - 0.5 * grad

    found = diagnose_value(_evidence(tiny, "new.W", student))
    assert found is not None and found.id == "gradient-of-updated", found


def test_a_mistake_that_holds_on_one_run_only_is_not_named(tiny: Definition) -> None:
    ev = _evidence(tiny, "grad.W", lambda v: v["X"].T @ (2 * (v["s"] - v["Y"]) / v["Y"].numel()))
    other = ev.runs[1]
    ev = replace(ev, runs=(ev.runs[0], ValueRun(other.inputs, other.cell, other.submitted * 1.37, {})))
    found = diagnose_value(ev)
    assert found is None or found.id != "missing-local-derivative", found


@pytest.mark.parametrize(("definition", "quantity"), [(SOFTMAX, "grad.W1"), (SOFTMAX, "grad.b2"), (MLP, "grad.W2")])
def test_no_mutant_of_the_right_gradient_is_the_right_gradient_itself(
    definition: Definition | None, quantity: str
) -> None:
    assert definition is not None
    ev = _evidence(definition, quantity, lambda v: v[quantity])
    found = diagnose_value(ev)
    assert found is None, found


def test_the_replayed_backward_pass_is_autograds_at_every_named_value() -> None:
    for definition in (SOFTMAX, MLP):
        assert definition is not None
        for cell in definition.cells():
            inputs = draw_inputs(definition, 0, 3)
            truth = truth_of(definition, inputs, cell)
            trace = trace_of(definition, inputs, cell)
            for name in trace.of_name:
                grad = trace.grad(name)
                if grad is not None and GRAD + name in truth.values:
                    torch.testing.assert_close(grad, truth.values[GRAD + name], rtol=1e-12, atol=1e-14)


def test_messages_use_the_assignments_names_and_print_no_formula() -> None:
    assert SOFTMAX is not None
    found = diagnose_value(_evidence(SOFTMAX, "grad.W1", SOFTMAX_BUGS["no relu mask"][1]))
    assert found is not None
    assert "relu" in found.message and "from a back to h" in found.message
    assert "(h > 0)" not in found.message and "@" not in found.message


def test_the_drill_names_the_step_of_the_first_wrong_gradient(tmp_path: Path) -> None:
    drill = load_assignment("backprop-drill").definition
    assert drill is not None

    def student(v: dict[str, Tensor]) -> Tensor:  # dcounts without the path through counts_sum
        return v["counts_sum_inv"] * v["grad.probs"]

    ev = _evidence(drill, "grad.counts", student)
    ev = replace(ev, read={"grad.probs": ev.truths["grad.probs"], "grad.counts_sum": ev.truths["grad.counts_sum"]})
    found = diagnose_value(ev)
    assert found is not None and found.id == "missing-branch", found
    assert found.message.startswith("grad.counts is the first wrong gradient"), found.message


def _truth_shapes(definition: Definition) -> tuple[dict[str, Tensor], list[tuple[int, ...]]]:
    inputs = draw_inputs(definition, 0, 11)
    values = dict(truth_of(definition, inputs, definition.cells()[0]).values)
    return values, [tuple(v.shape) for v in values.values()]


WRONG_AXIS: dict[str, tuple[str, Student]] = {
    "db1 summed over the hidden units": ("grad.b1", lambda v: v["grad.h"].sum(1)),
    "db2 summed over everything": ("grad.b2", lambda v: v["grad.scores"].sum()),
    "db2 summed over the classes, kept": ("grad.b2", lambda v: v["grad.scores"].sum(1, keepdim=True)),
}


@pytest.mark.parametrize("bug", sorted(WRONG_AXIS))
def test_a_bias_gradient_summed_over_the_wrong_dimension_is_named(bug: str) -> None:
    assert SOFTMAX is not None
    values, shapes = _truth_shapes(SOFTMAX)
    quantity, student = WRONG_AXIS[bug]
    got, want = tuple(student(values).shape), tuple(values[quantity].shape)
    assert got != want
    assert summed_over_wrong_axis(got, want, shapes) is not None


def test_right_shapes_and_other_wrong_shapes_are_not_a_wrong_axis_sum() -> None:
    assert SOFTMAX is not None
    values, shapes = _truth_shapes(SOFTMAX)
    for quantity in ("grad.b1", "grad.b2", "grad.W1", "grad.W2"):
        want = tuple(values[quantity].shape)
        assert summed_over_wrong_axis(want, want, shapes) is None
    # dW1 from the wrong operand (h for X): (H, H), no sum of a broadcast value
    wrong = tuple((values["h"].T @ values["grad.h"]).shape)
    assert summed_over_wrong_axis(wrong, tuple(values["grad.W1"].shape), shapes) is None


TRANSPOSED: dict[str, tuple[str, Student, str]] = {
    "dW1 transposed alone": ("grad.W1", lambda v: v["grad.h"].T @ v["X"], "transposed"),
    "dW1 transposed and negated": ("grad.W1", lambda v: -(v["grad.h"].T @ v["X"]), "transposed+scale--1"),
    "dW2 transposed, from the pre-activation": (
        "grad.W2",
        lambda v: v["grad.scores"].T @ v["h"],
        "transposed+wrong-operand",
    ),
}


@pytest.mark.parametrize("bug", sorted(TRANSPOSED))
def test_a_transposed_gradient_is_diagnosed_again_transposed_back(bug: str) -> None:
    assert SOFTMAX is not None
    quantity, student, want = TRANSPOSED[bug]
    ev = _evidence(SOFTMAX, quantity, lambda v: student(v).T)  # what the check does: the transpose is judged
    assert tuple(ev.submitted.shape) == tuple(ev.expected.shape)
    found = diagnose_value(replace(ev, transposed=True))
    assert found is not None and found.id == want, found
    assert "transpose" in found.message


def test_the_right_numbers_reshaped_where_they_should_be_transposed_are_named() -> None:
    assert SOFTMAX is not None
    ev = _evidence(SOFTMAX, "grad.W2", lambda v: (v["grad.scores"].T @ v["a"]).reshape(v["W2"].shape))
    found = diagnose_value(ev)
    assert found is not None and found.id == "missing-transpose", found


def test_a_product_without_its_transpose_that_raises_at_one_batch_size_is_not_zero() -> None:
    assert MLP is not None
    cell = _mlp_cell("relu", "sigmoid")

    def student(v: dict[str, Tensor]) -> Tensor:  # dz3 @ z2: runs only when the batch is K; else zeros
        dz3 = v["grad.z3"]
        return dz3 @ v["z2"] if dz3.shape[0] == dz3.shape[1] else torch.zeros_like(v["grad.W2"])

    ev = _evidence(MLP, "grad.W2", student, cell)
    assert bool((ev.runs[0].submitted == 0).all()) and not bool((ev.runs[1].submitted == 0).all())
    found = diagnose_value(ev)
    assert found is not None and found.id == "missing-transpose", found


def test_a_value_zero_on_one_run_only_is_not_zero_everywhere(tiny: Definition) -> None:
    ev = _evidence(tiny, "grad.W", lambda v: v["grad.W"] * 0 if v["X"].shape[0] == 5 else v["grad.W"] * 1.37)
    found = diagnose_value(ev)
    assert found is None or found.id != "zero", found


def test_a_factor_reshaped_where_it_should_be_transposed_is_named() -> None:
    assert SOFTMAX is not None and MLP is not None

    def dw2(v: dict[str, Tensor]) -> Tensor:
        a = v["a"]
        return a.reshape(a.shape[1], a.shape[0]) @ _dscores(v)

    found = diagnose_value(_evidence(SOFTMAX, "grad.W2", dw2))
    assert found is not None and found.id == "missing-transpose", found

    def dw1(v: dict[str, Tensor]) -> Tensor:
        dz1 = v["grad.z1"]
        return dz1.reshape(dz1.shape[1], -1) @ v["x"]

    found = diagnose_value(_evidence(MLP, "grad.W1", dw1, _mlp_cell("relu", "sigmoid")))
    assert found is not None and found.id == "missing-transpose", found


def test_scale_batch_holds_on_a_run_where_the_batch_is_two() -> None:
    assert MLP is not None
    ev = _evidence(MLP, "grad.W1", lambda v: v["grad.W1"] / v["x"].shape[0], _mlp_cell("relu", "sigmoid"))
    found = diagnose_value(ev)
    assert found is not None and found.id == "scale-batch", found


def _drill() -> Definition:
    drill = load_assignment("backprop-drill").definition
    assert drill is not None
    return drill


def _first_link(definition: Definition, quantity: str, student: Student, upstream: tuple[str, ...]) -> ValueEvidence:
    """The evidence with the gradients ``upstream`` read right: the mistake is in the one step."""
    ev = _evidence(definition, quantity, student)
    return replace(ev, read={q: ev.truths[q] for q in upstream})


DRILL_BUGS: dict[str, tuple[str, Student, tuple[str, ...], str]] = {
    "bnvar' without the eps": (
        "grad.bnvar",
        lambda v: -0.5 * v["bnvar"] ** -1.5 * v["grad.bnvar_inv"],
        ("grad.bnvar_inv",),
        "derivative-at-wrong-tensor",
    ),
    "tanh' as 1 - h": ("grad.hpreact", lambda v: (1 - v["h"]) * v["grad.h"], ("grad.h",), "wrong-constant"),
    "the power rule without its 2": (
        "grad.bndiff",
        lambda v: v["bndiff"] * v["grad.bndiff2"] + v["bnvar_inv"] * v["grad.bnraw"],
        ("grad.bndiff2", "grad.bnraw"),
        "wrong-constant",
    ),
    "the path through counts_sum added twice": (
        "grad.counts",
        lambda v: v["counts_sum_inv"] * v["grad.probs"] + 2 * v["grad.counts_sum"].expand_as(v["counts"]),
        ("grad.probs", "grad.counts_sum"),
        "double-count",
    ),
}


@pytest.mark.parametrize("bug", sorted(DRILL_BUGS))
def test_a_hand_written_mistake_in_the_drill_is_named(bug: str) -> None:
    quantity, student, upstream, want = DRILL_BUGS[bug]
    found = diagnose_value(_first_link(_drill(), quantity, student, upstream))
    assert found is not None and found.id == want, found


@pytest.mark.parametrize("quantity", ["grad.bnvar", "grad.hpreact", "grad.bndiff", "grad.counts"])
def test_right_drill_gradients_get_no_diagnosis(quantity: str) -> None:
    found = diagnose_value(_evidence(_drill(), quantity, lambda v: v[quantity]))
    assert found is None, found


def test_a_relu_mask_taken_from_the_gradient_is_named() -> None:
    assert SOFTMAX is not None

    def student(v: dict[str, Tensor]) -> Tensor:
        da = _dscores(v) @ v["W2"].T
        return v["X"].T @ (da * (da > 0))

    found = diagnose_value(_evidence(SOFTMAX, "grad.W1", student))
    assert found is not None and found.id == "derivative-at-wrong-tensor", found


def test_a_relu_mask_of_the_product_without_the_bias_is_named_and_the_class_mlps_sigmoid_too() -> None:
    assert SOFTMAX is not None and MLP is not None

    def student(v: dict[str, Tensor]) -> Tensor:  # mask = (X @ W1) > 0: b1 left out
        da = _dscores(v) @ v["W2"].T
        return v["X"].T @ (da * ((v["X"] @ v["W1"]) > 0))

    found = diagnose_value(_evidence(SOFTMAX, "grad.W1", student))
    assert found is not None and found.id == "derivative-at-wrong-tensor" and "b1" in found.message, found

    def sigmoid_student(v: dict[str, Tensor]) -> Tensor:  # sigmoid'(x @ W1.T) for the hidden layer
        dz3 = 2 * (v["y_hat"] - v["y"]) / v["y"].numel() * v["y_hat"] * (1 - v["y_hat"])
        s = torch.sigmoid(v["x"] @ v["W1"].T)
        return ((dz3 @ v["W2"]) * s * (1 - s)).T @ v["x"]

    found = diagnose_value(_evidence(MLP, "grad.W1", sigmoid_student, _mlp_cell("sigmoid", "sigmoid")))
    assert found is not None and found.id == "derivative-at-wrong-tensor" and "b1" in found.message, found


def test_a_one_hot_taken_from_the_rows_the_labels_number_is_named() -> None:
    assert SOFTMAX is not None

    def student(v: dict[str, Tensor]) -> Tensor:  # dscores[y] -= 1: whole rows y_i, not entries (i, y_i)
        p, _, n = _softmax_parts(v)
        d = p.clone()
        d[v["y"]] -= 1
        return v["a"].T @ (d / n)

    found = diagnose_value(_evidence(SOFTMAX, "grad.W2", student))
    assert found is not None and found.id == "softmax-no-onehot" and "rows" in found.message, found


def _shaped_runs(
    definition: Definition, student: Student, cell: dict[str, object]
) -> list[tuple[dict[str, Tensor], dict[str, object], Tensor]]:
    runs = []
    for run in (0, 1):
        inputs = draw_inputs(definition, run, 5 + run)
        runs.append((inputs, cell, student(dict(truth_of(definition, inputs, cell).values))))
    return runs


def test_a_wrong_operand_that_changes_the_shape_is_named_through_the_weights_transpose() -> None:
    assert MLP is not None
    cell = _mlp_cell("relu", "sigmoid")

    def student(v: dict[str, Tensor]) -> Tensor:  # dJdW1 = dz1.T @ z1, where x belongs: (H, H), not (H, D)
        dz3 = 2 * (v["y_hat"] - v["y"]) / v["y"].numel() * v["y_hat"] * (1 - v["y_hat"])
        dz1 = (dz3 @ v["W2"]) * (v["z1"] > 0)
        return dz1.T @ v["z1"]

    found = wrong_shaped_operand(MLP, "grad.W1", _shaped_runs(MLP, student, cell), {}, 1e-10, 1e-7)
    assert found is not None and found.id == "wrong-operand" and "z1" in found.message, found


def test_a_bias_gradient_copied_from_the_other_layer_is_named_and_the_right_one_is_not() -> None:
    assert SOFTMAX is not None
    cell: dict[str, object] = {}
    copied = wrong_shaped_operand(
        SOFTMAX, "grad.b1", _shaped_runs(SOFTMAX, lambda v: v["grad.b2"], cell), {}, 1e-10, 1e-7
    )
    assert copied is not None and copied.id == "wrong-operand", copied
    axis = wrong_shaped_operand(
        SOFTMAX, "grad.b1", _shaped_runs(SOFTMAX, lambda v: v["grad.h"].sum(1), cell), {}, 1e-10, 1e-7
    )
    assert axis is None  # the right gradient summed over the wrong axis is the shape rule's, not a wrong operand


def _drill_first_link(quantity: str, student: Student, upstream: tuple[str, ...]) -> ValueEvidence:
    drill = load_assignment("backprop-drill").definition
    assert drill is not None
    ev = _evidence(drill, quantity, student)
    return replace(ev, read={GRAD + u: ev.truths[GRAD + u] for u in upstream})


def test_a_log_derivative_that_multiplies_by_its_input_is_named_at_its_step() -> None:
    ev = _drill_first_link("grad.probs", lambda v: v["grad.logprobs"] * v["probs"], ("logprobs",))
    found = diagnose_value(ev)
    assert found is not None and found.id == "derivative-at-wrong-tensor" and "log" in found.message, found


def test_a_pick_by_row_and_label_written_as_whole_columns_is_named() -> None:
    def student(v: dict[str, Tensor]) -> Tensor:
        n = v["logprobs"].shape[0]
        d = torch.zeros_like(v["logprobs"])
        d[:, v["Yb"]] = -1.0 / n
        return d

    found = diagnose_value(_drill_first_link("grad.logprobs", student, ()))
    assert found is not None and found.id == "wrong-operand" and "columns" in found.message, found


W2V = load_assignment("word2vec-softmax").definition


def _w2v_parts(v: dict[str, Tensor]) -> tuple[Tensor, Tensor, int]:
    o = int(v["outsideWordIdx"])
    p = torch.softmax(v["scores"], dim=0)
    onehot = torch.zeros_like(p)
    onehot[o] = 1.0
    return p, onehot, o


W2V_BUGS: dict[str, tuple[str, Student, str]] = {
    "the one-hot one index off": (
        "grad.centerWordVec",
        lambda v: v["outsideVectors"].T @ (_w2v_parts(v)[0] - torch.roll(_w2v_parts(v)[1], 1)),
        "softmax-no-onehot",
    ),
    "the centre vector's gradient with the outside word's vector for v_c": (
        "grad.outsideVectors",
        lambda v: torch.outer(_w2v_parts(v)[0] - _w2v_parts(v)[1], v["outsideVectors"][_w2v_parts(v)[2]]),
        "wrong-operand",
    ),
    "U reshaped where it is transposed": (
        "grad.centerWordVec",
        lambda v: v["outsideVectors"].reshape(v["outsideVectors"].shape[1], -1) @ (_w2v_parts(v)[0] - _w2v_parts(v)[1]),
        "missing-transpose",
    ),
    "a base-10 logarithm in the loss": ("loss", lambda v: v["loss"] / torch.log(torch.tensor(10.0)), "wrong-constant"),
    "the softmax's derivative applied again": (
        "grad.centerWordVec",
        lambda v: (
            v["outsideVectors"].T @ ((_w2v_parts(v)[0] - _w2v_parts(v)[1]) * _w2v_parts(v)[0] * (1 - _w2v_parts(v)[0]))
        ),
        "double-count",
    ),
    "the one-hot taken away once per word of the vocabulary": (
        "grad.centerWordVec",
        lambda v: v["outsideVectors"].T @ (_w2v_parts(v)[0] - v["scores"].numel() * _w2v_parts(v)[1]),
        "double-count",
    ),
    "the loss without its log": ("loss", lambda v: -_w2v_parts(v)[0][_w2v_parts(v)[2]], "other-value"),
    "only the outside word's own score differentiated, the normaliser's term left out": (
        "grad.centerWordVec",
        lambda v: -v["outsideVectors"][_w2v_parts(v)[2]],
        "missing-branch",
    ),
    "only the outside word's row of U": (
        "grad.outsideVectors",
        lambda v: _only_row(torch.outer(_w2v_parts(v)[0] - _w2v_parts(v)[1], v["centerWordVec"]), _w2v_parts(v)[2]),
        "missing-branch",
    ),
}


def _only_row(full: Tensor, row: int) -> Tensor:
    only = torch.zeros_like(full)
    only[row] = full[row]
    return only


@pytest.mark.parametrize("bug", sorted(W2V_BUGS))
def test_a_hand_written_mistake_in_word2vec_is_named(bug: str) -> None:
    assert W2V is not None
    quantity, student, want = W2V_BUGS[bug]
    found = diagnose_value(_evidence(W2V, quantity, student))
    assert found is not None and found.id == want, found


def _closed_form_dhprebn(bessel: bool) -> Student:
    """The batchnorm backward in one line, from dhpreact (the lecture's closed form)."""

    def student(v: dict[str, Tensor]) -> Tensor:
        n = v["hprebn"].shape[0]
        d, raw = v["grad.hpreact"], v["bnraw"]
        factor = n / (n - 1) if bessel else 1.0
        return v["bngain"] * v["bnvar_inv"] / n * (n * d - d.sum(0) - factor * raw * (d * raw).sum(0))

    return student


def test_a_closed_form_that_skips_right_upstream_gradients_is_named_by_the_step_above_them() -> None:
    # dbndiff and dbnmeani are right, but dhprebn is computed from dhpreact in one line, derived
    # with the biased variance: the mistake is at bnvar's 1/(n-1), above both
    ev = _first_link(_drill(), "grad.hprebn", _closed_form_dhprebn(False), ("grad.bndiff", "grad.bnmeani"))
    found = diagnose_value(ev)
    assert found is not None and found.id == "wrong-constant", found
    assert "closed form" in found.message and "bnvar" in found.message and "count" in found.message, found


def test_the_right_closed_form_gets_no_diagnosis_and_an_unexplained_one_is_only_pointed_at() -> None:
    right = _first_link(_drill(), "grad.hprebn", _closed_form_dhprebn(True), ("grad.bndiff", "grad.bnmeani"))
    assert _closed_form(right, ["bndiff", "bnmeani"]) is None

    def fused(v: dict[str, Tensor]) -> Tensor:  # softmax / n, then -1 at the labels: no single wrong step
        n = v["logits"].shape[0]
        d = torch.softmax(v["logits"], 1) / n
        d[range(n), v["Yb"]] -= 1
        return d

    found = diagnose_value(_first_link(_drill(), "grad.logits", fused, ("grad.logit_maxes", "grad.norm_logits")))
    assert found is not None and found.id == "first-wrong-link", found


def test_a_constant_that_is_a_count_gets_the_count_one_off_and_no_other_constant_does() -> None:
    drill = _drill()
    inputs = draw_inputs(drill, 0, 11)
    trace = trace_of(drill, inputs, drill.cells()[0])
    n = int(inputs["Xb"].shape[0])
    target = trace.of_name["bndiff2"]
    right = trace.grads[(target, 0)]
    counted = {
        (m.node, m.detail): trace.effect(m, target)
        for m in trace.mutants(set(range(len(trace.nodes))), {})
        if m.detail.startswith("count")
    }
    at_bessel = [e for e in counted.values() if e is not None and torch.allclose(e, right * (n - 1) / n)]
    assert at_bessel, "1/(n-1) taken as 1/n"
    assert any(e is not None and torch.allclose(e, right * (n - 1) / (n - 2)) for e in counted.values())
    kinds = {m.kind for m in trace.mutants(set(range(len(trace.nodes))), {}) if m.detail.startswith("count")}
    assert kinds == {"wrong-constant"}
    steps = set(range(trace.of_name["bnvar_inv"], trace.of_name["bnvar"]))  # (bnvar + 1e-5) ** -0.5
    assert {trace.nodes[k].op for k in steps} == {"Pow", "Add"}
    assert all(not m.detail.startswith("count") for m in trace.mutants(steps, {}))  # no count there


@pytest.mark.parametrize("assignment", ["backprop-drill", "two-layer-softmax", "mlp-class", "word2vec-softmax"])
def test_a_mutants_projected_change_is_what_replaying_it_gives(assignment: str) -> None:
    definition = load_assignment(assignment).definition
    assert definition is not None
    trace = trace_of(definition, draw_inputs(definition, 0, 11), definition.cells()[0])
    checked = 0
    for name in trace.of_name:
        target = trace.of_name[name]
        found = trace.adjoints(target)
        if found is None or (target, 0) not in trace.grads:
            continue
        r = found[0]
        mutants = list(trace.mutants(trace.reaches(target) - {target}, {}))
        for mutant, together in zip(mutants, trace.projections(mutants, target)):
            replayed, projected = trace.effect(mutant, target), trace.projected(mutant, target)
            if replayed is None:
                continue
            assert projected is not None and together is not None
            assert abs(together - projected) <= 1e-9 * (1 + abs(projected))
            change = float((r * (replayed - trace.grads[(target, 0)])).detach().sum())
            assert abs(change - projected) <= 1e-9 * (1 + abs(change)), (name, mutant.kind, mutant.detail)
            checked += 1
    assert checked > 20


def test_a_runs_trace_is_built_once_for_all_its_checks_and_not_for_other_inputs() -> None:
    drill = _drill()
    inputs = draw_inputs(drill, 0, 11)
    cell = drill.cells()[0]
    assert trace_of(drill, inputs, cell) is trace_of(drill, inputs, cell)
    assert trace_of(drill, dict(inputs), cell) is not trace_of(drill, inputs, cell)


def test_a_diagnosis_runs_on_one_thread_and_gives_the_callers_threads_back() -> None:
    from harness.diagnose import diagnose_check
    from harness.records.result import CheckResult

    seen: list[int] = []
    ev = _first_link(_drill(), "grad.hpreact", lambda v: (1 - v["h"]) * v["grad.h"], ("grad.h",))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        import harness.diagnose as diagnose

        original = diagnose.diagnose_value

        def spy(e: ValueEvidence) -> object:
            seen.append(torch.get_num_threads())
            return original(e)

        diagnose.diagnose_value = spy  # type: ignore[assignment]
        try:
            result = diagnose_check(CheckResult("dhpreact", "fail", 0.0, 1.0, "wrong", evidence=ev))
        finally:
            diagnose.diagnose_value = original
        assert seen == [1] and torch.get_num_threads() == 2
        assert result.diagnosis is not None and result.diagnosis.id == "wrong-constant"
    finally:
        torch.set_num_threads(before)


def _layer(v: dict[str, Tensor], hidden: Tensor) -> Tensor:
    return hidden @ v["W2"].T + v["b2"]


MLP_FORWARD_BUGS: dict[str, tuple[Student, str, str]] = {
    "the output activation applied twice": (
        lambda v: torch.sigmoid(torch.sigmoid(_layer(v, v["z2"]))),
        "double-count",
        "twice",
    ),
    "the second layer fed the pre-activation": (lambda v: torch.sigmoid(_layer(v, v["z1"])), "wrong-operand", "z1"),
    "tanh for the output sigmoid": (lambda v: torch.tanh(_layer(v, v["z2"])), "wrong-activation", "tanh"),
}


@pytest.mark.parametrize("bug", sorted(MLP_FORWARD_BUGS))
def test_a_forward_pass_with_one_step_changed_is_named(bug: str) -> None:
    assert MLP is not None
    student, want, word = MLP_FORWARD_BUGS[bug]
    found = diagnose_value(_evidence(MLP, "y_hat", student, _mlp_cell("relu", "sigmoid")))
    assert found is not None and found.id == want and word in found.message, found


def test_a_sigmoid_given_twice_its_input_is_a_wrong_constant() -> None:
    assert W2V is not None  # sigmoid as (1 + tanh(x)) / 2, the x / 2 inside tanh left out
    found = diagnose_value(_evidence(W2V, "sigmoid", lambda v: (1 + torch.tanh(v["x"])) / 2))
    assert found is not None and found.id == "wrong-constant" and "input" in found.message, found


def test_a_right_forward_pass_and_one_no_single_step_explains_get_no_diagnosis() -> None:
    assert MLP is not None
    cell = _mlp_cell("relu", "sigmoid")
    assert diagnose_value(_evidence(MLP, "y_hat", lambda v: v["y_hat"], cell)) is None
    both = diagnose_value(_evidence(MLP, "y_hat", lambda v: torch.tanh(_layer(v, v["z1"])), cell))  # two slips
    assert both is None, both


def test_the_loss_is_not_searched_for_forward_mistakes(tiny: Definition) -> None:
    # the loss of a forward pass without its sigmoid: the mistake is named at the forward values checked
    assert diagnose_value(_evidence(tiny, "loss", lambda v: ((v["z"] - v["Y"]) ** 2).mean())) is None


def test_a_replay_started_at_the_first_changed_step_is_the_whole_replay() -> None:
    assert MLP is not None
    cell = _mlp_cell("sigmoid", "sigmoid")
    trace = trace_of(MLP, draw_inputs(MLP, 0, 11), cell)
    target = trace.of_name["W1"]
    steps = [k for k, node in enumerate(trace.nodes) if node.op == "Sigmoid"]
    assert len(steps) == 2

    def edit(k: int, g: Tensor) -> dict[int, Tensor] | None:  # sigmoid' left out at both layers
        return {0: g} if k in steps else None

    whole, started = trace.replay(edit, target), trace.replay(edit, target, min(steps))
    assert whole is not None and started is not None and torch.allclose(whole, started, rtol=1e-12, atol=1e-15)
    assert not torch.allclose(whole, trace.grads[(target, 0)])
