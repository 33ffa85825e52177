"""The trial assignment examples/assignments/relu-net-500 ("Learning PyTorch with examples": a
two-layer ReLU net trained for 500 steps, backward by hand) grades scripts in the styles its
published copies are written in (docs/trial-relu-net-500.md): numpy and float32 torch, in place
updates, a loss made a Python number, the tutorial's own 64 x 1000 batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.definition import load_assignment
from harness.grade import grade_submission
from harness.records.assignment import Assignment
from harness.run.pool import Pool

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "assignments" / "relu-net-500"

NUMPY = """import numpy as np

N, D_in, H, D_out = 64, 1000, 100, 10
x = np.random.randn(N, D_in)
y = np.random.randn(N, D_out)
w1 = np.random.randn(D_in, H)
w2 = np.random.randn(H, D_out)

learning_rate = 1e-6
for t in range(500):
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    loss = np.square(y_pred - y).sum()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T.dot(grad_y_pred)
    grad_h_relu = grad_y_pred.dot(w2.T)
    grad_h = grad_h_relu.copy()
    grad_h[h < 0] = 0
    grad_w1 = x.T.dot(grad_h)
    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2
"""

TORCH = """import torch

N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in, dtype=torch.float)
y = torch.randn(N, D_out, dtype=torch.float)
w1 = torch.randn(D_in, H, dtype=torch.float)
w2 = torch.randn(H, D_out, dtype=torch.float)

learning_rate = 1e-6
for t in range(500):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2
"""

SMALL = NUMPY.replace("64, 1000, 100, 10", "16, 50, 20, 5")

CASES: dict[str, tuple[str, dict[str, str | None]]] = {
    "correct_numpy_500_steps.py": (NUMPY, {}),
    "correct_torch_float32_loss_item.py": (TORCH, {}),
    # the published ft1148137/NN_Playground copy's slip, with the handout's names
    "bug_forward_without_relu.py": (
        SMALL.replace("y_pred = h_relu.dot(w2)", "y_pred = h.dot(w2)"),
        # the loss is right for its own y_pred and the update a right rule on its own gradients:
        # the mistake costs the forward check and the gradients computed from it
        {"forward": "wrong-operand", **{n: None for n in ("grad_y_pred", "grad_w2", "grad_h", "grad_w1")}},
    ),
    "bug_relu_mask_inverted.py": (
        SMALL.replace("grad_h[h < 0] = 0", "grad_h[h > 0] = 0"),
        {"grad_h": "first-wrong-link", "grad_w1": "upstream-wrong"},
    ),
    "bug_no_factor_two.py": (
        SMALL.replace("grad_y_pred = 2.0 * (y_pred - y)", "grad_y_pred = y_pred - y"),
        {
            "grad_y_pred": "scale-0.5",
            "grad_w2": "upstream-wrong",
            "grad_h": "upstream-wrong",
            "grad_w1": None,
        },
    ),
}


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(2) as p:
        yield p


@pytest.fixture(scope="module")
def assignment() -> Assignment:
    return load_assignment(FOLDER)


@pytest.mark.parametrize("file", list(CASES))
def test_a_loop_trained_script_is_judged_on_its_own_run_and_the_graders_and_its_mistake_named(
    pool: Pool, assignment: Assignment, tmp_path: Path, file: str
) -> None:
    source, failing = CASES[file]
    path = tmp_path / file
    path.write_text(source)
    verdict = grade_submission(path, pool, assignment)
    assert verdict.status == "graded", verdict.error
    # 500 steps over the tutorial's 64 x 1000 batch run to the end: nothing stopped, no run skipped
    assert not verdict.notes, verdict.notes
    by_name = {c.name: c for c in verdict.checks}
    assert {n for n, c in by_name.items() if c.status != "pass"} == set(failing), [
        (c.name, c.message) for c in verdict.checks if c.status != "pass"
    ]
    for name, diagnosis in failing.items():
        if diagnosis is not None:
            found = by_name[name].diagnosis
            assert found is not None and found.id == diagnosis, (name, found)
    if not failing:
        assert verdict.score == verdict.max_score == 9
        assert all(len(c.runs) == 3 and "every run (3)" in c.message for c in verdict.checks)
