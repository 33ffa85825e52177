"""The check stage through the pipeline: the bundled submissions' verdicts with autograd forbidden,
the value judged is the one the update uses, an in-place update, gradients right only on degenerate
inputs of a script's own, and every run the grader chose recorded (harness/check/defined.py; the
assignments' own cases: tests/test_definition.py, tests/test_assignments.py)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.records.assignment import Assignment

sys.path.insert(0, str(Path(__file__).parent))
from submission_expectations import (
    EXPECTED,
    EXPECTED_DIAGNOSIS,
    EXPECTED_DIAGNOSIS_CHECKS,
    EXPECTED_OTHER_DIAGNOSES,
)

SUBMISSIONS = Path(__file__).parent.parent / "submissions"
A = Assignment()


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
    assert checks["flipped_at_end"]["dE_dW2"]["diagnosis"]["id"] == "scale--1"


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
        assert "on inputs the grader chose" in check["message"] + " ".join(check["notes"]), check
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
    assert first["values"]["W1"] != second["values"]["W1"] and (first["values"]["lr"], second["values"]["lr"]) == (
        0.05,
        0.1,
    )
    assert all(abs(v) <= 0.5 for row in first["values"]["W1"] for v in row)  # well away from saturation


def test_a_value_computed_from_an_input_runs_on_the_graders_input(tmp_path: Path) -> None:
    normalised = _BASE.replace(
        "W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])",
        "W2 = torch.tensor([[0.9415], [0.9888], [0.9888]])\nW1 = W1 * 0.5  # smaller weights",
    )
    checks = _graded(tmp_path, scaled=normalised)["scaled"]
    assert {key: c["status"] for key, c in checks.items()} == dict.fromkeys(checks, "pass")


def test_an_update_with_its_step_size_written_in_fails_on_every_submission_whatever_its_seed(tmp_path: Path) -> None:
    literal = _BASE.replace(_UPDATE, "W2_new = W2 - 0.1 * dE_dW2\nW1_new = W1 - 0.1 * dE_dW1\n")
    copies = {f"literal_{k}": f"{literal}\n# copy {k}\n" for k in range(3)}  # other bytes: other seeds
    for name, checks in _graded(tmp_path, **copies).items():
        assert checks["update"]["status"] == "fail", (name, checks["update"]["message"])
        assert checks["update"]["diagnosis"]["id"] == "update-lr", name
