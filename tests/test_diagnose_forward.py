"""Wrong forward passes, generated from the reference (harness.diagnose.forward) and named by the value
rules (harness.diagnose.values): each student's formula is written out here by hand, and a right forward
pass is never blamed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import Tensor

from harness.computation import draw_inputs, recomputed, truth_at_own, truth_of
from harness.definition import load_assignment
from harness.diagnose.forward import Forward, mutants
from harness.diagnose.values import diagnose_value
from harness.records.definition import Definition
from harness.records.result import ValueEvidence, ValueRun

ROOT = Path(__file__).resolve().parent.parent
MLP = load_assignment().definition


@pytest.fixture(scope="module")
def mlp() -> Definition:
    assert MLP is not None
    return MLP


Student = Callable[[dict[str, Tensor]], dict[str, Tensor]]


def _evidence(definition: Definition, quantity: str, student: Student, read: tuple[str, ...] = ()) -> ValueEvidence:
    """A failing check's evidence on two of the grader's runs: the student's values computed by
    ``student`` from each run's inputs; ``read``: the other values the submission exposes."""
    runs = []
    truths = []
    for run in (0, 1):
        inputs = draw_inputs(definition, run, 5 + run)
        truth = truth_of(definition, inputs, {})
        truths.append(truth)
        mine = student({**truth.values})
        runs.append(ValueRun(inputs, {}, mine[quantity], {q: mine[q] for q in read}))
    truth = truths[0]
    return ValueEvidence(
        quantity=quantity,
        submitted=runs[0].submitted,
        expected=truth.values[quantity],
        truths=truth.values,
        read=runs[0].read,
        consumers={n: truth.consumers(n) for n in truth.order},
        names={},
        rtol=1e-7,
        atol=1e-10,
        definition=definition,
        runs=tuple(runs),
    )


def _tanh_network(v: dict[str, Tensor]) -> dict[str, Tensor]:
    """A student's network with tanh in the hidden layer, and its own backward pass, by hand."""
    X, Y, W1, W2 = v["X"], v["Y"], v["W1"], v["W2"]
    Z = W1.T @ X
    H = torch.tanh(Z)
    O = H.T @ W2
    Y_cap = torch.sigmoid(O)
    E = ((Y - Y_cap) ** 2).sum()
    dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
    dW2 = H @ dO
    dZ = (W2 @ dO) * (1 - H**2)
    return {"Z": Z, "H": H, "O": O, "Y_cap": Y_cap, "E": E, "grad.W2": dW2, "grad.W1": X @ dZ.T}


def _right_network(v: dict[str, Tensor]) -> dict[str, Tensor]:
    X, Y, W1, W2 = v["X"], v["Y"], v["W1"], v["W2"]
    H = torch.sigmoid(W1.T @ X)
    Y_cap = torch.sigmoid(H.T @ W2)
    dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
    return {
        "H": H,
        "Y_cap": Y_cap,
        "E": (Y - Y_cap).abs().sum(),  # the absolute difference where the error squares it
        "grad.W2": -(H @ dO),  # the sign flipped
    }


def test_every_activation_and_the_square_of_the_reference_are_changed(mlp: Definition) -> None:
    found = list(mutants(Forward(mlp, draw_inputs(mlp, 0, 1), {})))
    words = {m[4] for m in found}
    assert "the forward pass uses tanh for activation 1 (sigmoid)" in words
    assert "the forward pass uses relu for activation 2 (sigmoid)" in words
    assert "activation 1 (sigmoid) of the forward pass is given minus its input" in words
    assert "the forward pass takes the absolute value where square 1 of it belongs" in words
    assert {m[0] for m in found} >= {"wrong-activation", "sign-flip", "loss-formula", "double-count", "wrong-operand"}


def test_a_hidden_layer_written_with_tanh_is_named_as_the_wrong_activation(mlp: Definition) -> None:
    student = _tanh_network
    found = diagnose_value(_evidence(mlp, "H", student))
    assert found is not None and found.id == "wrong-activation", found
    assert found.message == "H: the forward pass uses tanh for activation 1 (sigmoid)."


def test_a_gradient_right_for_its_own_tanh_forward_pass_is_named_so(mlp: Definition) -> None:
    student = _tanh_network
    found = diagnose_value(_evidence(mlp, "grad.W1", student, read=("H", "Y_cap")))
    assert found is not None and found.id == "consistent-with-own-forward", found
    assert "(the forward pass uses tanh for activation 1 (sigmoid))" in found.message


def _no_output_sigmoid(v: dict[str, Tensor], factor: float = 1.0) -> dict[str, Tensor]:
    """A student's network that leaves the output sigmoid out (``Y_cap = O``) and backpropagates with
    the sigmoid's derivative written by its output, ``Y_cap (1 - Y_cap)``, at its own ``Y_cap``
    (``factor``: its error's derivative times that, a second mistake)."""
    X, Y, W1, W2 = v["X"], v["Y"], v["W1"], v["W2"]
    Z = W1.T @ X
    H = torch.sigmoid(Z)
    O = H.T @ W2
    Y_cap = O
    E = ((Y - Y_cap) ** 2).sum()
    dO = -2 * factor * (Y - Y_cap) * Y_cap * (1 - Y_cap)
    dZ = (W2 @ dO) * H * (1 - H)
    return {"Z": Z, "H": H, "O": O, "Y_cap": Y_cap, "E": E, "grad.W2": H @ dO, "grad.W1": X @ dZ.T}


def test_a_gradient_of_the_right_backward_steps_at_its_own_wrong_forward_values_is_named_so(
    mlp: Definition,
) -> None:
    for quantity in ("grad.W2", "grad.W1"):
        ev = _evidence(mlp, quantity, _no_output_sigmoid, read=("Z", "H", "O", "Y_cap", "E"))
        found = diagnose_value(replace(ev, names={"grad.W2": "dE_dW2", "grad.W1": "dE_dW1"}))
        assert found is not None and found.id == "consistent-with-own-forward", found
        mine = {"grad.W2": "dE_dW2", "grad.W1": "dE_dW1"}[quantity]
        assert found.message == (
            f"{mine} applies the right backward steps to your own forward values, but those are wrong from "
            "Y_cap on: fix the forward pass first."
        )


def test_a_wrong_backward_that_is_not_the_right_steps_at_its_own_forward_values_is_not_named_so(
    mlp: Definition,
) -> None:
    def student(v: dict[str, Tensor]) -> dict[str, Tensor]:
        return _no_output_sigmoid(v, factor=3.0)

    for quantity in ("grad.W2", "grad.W1"):
        found = diagnose_value(_evidence(mlp, quantity, student, read=("Z", "H", "O", "Y_cap", "E")))
        assert found is None or found.id != "consistent-with-own-forward", found


def test_a_right_backward_of_a_right_forward_pass_is_given_no_diagnosis(mlp: Definition) -> None:
    def student(v: dict[str, Tensor]) -> dict[str, Tensor]:
        return {q: v[q] for q in ("Z", "H", "O", "Y_cap", "E", "grad.W2", "grad.W1")}

    for quantity in ("grad.W2", "grad.W1"):
        assert diagnose_value(_evidence(mlp, quantity, student, read=("Z", "H", "O", "Y_cap", "E"))) is None


def test_a_right_forward_pass_fed_back_in_leaves_the_reference_truth_as_it_is(mlp: Definition) -> None:
    inputs = draw_inputs(mlp, 0, 4)
    truth = truth_of(mlp, inputs, {})
    given = {q: truth.values[q] for q in ("Z", "H", "O", "Y_cap", "E")}
    again = truth_at_own(mlp, inputs, {}, given)
    assert again is not None
    for q in ("grad.W1", "grad.W2", "grad.H", "E"):
        assert torch.allclose(again.values[q], truth.values[q], rtol=1e-12, atol=1e-14), q
    assert truth_at_own(mlp, inputs, {}, {"Y_cap": torch.zeros(7)}) is None  # not its size: nothing


def test_a_sigmoid_output_fed_back_in_keeps_the_derivative_by_its_own_output(mlp: Definition) -> None:
    inputs = draw_inputs(mlp, 0, 4)
    truth = truth_of(mlp, inputs, {})
    mine = truth.values["O"]  # the sigmoid left out
    again = truth_at_own(mlp, inputs, {}, {"Y_cap": mine})
    assert again is not None
    d_o = -2 * (inputs["Y"].double() - mine) * mine * (1 - mine)
    assert torch.allclose(again.values["grad.W2"], truth.values["H"] @ d_o)
    assert torch.allclose(again.values["Y_cap"], mine) and torch.equal(again.values["H"], truth.values["H"])


def test_an_absolute_difference_for_the_squared_error_is_named_as_the_loss_formula(mlp: Definition) -> None:
    student = _right_network
    found = diagnose_value(_evidence(mlp, "E", student))
    assert found is not None and found.id == "loss-formula", found


def test_a_wrong_gradient_with_a_right_forward_pass_is_not_blamed_on_the_forward(mlp: Definition) -> None:
    student = _right_network
    found = diagnose_value(_evidence(mlp, "grad.W2", student, read=("H", "Y_cap")))
    assert found is not None and found.id == "scale--1", found


def test_the_reference_recomputes_the_loss_from_a_given_prediction(mlp: Definition) -> None:
    inputs = draw_inputs(mlp, 0, 3)
    truth = truth_of(mlp, inputs, {})
    mine = truth.values["Y_cap"] * 0.5
    again = recomputed(mlp, inputs, {}, {"Y_cap": mine})
    assert torch.allclose(again["E"], ((inputs["Y"].double() - mine) ** 2).sum())
    assert torch.equal(again["H"], truth.values["H"])  # what comes before it is untouched
    assert recomputed(mlp, inputs, {}, {"Y_cap": torch.zeros(7)}) == {}  # not its size: nothing


def test_a_step_of_one_size_where_the_learning_rate_differs_is_named_a_literal_step(mlp: Definition) -> None:
    runs = []
    for run, lr in ((0, 0.05), (1, 0.2)):
        inputs = {**draw_inputs(mlp, run, 9 + run), "lr": torch.tensor(lr, dtype=torch.float64)}
        truth = truth_of(mlp, inputs, {})
        runs.append(ValueRun(inputs, {}, truth.values["W1"] - 0.1 * truth.values["grad.W1"], {}))
    truth = truth_of(mlp, runs[0].inputs, {})
    ev = ValueEvidence(
        quantity="new.W1",
        submitted=runs[0].submitted,
        expected=truth.values["new.W1"],
        truths=truth.values,
        read={},
        consumers={},
        names={"new.W1": "W1_new"},
        rtol=1e-7,
        atol=1e-10,
        definition=mlp,
        runs=tuple(runs),
    )
    found = diagnose_value(ev)
    assert found is not None and found.id == "update-lr", found
    assert found.message == "W1_new takes a step of the same size 0.1 on every run, not the learning rate: use lr."


def _scaled_network(v: dict[str, Tensor]) -> dict[str, Tensor]:
    """A gradient multiplied by the learning rate (0.1), and a sigmoid helper with the sign inside."""
    return {"grad.W1": 0.1 * v["grad.W1"], "H": 1 / (1 + torch.exp(v["Z"]))}


def test_a_gradient_off_by_one_constant_on_every_run_is_named_a_constant_factor(mlp: Definition) -> None:
    found = diagnose_value(_evidence(mlp, "grad.W1", _scaled_network))
    assert found is not None and found.id == "constant-factor", found
    assert "0.1 times the right value" in found.message


def test_an_activation_of_minus_its_input_is_named_a_sign_inside_it(mlp: Definition) -> None:
    found = diagnose_value(_evidence(mlp, "H", _scaled_network))
    assert found is not None and found.id == "sign-flip", found
    assert found.message == "H: activation 1 (sigmoid) of the forward pass is given minus its input."
