"""The check stage: every checker fails on a planted bug, passes the right answer, and says why.

Script style is checked on fabricated histories (the values a notebook would
leave behind).  Function style runs the hypothesis properties against plain
Python functions through :class:`FakeSession`, which speaks the same wire
format as the sandboxed child (``harness.worker.encode``/``decode`` and
``harness.run.decode_value``), so no subprocess is needed.  One batch through
the real pipeline grades the bundled ``submissions/`` with autograd forbidden.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor

import harness.check.compare as compare_module
import reference
from harness.check.compare import compare, fit
from harness.check.functions import check_functions, check_helpers
from harness.check.script import check_script, problem_from
from harness.diagnose import diagnose_check
from harness.records.assignment import Assignment
from harness.records.outcome import Binding, CallResult, CapturedError, Outcome, Value
from harness.records.result import CheckResult
from harness.run.values import decode_value
from harness.run.worker import decode, encode

sys.path.insert(0, str(Path(__file__).parent))
from submission_expectations import (
    EXPECTED,
    EXPECTED_DIAGNOSIS,
    EXPECTED_DIAGNOSIS_CHECKS,
    EXPECTED_OTHER_DIAGNOSES,
)

SUBMISSIONS = Path(__file__).parent.parent / "submissions"
A = Assignment()


# ---------------------------------------------------------------- helpers


class FakeSession:
    """``Session.call`` in-process: arguments and results cross the same encoding as with the real child."""

    def __init__(self, namespace: dict[str, Callable[..., Any]]) -> None:
        self.namespace = namespace
        self.calls: list[str] = []

    def call(self, fn: str, args: list[dict[str, Any]]) -> CallResult:
        self.calls.append(fn)
        try:
            value = self.namespace[fn](*[decode(a) if a.get("t") != "number" else a["v"] for a in args])
        except Exception as exc:
            return CallResult(None, CapturedError(type(exc).__name__, str(exc), f"in {fn}()", ""), 0.0)
        return CallResult(decode_value(json.loads(json.dumps(encode(value)))), None, 0.0)


def functions(**overrides: Callable[..., Any]) -> dict[str, Callable[..., Any]]:
    """The six functions of a correct function-style submission, some replaced."""

    def forward(X: Tensor, W1: Tensor, W2: Tensor) -> tuple[Tensor, ...]:
        Z = W1.T @ X
        H = torch.sigmoid(Z)
        O = H.T @ W2
        return Z, H, O, torch.sigmoid(O)

    def backward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> tuple[Tensor, Tensor]:
        _, H, _, Y_cap = forward(X, W1, W2)
        d = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
        return X @ ((W2 @ d.T) * H * (1 - H)).T, H @ d

    namespace: dict[str, Callable[..., Any]] = {
        "sigmoid": lambda z: 1 / (1 + torch.exp(-z)),
        "sigmoid_grad": lambda h: h * (1 - h),
        "forward": forward,
        "loss": lambda Y_cap, Y: ((Y - Y_cap) ** 2).sum(),
        "backward": backward,
        "update": lambda W1, W2, g1, g2, lr: (W1 - lr * g1, W2 - lr * g2),
    }
    namespace.update(overrides)
    return namespace


def run_functions(
    namespace: dict[str, Callable[..., Any]],
    assignment: Assignment = A,
    seed: int = 1234,
    globals_: dict[str, Tensor] | None = None,
    dtype: str = "float32",
) -> tuple[dict[str, CheckResult], FakeSession]:
    session = FakeSession(namespace)
    outcome = Outcome(functions=tuple(namespace), history=_bindings(globals_ or {}, dtype), executed=True)
    results = [diagnose_check(r) for r in check_functions(session, outcome, assignment, dtype, False, seed)]  # type: ignore[arg-type]
    return {r.name: r for r in results}, session


def _bindings(values: dict[str, Any], dtype: str = "float32") -> list[Binding]:
    out = []
    for i, (name, v) in enumerate(values.items()):
        t = torch.as_tensor(v, dtype=torch.float64)
        out.append(Binding(statement=i, label="cell", name=name, value=Value(kind="tensor", dtype=dtype, tensor=t)))
    return out


def notebook_values(dtype: torch.dtype = torch.float32, **changes: Any) -> dict[str, Any]:
    """What a script leaves in its globals, computed statement by statement like one (seeded weights).

    ``changes`` replace a statement (a value, or a function of the values so far); what follows is computed
    from it as a script would: E from its Y_cap, W_new from its gradients.  The gradients themselves are the
    right ones unless changed.
    """
    gen = torch.Generator().manual_seed(3)
    v: dict[str, Any] = {
        "X": torch.tensor([[0.9], [0.8], [0.7], [0.6]], dtype=dtype),
        "Y": torch.zeros(1, 1, dtype=dtype),
        "W1": torch.rand(4, 3, generator=gen).to(dtype),
        "W2": torch.rand(3, 1, generator=gen).to(dtype),
        "lr": 0.1,
    }
    right = reference.backward(v["X"], v["Y"], v["W1"], v["W2"], reference.forward(v["X"], v["Y"], v["W1"], v["W2"]))

    def statement(name: str, compute: Callable[[], Any]) -> None:
        v[name] = compute()  # a change may be written in terms of the right value
        change = changes.get(name)
        if name in changes:
            v[name] = change(v) if callable(change) else change

    for name in ("X", "Y", "W1", "W2"):
        if name in changes:
            statement(name, lambda name=name: v[name])
    statement("Z", lambda: v["W1"].T @ v["X"])
    statement("H", lambda: torch.sigmoid(v["Z"]))
    statement("O", lambda: v["H"].T @ v["W2"])
    statement("Y_cap", lambda: torch.sigmoid(v["O"]))
    statement("E", lambda: ((v["Y"] - v["Y_cap"]) ** 2).sum())
    statement("dE_dW2", lambda: right.dE_dW2)
    statement("dE_dW1", lambda: right.dE_dW1)
    statement("W1_new", lambda: v["W1"] - v["lr"] * v["dE_dW1"])
    statement("W2_new", lambda: v["W2"] - v["lr"] * v["dE_dW2"])
    return v


def run_script(values: dict[str, Any], dtype: str = "float32") -> dict[str, CheckResult]:
    outcome = Outcome(history=_bindings(values, dtype), executed=True)
    return {r.name: diagnose_check(r) for r in check_script(outcome, A)}


# ---------------------------------------------------------------- compare, fit, problem_from


def test_compare_never_passes_a_non_finite_entry_even_where_the_truth_is_huge() -> None:
    tol = A.tolerance("float32")
    assert not compare(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 1e30]), tol).ok
    assert not compare(torch.tensor([float("inf")]), torch.tensor([float("inf")]), tol).ok


def test_the_worst_entries_named_are_the_ones_out_of_tolerance_before_larger_errors_within_it() -> None:
    # float32 on the script's own 1000-wide sums: -165.0087 for -165.0084 is within rtol 1e-4; 0.0213
    # for 0.0214 is not, though its error is smaller
    tol = A.tolerance("float32")
    f64 = torch.float64
    cmp = compare(
        torch.tensor([-165.0087, 0.0213, 2.0], dtype=f64), torch.tensor([-165.0084, 0.0214, 2.0], dtype=f64), tol
    )
    assert not cmp.ok
    assert cmp.worst[0].index == (1,) and cmp.worst[1].index == (0,)
    assert cmp.max_abs == pytest.approx(3e-4, rel=1e-3)


_ENTRY = st.sampled_from([0.0, -0.0, 1.0, 0.5, -2.0, 1e-13, 3e-300, 1e308, -1e308, 0.1 + 0.2])
_SUBMITTED = _ENTRY | st.sampled_from([float("nan"), float("inf"), -float("inf")]) | st.floats(-4, 4)
_SHAPES = st.sampled_from([(), (1,), (3,), (1, 1), (4, 1), (3, 1), (4, 3), (2, 8), (16,), (0,), (0, 3)])


@given(_SHAPES, st.data(), st.sampled_from(["float32", "float64"]), st.integers(1, 5))
def test_compare_on_python_floats_finds_what_the_tensor_comparison_finds(
    shape: tuple[int, ...], data: st.DataObject, dtype: str, keep: int
) -> None:
    n = math.prod(shape)
    expected = torch.tensor(data.draw(st.lists(_ENTRY | st.floats(-4, 4), min_size=n, max_size=n)), dtype=torch.float64)
    submitted = torch.tensor(data.draw(st.lists(_SUBMITTED, min_size=n, max_size=n)), dtype=getattr(torch, dtype))
    expected, submitted = expected.reshape(shape), submitted.reshape(shape)
    tol = A.tolerance(dtype)
    small = compare_module._compare_small(submitted, expected, tol, keep)
    tensors = compare_module._compare_tensors(submitted, expected, tol, keep)
    assert small is not None
    # repr: the same floats to the last bit (a NaN equal to a NaN, -0.0 told from 0.0)
    assert repr((small.ok, small.worst, small.max_abs, small.max_rel)) == repr(
        (tensors.ok, tensors.worst, tensors.max_abs, tensors.max_rel)
    )
    assert small.errors.dtype == tensors.errors.dtype and small.errors.shape == tensors.errors.shape
    assert repr(small.errors.tolist()) == repr(tensors.errors.tolist())


def test_fit_reads_a_transposed_matrix_with_a_note_and_a_flat_vector_as_a_column() -> None:
    e = torch.zeros(4, 3)
    fitted, note = fit(torch.zeros(3, 4), e)
    assert fitted is not None and fitted.shape == (4, 3) and note and "transpose" in note
    fitted, note = fit(torch.zeros(3), torch.zeros(3, 1))
    assert fitted is not None and note is None
    assert fit(torch.zeros(5), e) == (None, None)


def test_problem_from_reads_weights_stored_transposed_and_refuses_non_finite_values() -> None:
    v = {
        k: Value("tensor", "float32", torch.as_tensor(t, dtype=torch.float64))
        for k, t in notebook_values().items()
        if k in ("X", "Y", "W1", "W2")
    }
    transposed = dict(v, W1=Value("tensor", "float32", v["W1"].tensor.T))  # type: ignore[union-attr]
    p, _ = problem_from(transposed)  # type: ignore[arg-type]
    assert p is not None and p.W1.shape == (4, 3) and any("transpose" in n for n in p.notes)
    bad = dict(
        v, X=Value("tensor", "float32", torch.tensor([[float("nan")], [0.0], [0.0], [0.0]], dtype=torch.float64))
    )
    p, why = problem_from(bad)  # type: ignore[arg-type]
    assert p is None and "NaN" in why


# ---------------------------------------------------------------- script style: every checker fails on its bug


def test_a_correct_script_passes_every_check_with_no_diagnosis() -> None:
    for dtype in (torch.float32, torch.float64):
        results = run_script(notebook_values(dtype), dtype=str(dtype).replace("torch.", ""))
        assert [r.status for r in results.values()] == ["pass"] * 5, results
        assert all(r.diagnosis is None for r in results.values())


@pytest.mark.parametrize(
    "check,changes,want",
    [
        ("forward", {"Y_cap": lambda v: v["O"]}, "missing-activation"),
        ("forward", {"H": lambda v: torch.tanh(v["Z"])}, "wrong-activation"),
        ("loss", {"E": lambda v: (v["Y"] - v["Y_cap"]).abs()}, "loss-formula"),
        ("dE_dW2", {"dE_dW2": lambda v: -v["dE_dW2"]}, "sign-flip"),
        ("dE_dW1", {"dE_dW1": lambda v: v["dE_dW1"] / 2}, "missing-factor"),
        ("dE_dW1", {"dE_dW1": lambda v: v["dE_dW1"] / (v["H"] * (1 - v["H"])).T}, "missing-activation-derivative"),
        ("update", {"W1_new": lambda v: v["W1"] + v["lr"] * v["dE_dW1"]}, "update-sign"),
        ("update", {"W2_new": lambda v: v["W2"] - 0.01 * v["dE_dW2"]}, "learning-rate"),
    ],
)
def test_every_script_checker_fails_on_its_planted_bug_and_names_it(
    check: str, changes: dict[str, Any], want: str
) -> None:
    results = run_script(notebook_values(**changes))
    assert results[check].status == "fail" and results[check].score == 0
    assert results[check].diagnosis is not None and results[check].diagnosis.id == want, results[check]
    others = [r for name, r in results.items() if name != check]
    assert all(r.status == "pass" for r in others), results


def test_a_script_with_NaN_inputs_cannot_be_judged_and_says_why() -> None:
    results = run_script(notebook_values(X=torch.tensor([[float("nan")], [0.8], [0.7], [0.6]])))
    for r in results.values():
        assert r.status == "error" and r.diagnosis is not None and r.diagnosis.id == "non-finite", r


def test_a_collapsed_gradient_fails_its_shape_but_the_update_that_broadcasts_it_is_judged_as_a_rule() -> None:
    collapsed = {
        "dE_dW2": lambda v: v["dE_dW2"].sum().reshape(1, 1),
        "W2_new": lambda v: v["W2"] - 0.1 * v["dE_dW2"].sum().reshape(1, 1),
    }
    results = run_script(notebook_values(**collapsed))
    assert results["dE_dW2"].status == "fail" and results["dE_dW2"].diagnosis.id == "wrong-shape"  # type: ignore[union-attr]
    assert "(3, 1)" in results["dE_dW2"].diagnosis.message  # type: ignore[union-attr]
    assert results["update"].status == "pass"


def test_gradients_that_follow_a_wrong_forward_pass_are_told_apart_from_a_wrong_backward() -> None:
    def tanh_gradient(which: int) -> Callable[[dict[str, Any]], Tensor]:
        def gradient(v: dict[str, Any]) -> Tensor:
            W1 = v["W1"].double().requires_grad_(True)
            W2 = v["W2"].double().requires_grad_(True)
            Y_cap = torch.sigmoid(torch.tanh(W1.T @ v["X"].double()).T @ W2)
            return torch.autograd.grad(((v["Y"].double() - Y_cap) ** 2).sum(), (W1, W2))[which]

        return gradient

    results = run_script(
        notebook_values(H=lambda v: torch.tanh(v["Z"]), dE_dW1=tanh_gradient(0), dE_dW2=tanh_gradient(1))
    )
    assert results["forward"].diagnosis.id == "wrong-activation"  # type: ignore[union-attr]
    for name in ("dE_dW1", "dE_dW2"):
        assert results[name].diagnosis.id == "consistent-with-own-forward"  # type: ignore[union-attr]
    assert results["loss"].status == "pass" and results["update"].status == "pass"


def test_the_script_helpers_are_checked_as_properties_where_they_are_defined() -> None:
    session = FakeSession({"sigmoid": lambda z: 1 / (1 + torch.exp(z))})
    outcome = Outcome(functions=("sigmoid",), executed=True)
    (result,) = [diagnose_check(r) for r in check_helpers(session, outcome, A, "float32", False, 7)]  # type: ignore[arg-type]
    assert result.name == "sigmoid" and result.status == "fail" and result.diagnosis.id == "sign-flip"  # type: ignore[union-attr]
    assert result.counterexample and result.counterexample["inputs"]["z"]


# ---------------------------------------------------------------- function style: properties


def test_correct_functions_pass_every_property_on_generated_inputs() -> None:
    results, session = run_functions(functions())
    assert [r.status for r in results.values()] == ["pass"] * 7, results
    assert all(r.diagnosis is None and "hypothesis, seed 1234" in r.message for r in results.values())
    assert session.calls.count("backward") <= 2 + A.examples + 1  # shared by dE_dW1 and dE_dW2 (+1 size probe)


def _sign_flipped_backward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> tuple[Tensor, Tensor]:
    g1, g2 = functions()["backward"](X, Y, W1, W2)
    return g1, -g2


@pytest.mark.parametrize(
    "name,override,want",
    [
        ("forward", {"forward": lambda X, W1, W2: torch.sigmoid(W1.T @ X).T @ W2}, "missing-activation"),
        ("loss", {"loss": lambda Y_cap, Y: (Y - Y_cap).abs().sum()}, "loss-formula"),
        ("dE_dW2", {"backward": _sign_flipped_backward}, "sign-flip"),
        (
            "dE_dW1",
            {
                "backward": lambda X, Y, W1, W2: (
                    2 * functions()["backward"](X, Y, W1, W2)[0],
                    functions()["backward"](X, Y, W1, W2)[1],
                )
            },
            "constant-factor",
        ),
        ("update", {"update": lambda W1, W2, g1, g2, lr: (W1 + lr * g1, W2 + lr * g2)}, "update-sign"),
        ("update", {"update": lambda W1, W2, g1, g2, lr: (W1 - 0.1 * g1, W2 - 0.1 * g2)}, "learning-rate"),
        ("sigmoid", {"sigmoid": torch.tanh}, "wrong-activation"),
        ("sigmoid_grad", {"sigmoid_grad": lambda h: -h * (1 - h)}, "sign-flip"),
    ],
)
def test_every_function_checker_fails_on_its_planted_bug_with_a_shrunk_counterexample(
    name: str, override: dict[str, Callable[..., Any]], want: str
) -> None:
    results, _ = run_functions(functions(**override))
    r = results[name]
    assert r.status == "fail" and r.score == 0
    assert r.diagnosis is not None and r.diagnosis.id == want, r
    cx = r.counterexample
    assert cx is not None and cx["seed"] == 1234 and "submitted" in cx and "expected" in cx and cx["inputs"]
    assert all(o.status == "pass" for n, o in results.items() if n != name), results


def test_a_function_that_raises_is_an_error_with_the_input_that_made_it_raise() -> None:
    def backward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> tuple[Tensor, Tensor]:
        if float(Y.sum()) == 0.0:
            raise ZeroDivisionError("division by zero")
        return functions()["backward"](X, Y, W1, W2)

    results, _ = run_functions(functions(backward=backward))
    for name in ("dE_dW1", "dE_dW2"):
        r = results[name]
        assert r.status == "error" and "ZeroDivisionError" in r.message
        assert r.counterexample is not None and r.counterexample["inputs"]["Y"] == [[0.0]]


def test_the_smallest_failing_input_is_reproducible_from_the_recorded_seed() -> None:
    bug = functions(backward=_sign_flipped_backward)
    first, _ = run_functions(bug, seed=99)
    again, _ = run_functions(bug, seed=99)
    assert first["dE_dW2"].counterexample == again["dE_dW2"].counterexample


def test_shrinking_stops_after_its_budget_of_new_calls() -> None:
    from harness.check.calls import Calls
    from harness.check.properties import Runner

    def sometimes(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> tuple[Tensor, Tensor]:
        g1, g2 = functions()["backward"](X, Y, W1, W2)
        return g1, g2 * (1 + float(X.abs().sum()))  # wrong wherever X is not 0: a lot to shrink

    def calls_with(budget: int | None) -> tuple[int, CheckResult]:
        session = FakeSession(functions(backward=sometimes))
        runner = Runner(
            Calls(session, "float32", False),
            replace(A, examples=4),
            set(session.namespace),
            5,  # type: ignore[arg-type]
            budget=budget,
        )
        result = runner.check("dE_dW2")
        return session.calls.count("backward"), result

    unlimited, found = calls_with(None)
    limited, still = calls_with(3)
    assert limited <= 2 + 4 + 3 < unlimited
    assert found.status == still.status == "fail" and still.counterexample is not None


def test_a_function_right_on_the_notebooks_globals_and_wrong_elsewhere_is_instance_only() -> None:
    own = notebook_values()
    _, H, _, Y_cap = functions()["forward"](own["X"], own["W1"], own["W2"])

    def backward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> tuple[Tensor, Tensor]:
        d = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)  # the notebook's Y_cap and H, not the arguments'
        return X @ ((W2 @ d.T) * H * (1 - H)).T, H @ d

    results, _ = run_functions(functions(backward=backward), globals_={k: own[k] for k in ("X", "Y", "W1", "W2")})
    for name in ("dE_dW1", "dE_dW2"):
        assert results[name].diagnosis.id == "instance-only", results[name]  # type: ignore[union-attr]


def test_a_backward_consistent_with_its_own_wrong_forward_function_is_told_so() -> None:
    def forward(X: Tensor, W1: Tensor, W2: Tensor) -> Tensor:
        return torch.sigmoid(torch.tanh(W1.T @ X).T @ W2)

    def backward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> tuple[Tensor, Tensor]:
        H = torch.tanh(W1.T @ X)
        Y_cap = torch.sigmoid(H.T @ W2)
        d = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
        return X @ ((W2 @ d.T) * (1 - H**2)).T, H @ d

    results, _ = run_functions(functions(forward=forward, backward=backward))
    assert results["forward"].diagnosis.id == "wrong-activation"  # type: ignore[union-attr]
    for name in ("dE_dW1", "dE_dW2"):
        assert results[name].diagnosis.id == "consistent-with-own-forward", results[name]  # type: ignore[union-attr]


def _fixed_size_backward(X: Tensor, Y: Tensor, W1: Tensor, W2: Tensor) -> tuple[Tensor, Tensor]:
    assert tuple(W1.shape) == (4, 3), "written for 4-3-1"
    return functions()["backward"](X, Y, W1, W2)


def test_hard_coded_sizes_pass_the_default_assignment_with_an_information_note() -> None:
    results, _ = run_functions(functions(backward=_fixed_size_backward))
    assert results["dE_dW1"].status == "pass" and results["dE_dW1"].diagnosis is None
    assert any(n.startswith("(info)") and "4-3-1" in n for n in results["dE_dW1"].notes)


def test_hard_coded_sizes_fail_an_assignment_that_allows_any_size_at_a_smallest_other_size() -> None:
    results, _ = run_functions(functions(backward=_fixed_size_backward), assignment=replace(A, general_sizes=True))
    r = results["dE_dW1"]
    assert r.status == "error" and r.diagnosis is not None and r.diagnosis.id == "fixed-sizes", r
    assert r.counterexample is not None and tuple(r.counterexample["sizes"]) != A.sizes
    assert results["forward"].status == "pass"  # the general forward is right at every size


def test_general_sizes_are_drawn_and_correct_functions_pass_them_all() -> None:
    results, _session = run_functions(functions(), assignment=replace(A, general_sizes=True))
    assert all(r.status == "pass" for r in results.values()), results


def test_a_float64_submission_is_judged_at_float64_tolerances() -> None:
    slightly_off = functions(loss=lambda Y_cap, Y: ((Y - Y_cap) ** 2).sum() * (1 + 1e-6))
    lenient, _ = run_functions(slightly_off, dtype="float32")
    strict, _ = run_functions(slightly_off, dtype="float64")
    assert lenient["loss"].status == "pass"
    assert strict["loss"].status == "fail" and strict["loss"].diagnosis.id == "imprecise"  # type: ignore[union-attr]


def test_a_failure_of_the_grader_itself_in_one_property_does_not_sink_the_others() -> None:
    class Broken(FakeSession):
        def call(self, fn: str, args: list[dict[str, Any]]) -> CallResult:
            if fn == "loss":
                raise RuntimeError("grader bug")
            return super().call(fn, args)

    session = Broken(functions())
    outcome = Outcome(functions=tuple(functions()), executed=True)
    results = {r.name: diagnose_check(r) for r in check_functions(session, outcome, A, "float32", False, 1)}  # type: ignore[arg-type]
    assert results["loss"].status == "error" and "grader failed" in results["loss"].message
    assert results["forward"].status == "pass" and results["dE_dW1"].status == "pass"


def test_diagnosis_happens_only_on_failing_checks() -> None:
    results, _ = run_functions(functions(backward=_sign_flipped_backward))
    for r in results.values():
        assert (r.diagnosis is not None) <= (r.status != "pass")


# ---------------------------------------------------------------- the pipeline, once


@pytest.fixture(scope="module")
def forbidding() -> dict[str, dict[str, Any]]:
    """The bundled submissions graded with autograd forbidden (one batch for this module)."""
    from harness.batch import grade_batch

    paths = sorted(p for p in SUBMISSIONS.iterdir() if p.suffix in (".py", ".ipynb"))
    verdicts = grade_batch(paths, replace(A, autograd="forbid"), jobs=2)
    return {Path(v["submission"]).name: v for v in verdicts}


def test_the_bundled_submissions_get_their_expected_verdicts_and_diagnoses(
    forbidding: dict[str, dict[str, Any]],
) -> None:
    wrong = []
    for name, expected in EXPECTED.items():
        verdict = forbidding[name]
        if verdict["status"] != expected["status"]:
            wrong.append(f"{name}: {verdict['status']}")
            continue
        checks = {c["name"]: c for c in verdict["checks"]}
        for check, status in expected.items():
            if check == "status" or name == "correct_functions_notebook.ipynb":
                continue
            if checks[check]["status"] != status:
                wrong.append(f"{name}: {check} {checks[check]['status']}, expected {status}")
        want = {c: EXPECTED_DIAGNOSIS[name] for c in EXPECTED_DIAGNOSIS_CHECKS.get(name, ())}
        want.update(EXPECTED_OTHER_DIAGNOSES.get(name, {}))
        for check, diagnosis in want.items():
            got = (checks[check]["diagnosis"] or {}).get("id")
            if got != diagnosis:
                wrong.append(f"{name}: {check} diagnosed {got}, expected {diagnosis}")
    assert not wrong, "\n".join(wrong)


def test_forbidden_autograd_fails_the_gradient_checks_with_the_uses_autograd_diagnosis(
    forbidding: dict[str, dict[str, Any]],
) -> None:
    verdict = forbidding["correct_functions_notebook.ipynb"]  # right, but it calls .backward() in a sanity cell
    checks = {c["name"]: c for c in verdict["checks"]}
    for name in ("dE_dW1", "dE_dW2"):
        assert checks[name]["status"] == "fail" and checks[name]["score"] == 0
        assert checks[name]["diagnosis"]["id"] == "uses-autograd"
    assert checks["forward"]["status"] == "pass" and checks["forward"]["diagnosis"] is None


def test_no_passing_check_of_any_bundled_submission_carries_a_diagnosis(forbidding: dict[str, dict[str, Any]]) -> None:
    for name, verdict in forbidding.items():
        for c in verdict["checks"]:
            assert c["diagnosis"] is None or c["status"] != "pass", (name, c)


def test_every_report_of_the_batch_is_plain_json(forbidding: dict[str, dict[str, Any]]) -> None:
    json.dumps(forbidding, allow_nan=False)


# ---------------------------------------------------------------- one defined value per name

_BASE = (SUBMISSIONS / "correct_script.py").read_text()
_UPDATE = "W2_new = W2 - lr * dE_dW2\nW1_new = W1 - lr * dE_dW1\n"
_GUESSES = (
    "for dE_dW2, dE_dW1 in [(dO_dW2 * dE_dO, torch.matmul(X, dE_dZ.T)),\n"
    "                       (dO_dW2 * dE_dY_cap, torch.matmul(X, dE_dH.T)),\n"
    "                       (H * dE_dO * 2, X @ (dE_dH * H).T)]:\n"
    "    pass\n"
)


def _graded(tmp_path: Path, **files: str) -> dict[str, dict[str, Any]]:
    from harness.batch import grade_batch

    paths = []
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
        paths.append(tmp_path / f"{name}.py")
    verdicts = grade_batch(paths, A, jobs=1, sandbox="off")
    return {Path(v["submission"]).stem: {c["name"]: c for c in v["checks"]} for v in verdicts}


def test_the_judged_value_is_the_one_the_update_uses_never_whichever_snapshot_is_right(tmp_path: Path) -> None:
    assert _UPDATE in _BASE
    checks = _graded(
        tmp_path,
        # candidates in a loop, the last one wrong, then the update with it
        guesses=_BASE.replace(_UPDATE, _GUESSES + _UPDATE),
        # a right value, then its sign flipped before the update
        flipped=_BASE.replace(_UPDATE, "dE_dW2 = -dE_dW2\n" + _UPDATE),
        # a right value, then flipped at the very end, with no update at all
        flipped_at_end=_BASE[: _BASE.index("# ---- update ----")] + "dE_dW2 = -dE_dW2\n",
    )
    assert checks["guesses"]["dE_dW2"]["status"] == "fail" and checks["guesses"]["dE_dW1"]["status"] == "fail"
    assert checks["flipped"]["dE_dW2"]["status"] == "fail"
    assert checks["flipped_at_end"]["dE_dW2"]["status"] == "fail"
    assert checks["flipped_at_end"]["dE_dW2"]["diagnosis"]["id"] == "sign-flip"


def test_an_update_applied_in_place_to_a_copy_is_judged_after_it_and_gets_full_marks(tmp_path: Path) -> None:
    checks = _graded(
        tmp_path,
        add=_BASE.replace(
            _UPDATE,
            "W2_new = W2.clone()\nW2_new.add_(dE_dW2, alpha=-lr)\nW1_new = W1.clone()\nW1_new.add_(dE_dW1, alpha=-lr)\n",
        ),
        sub=_BASE.replace(
            _UPDATE, "W2_new = W2.clone()\nW2_new.sub_(lr * dE_dW2)\nW1_new = W1.clone()\nW1_new -= lr * dE_dW1\n"
        ),
        copy=_BASE.replace(
            _UPDATE,
            "W2_new = torch.empty_like(W2)\nW2_new.copy_(W2 - lr * dE_dW2)\n"
            "W1_new = torch.zeros_like(W1)\nW1_new[:] = W1 - lr * dE_dW1\n",
        ),
    )
    for name in ("add", "sub", "copy"):
        assert {key: c["status"] for key, c in checks[name].items()} == {
            "forward": "pass",
            "loss": "pass",
            "dE_dW2": "pass",
            "dE_dW1": "pass",
            "update": "pass",
        }, name


def test_a_network_far_larger_than_the_assignment_is_refused_before_any_truth_is_computed() -> None:
    values = {
        "X": torch.rand(10000, 1),
        "Y": torch.zeros(1, 10000),
        "W1": torch.rand(10000, 5),
        "W2": torch.rand(5, 10000),
    }
    results = run_script(values)
    assert {r.status for r in results.values()} == {"fail"}
    assert {r.diagnosis.id for r in results.values() if r.diagnosis} == {"wrong-shape"}
    assert "10000-5-10000 network; this assignment is a 4-3-1 network" in results["dE_dW1"].message


# ---------------------------------------------------------------- the grader chooses the inputs

_NET = """import torch
X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
W1 = torch.tensor([[0.6915, 0.2038, 0.1092], [0.8664, 0.2407, 0.9444], [0.9586, 0.5905, 0.4535], [0.4292, 0.7313, 0.8132]])
W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])
Y = torch.tensor([[0.0]])
lr = 0.1
"""
_FORWARD = """Z = W1.T @ X
H = torch.sigmoid(Z)
O = H.T @ W2
Y_cap = torch.sigmoid(O)
E = (Y - Y_cap) ** 2
dE_dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
"""
_ZERO_GRADIENTS = "dE_dW2 = torch.zeros(3, 1)\ndE_dW1 = torch.zeros(4, 3)\n"
_UPDATE_RULE = "W1_new = W1 - lr * dE_dW1\nW2_new = W2 - lr * dE_dW2\n"
_GAMING = {
    # the target set to the network's own prediction: E = 0, every true gradient is zero
    "own_target": _NET.replace("Y = torch.tensor([[0.0]])", "Y = torch.sigmoid(torch.sigmoid(W1.T @ X).T @ W2)")
    + _FORWARD
    + _ZERO_GRADIENTS,
    # the same, scaled
    "scaled_target": _NET.replace("Y = torch.tensor([[0.0]])\n", "")
    + _FORWARD.replace("E = (Y - Y_cap) ** 2", "Y = 1.0 * Y_cap.clone()\nE = (Y - Y_cap) ** 2")
    + _ZERO_GRADIENTS,
    # X zeros: the true dE_dW1 is zero, and any formula with the factor X matches it
    "zero_input": _NET.replace("X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])", "X = torch.zeros(4, 1)")
    + _FORWARD
    + "dE_dW2 = H * dE_dO\ndE_dW1 = X @ (W2 * dE_dO).T\n",
    # W2 zeros: the true dE_dW1 is zero
    "zero_weights": _NET.replace("W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])", "W2 = torch.zeros(3, 1)")
    + _FORWARD
    + "dE_dW2 = H * dE_dO\ndE_dW1 = torch.zeros(4, 3)\n",
    # H saturated by huge weights: dH_dZ is zero in float32, so is the true dE_dW1 there
    "saturated": _NET.replace("W1 = torch.tensor(", "W1 = 100 * torch.tensor(") + _FORWARD + "dE_dW2 = H * dE_dO\n"
    "dE_dW1 = torch.zeros(4, 3)\n",
}


@pytest.mark.parametrize("name", sorted(_GAMING))
def test_a_gradient_right_only_on_degenerate_inputs_of_its_own_earns_nothing(tmp_path: Path, name: str) -> None:
    checks = _graded(tmp_path, **{name: _GAMING[name] + _UPDATE_RULE})[name]
    gaming = [
        c for key, c in checks.items() if key in ("dE_dW1", "dE_dW2") and "zeros" in _GAMING[name].split(key)[-1][:20]
    ]
    wrong = gaming or [checks["dE_dW1"]]
    for check in wrong:
        assert check["status"] == "fail" and check["score"] == 0, (name, check)
        assert "checked on inputs the grader chose" in check["message"] + " ".join(check["notes"]), check
        assert check["diagnosis"] is not None
    assert all(len(c["runs"]) == 3 for c in checks.values())
    assert [r["source"] for r in checks["dE_dW1"]["runs"]] == ["own", "grader", "grader"]


def test_every_run_is_recorded_with_its_seed_and_the_inputs_the_grader_drew(tmp_path: Path) -> None:
    checks = _graded(tmp_path, honest=_BASE)["honest"]
    runs = checks["dE_dW1"]["runs"]
    assert {c["status"] for c in checks.values()} == {"pass"}
    own, first, second = runs
    assert own["values"]["X"] == [[pytest.approx(v)] for v in (0.9, 0.8, 0.7, 0.6)]
    assert first["seed"] != second["seed"] and first["values"]["W1"] != own["values"]["W1"]
    assert first["values"]["W1"] != second["values"]["W1"] and first["values"]["lr"] in (0.05, 0.1, 0.2)
    assert all(abs(v) <= 0.5 for row in first["values"]["W1"] for v in row)  # well away from saturation


def test_a_value_computed_from_an_input_runs_on_the_graders_input(tmp_path: Path) -> None:
    normalised = _BASE.replace(
        "W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])",
        "W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])\nW1 = W1 * 0.5  # smaller weights",
    )
    checks = _graded(tmp_path, scaled=normalised)["scaled"]
    assert {key: c["status"] for key, c in checks.items()} == dict.fromkeys(checks, "pass")


def _random_problem(seed: int, sizes: tuple[int, int, int] = (4, 3, 1)) -> Any:
    from harness.records.problem import Problem

    g = torch.Generator().manual_seed(seed)
    n_in, n_hidden, n_out = sizes
    return Problem(
        X=torch.rand(n_in, 1, generator=g, dtype=torch.float64),
        Y=torch.rand(1, n_out, generator=g, dtype=torch.float64),
        W1=torch.rand(n_in, n_hidden, generator=g, dtype=torch.float64),
        W2=torch.rand(n_hidden, n_out, generator=g, dtype=torch.float64),
    )


def test_the_runs_truths_are_confirmed_together_by_one_finite_difference_check() -> None:
    import harness.truth as truth

    problems = [_random_problem(9001), _random_problem(9002), _random_problem(9003, (3, 3, 1))]  # two shapes
    truth.confirm_together(problems)
    assert all(truth._key(p) in truth._confirmed for p in problems)
    assert all(truth.confirm_by_finite_differences(p, truth.truth_of(p)) for p in problems)


def test_a_wrong_truth_among_them_fails_the_joint_check_and_only_it_is_refused() -> None:
    import harness.truth as truth
    from harness.records.problem import Truth

    good, bad = _random_problem(9011), _random_problem(9012)
    right = truth.truth_of(bad)
    wrong = Truth(forward=right.forward, grads=reference.Gradients(right.grads.dE_dW1, -right.grads.dE_dW2))
    truth._truths[truth._key(bad)] = wrong  # as if autograd were wrong on this one
    try:
        truth.confirm_together([good, bad])
        assert truth._key(good) not in truth._confirmed  # a failed joint check records nothing
        assert truth.confirm_by_finite_differences(good, truth.truth_of(good))
        assert not truth.confirm_by_finite_differences(bad, wrong)
    finally:
        truth._truths.pop(truth._key(bad), None)
        truth._confirmed.pop(truth._key(bad), None)
