"""The mutation suite: every catalogued mistake, planted in a submission, gets its verdict and its diagnosis.

Submissions are generated from two templates (script style and function
style), each written as a module and as a notebook, into a temporary folder:
one *mistake* is one edit of the template (``dH_dZ = Z * (1 - Z)``, ...).  A
set of correct variants in other styles (float64, in-place updates, ``@`` or
``torch.matmul``, a hand-written sigmoid, transposed storage, other sizes,
hard-coded sizes, numpy) must get full marks and no diagnosis at all.

Everything is graded through the real pipeline in one batch
(:func:`harness.grade.grade_batch`, two workers) for speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

# ---------------------------------------------------------------- templates

SCRIPT = """\
import torch
torch.manual_seed({seed})
X = torch.tensor({X}{dtype})
Y = torch.tensor([[0.0]]{dtype})
W1 = torch.rand({n_in}, 3{dtype})
W2 = torch.rand(3, 1{dtype})
lr = 0.1
# %%
Z = {Z}
H = {H}
O = {O}
Y_cap = {Y_cap}
E = {E}
print("E =", E)
# %%
dE_dY_cap = {dE_dY_cap}
dY_cap_dO = {dY_cap_dO}
dO_dW2 = {dO_dW2}
dO_dH = {dO_dH}
dH_dZ = {dH_dZ}
dZ_dW1 = {dZ_dW1}
dE_dO = dE_dY_cap * dY_cap_dO
dE_dW2 = {dE_dW2}
dE_dH = {dE_dH}
dE_dZ = dE_dH * dH_dZ
dE_dW1 = {dE_dW1}
# %%
W1_new = {W1_new}
W2_new = {W2_new}
"""

FUNCTION = """\
import torch


def sigmoid(z):
    return {sigmoid}


def sigmoid_grad(h):
    return {sigmoid_grad}


def forward(X, W1, W2):
    Z = {Z}
    H = {H}
    O = {O}
    Y_cap = {Y_cap}
    return Z, H, O, Y_cap
# %%


def loss(Y_cap, Y):
    return {E}
# %%


def backward(X, Y, W1, W2):
    {forward_call}
    dE_dY_cap = {dE_dY_cap}
    dY_cap_dO = {dY_cap_dO}
    dO_dW2 = {dO_dW2}
    dO_dH = {dO_dH}
    dH_dZ = {dH_dZ}
    dZ_dW1 = {dZ_dW1}
    dE_dO = dE_dY_cap * dY_cap_dO
    dE_dW2 = {dE_dW2}
    dE_dH = {dE_dH}
    dE_dZ = dE_dH * dH_dZ
    dE_dW1 = {dE_dW1}
    return dE_dW1, dE_dW2
# %%


def update(W1, W2, dE_dW1, dE_dW2, lr):
    return {W1_new}, {W2_new}
# %%
torch.manual_seed({seed})
X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(4, 3)
W2 = torch.rand(3, 1)
Z_nb, H_nb, O_nb, Y_cap_nb = forward(X, W1, W2)
print(loss(Y_cap_nb, Y))
"""

DEFAULTS: dict[str, str] = {
    "sigmoid": "1 / (1 + torch.exp(-z))",
    "sigmoid_grad": "h * (1 - h)",
    "Z": "W1.T @ X",
    "H": "torch.sigmoid(Z)",
    "O": "H.T @ W2",
    "Y_cap": "torch.sigmoid(O)",
    "E": "((Y - Y_cap) ** 2).sum()",
    "forward_call": "Z, H, O, Y_cap = forward(X, W1, W2)",
    "dE_dY_cap": "-2 * (Y - Y_cap)",
    "dY_cap_dO": "Y_cap * (1 - Y_cap)",
    "dO_dW2": "H",
    "dO_dH": "W2",
    "dH_dZ": "H * (1 - H)",
    "dZ_dW1": "X",
    "dE_dW2": "dO_dW2 @ dE_dO",
    "dE_dH": "dO_dH @ dE_dO.T",
    "dE_dW1": "dZ_dW1 @ dE_dZ.T",
    "W1_new": "W1 - lr * dE_dW1",
    "W2_new": "W2 - lr * dE_dW2",
}


def render(style: str, edits: dict[str, str] | None = None, *, seed: int = 0, n_in: int = 4, dtype: str = "") -> str:
    """The template of ``style`` with ``edits`` applied."""
    values = {**DEFAULTS, **(edits or {})}
    X = [[0.9], [0.8], [0.7], [0.6], [0.5]][:n_in]
    template = SCRIPT if style == "script" else FUNCTION
    return template.format(seed=seed, X=X, n_in=n_in, dtype=f", dtype=torch.{dtype}" if dtype else "", **values)


def write(folder: Path, name: str, source: str, kind: str) -> Path:
    """``source`` as a module, or as a notebook whose cells are the ``# %%`` sections."""
    if kind == "module":
        path = folder / f"{name}.py"
        path.write_text(source.replace("# %%\n", ""), encoding="utf-8")
        return path
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}")] + [
        nbformat.v4.new_code_cell(cell.strip("\n")) for cell in re.split(r"^# %%\n", source, flags=re.M) if cell.strip()
    ]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


# ---------------------------------------------------------------- the catalogue of mistakes


@dataclass(frozen=True)
class Mistake:
    """One planted mistake: the template edit, and the checks it must fail with their diagnosis ids."""

    name: str
    edits: dict[str, str]
    fails: dict[str, str]  # check -> expected diagnosis id ("" for: failing, any diagnosis)
    styles: tuple[str, ...] = ("script", "function")
    n_in: int = 4
    function_fails: dict[str, str] | None = None  # where function style differs

    def expected(self, style: str) -> dict[str, str]:
        return self.function_fails if style == "function" and self.function_fails is not None else self.fails


BOTH = ("dE_dW2", "dE_dW1")

MISTAKES: tuple[Mistake, ...] = (
    Mistake("sign_flip", {"dE_dY_cap": "2 * (Y - Y_cap)"}, dict.fromkeys(BOTH, "scale--1")),
    Mistake("factor_four", {"dE_dY_cap": "-4 * (Y - Y_cap)"}, dict.fromkeys(BOTH, "scale-2")),
    Mistake("gradient_times_lr", {"dE_dW2": "0.1 * (dO_dW2 @ dE_dO)"}, {"dE_dW2": "constant-factor"}),
    Mistake("missing_factor_2", {"dE_dY_cap": "-(Y - Y_cap)"}, dict.fromkeys(BOTH, "scale-0.5")),
    Mistake(
        "missing_error_factor", {"dE_dY_cap": "-2 * torch.ones_like(Y_cap)"}, dict.fromkeys(BOTH, "wrong-constant")
    ),
    Mistake("extra_factor", {"dE_dH": "dO_dH @ (dE_dO * dY_cap_dO).T"}, {"dE_dW1": "double-count"}),
    Mistake("missing_hidden_derivative", {"dH_dZ": "1"}, {"dE_dW1": "missing-local-derivative"}),
    Mistake("missing_output_derivative", {"dY_cap_dO": "1"}, dict.fromkeys(BOTH, "missing-local-derivative")),
    Mistake("hidden_derivative_on_Z", {"dH_dZ": "Z * (1 - Z)"}, {"dE_dW1": "derivative-at-wrong-tensor"}),
    Mistake("output_derivative_on_O", {"dY_cap_dO": "O * (1 - O)"}, dict.fromkeys(BOTH, "derivative-at-wrong-tensor")),
    Mistake("Z_for_H", {"dO_dW2": "Z"}, {"dE_dW2": "wrong-operand"}),
    Mistake(  # only works by broadcasting: (3, 4) * (1, 1), then (4, 1) * (4, 3), where W2 belongs
        "W1_T_for_W2_broadcast",
        {"dO_dH": "W1.T", "dE_dH": "dO_dH * dE_dO", "dE_dW1": "dZ_dW1 * dE_dZ.T"},
        {"dE_dW1": "wrong-operand"},
    ),
    Mistake(
        "sigmoid_derivative_of_H",
        {"dH_dZ": "torch.sigmoid(H) * (1 - torch.sigmoid(H))"},
        {"dE_dW1": "derivative-at-wrong-tensor"},
    ),
    Mistake("transposed", {"dE_dW1": "dE_dZ @ dZ_dW1.T"}, {"dE_dW1": "transposed"}, styles=("script",), n_in=3),
    Mistake(
        "reshaped_not_transposed",
        {"dE_dW1": "(dE_dZ @ dZ_dW1.T).reshape(dZ_dW1.shape[0], -1)"},
        {"dE_dW1": "missing-transpose"},
    ),
    Mistake("collapsed_shape", {"dE_dW2": "dE_dO * dO_dW2.sum()"}, {"dE_dW2": "wrong-shape"}),
    Mistake(
        "tanh_forward_and_backward",
        {"H": "torch.tanh(Z)", "dH_dZ": "1 - H ** 2"},
        {"forward": "wrong-activation", **dict.fromkeys(BOTH, "consistent-with-own-forward")},
    ),
    Mistake(
        "no_output_sigmoid",
        {"Y_cap": "O"},
        {"forward": "other-value", **dict.fromkeys(BOTH, "consistent-with-own-forward")},
    ),
    Mistake(
        "uses_notebook_forward",
        {"forward_call": "Z, H, O, Y_cap = Z_nb, H_nb, O_nb, Y_cap_nb"},
        dict.fromkeys(BOTH, "instance-only"),
        styles=("function",),
    ),
    Mistake("update_sign", {"W1_new": "W1 + lr * dE_dW1", "W2_new": "W2 + lr * dE_dW2"}, {"update": "update-sign"}),
    Mistake("learning_rate", {"W1_new": "W1 - 0.01 * dE_dW1", "W2_new": "W2 - 0.01 * dE_dW2"}, {"update": "update-lr"}),
    Mistake(
        "ignores_lr",
        {"W1_new": "W1 - 0.1 * dE_dW1", "W2_new": "W2 - 0.1 * dE_dW2"},
        {"update": "update-lr"},
        styles=("function",),
    ),
    Mistake("no_update", {"W1_new": "W1.clone()", "W2_new": "W2.clone()"}, {"update": "no-update"}),
    Mistake("absolute_error", {"E": "(Y - Y_cap).abs().sum()"}, {"loss": "loss-formula"}),
    Mistake("half_squared_error", {"E": "0.5 * ((Y - Y_cap) ** 2).sum()"}, {"loss": "scale-0.5"}),
    Mistake(
        "nan_from_dividing_by_Y",
        {"dE_dY_cap": "-2 * (Y - Y_cap) * Y / Y"},
        {**dict.fromkeys(BOTH, "non-finite"), "update": "non-finite"},
        function_fails=dict.fromkeys(BOTH, "non-finite"),
    ),
    Mistake("sigmoid_sign", {"sigmoid": "1 / (1 + torch.exp(z))"}, {"sigmoid": "sign-flip"}, styles=("function",)),
    Mistake(
        "sigmoid_grad_applies_sigmoid",
        {"sigmoid_grad": "torch.sigmoid(h) * (1 - torch.sigmoid(h))"},
        {"sigmoid_grad": "double-count"},
        styles=("function",),
    ),
)

KINDS = ("module", "notebook")


# ---------------------------------------------------------------- correct variants


CORRECT_SCRIPT = {
    "float64": render("script", dtype="float64", seed=1),
    "inplace": render("script", seed=2).replace(
        "W1_new = W1 - lr * dE_dW1\nW2_new = W2 - lr * dE_dW2\n", "W1 -= lr * dE_dW1\nW2 = W2 - lr * dE_dW2\n"
    ),
    "matmul_manual_sigmoid": render(
        "script",
        {
            "Z": "torch.matmul(W1.T, X)",
            "H": "1 / (1 + torch.exp(-Z))",
            "O": "torch.matmul(H.T, W2)",
            "Y_cap": "1 / (1 + torch.exp(-O))",
            "E": "(Y - Y_cap) ** 2",
            "dE_dW2": "dO_dW2 * dE_dO",
            "dE_dH": "dO_dH * dE_dO",
            "dE_dW1": "torch.matmul(dZ_dW1, dE_dZ.T)",
        },
        seed=3,
    ),
    "transposed_gradient": render("script", {"dE_dW1": "dE_dZ @ dZ_dW1.T", "W1_new": "W1 - lr * dE_dW1.T"}, seed=4),
    "W1_stored_transposed": """\
import torch
torch.manual_seed(5)
X = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
Y = torch.tensor([[0.0]])
W1 = torch.rand(3, 4)          # hidden x input
W2 = torch.rand(3, 1)
lr = 0.1
# %%
Z = W1 @ X
H = torch.sigmoid(Z)
O = H.T @ W2
Y_cap = torch.sigmoid(O)
E = (Y - Y_cap) ** 2
# %%
delta_out = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
dE_dW2 = H @ delta_out
delta_hidden = (W2 @ delta_out) * H * (1 - H)
dE_dW1 = delta_hidden @ X.T    # (3, 4) like W1
W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
""",
    "other_sizes": """\
import torch
torch.manual_seed(6)
X = torch.rand(2, 1)
Y = torch.tensor([[0.3, 0.7]])
W1 = torch.rand(2, 5) - 0.5
W2 = torch.rand(5, 2) - 0.5
lr = 0.5
# %%
Z = W1.T @ X
H = torch.sigmoid(Z)
O = H.T @ W2
Y_cap = torch.sigmoid(O)
E = ((Y - Y_cap) ** 2).sum()
# %%
dE_dO = -2 * (Y - Y_cap) * Y_cap * (1 - Y_cap)
dE_dW2 = H @ dE_dO
dE_dW1 = X @ ((W2 @ dE_dO.T) * H * (1 - H)).T
W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
""",
    "numpy": """\
import numpy as np
rng = np.random.default_rng(7)
X = np.array([[0.9], [0.8], [0.7], [0.6]])
Y = np.array([[0.0]])
W1 = rng.random((4, 3))
W2 = rng.random((3, 1))
lr = 0.1


def sigmoid(x):
    return 1 / (1 + np.exp(-x))
# %%
Z = W1.T @ X
H = sigmoid(Z)
O = H.T @ W2
Y_hat = sigmoid(O)
E = (Y - Y_hat) ** 2
# %%
dE_dO = -2 * (Y - Y_hat) * Y_hat * (1 - Y_hat)
dE_dW2 = H @ dE_dO
dE_dW1 = X @ ((W2 @ dE_dO.T) * H * (1 - H)).T
W1_new = W1 - lr * dE_dW1
W2_new = W2 - lr * dE_dW2
""",
}

CORRECT_FUNCTION = {
    "default": render("function", seed=8),
    "float64_globals": render("function", seed=9)
    .replace(
        "torch.tensor([[0.9], [0.8], [0.7], [0.6]])", "torch.tensor([[0.9], [0.8], [0.7], [0.6]], dtype=torch.float64)"
    )
    .replace("W1 = torch.rand(4, 3)", "W1 = torch.rand(4, 3, dtype=torch.float64)")
    .replace("W2 = torch.rand(3, 1)", "W2 = torch.rand(3, 1, dtype=torch.float64)"),
    "inplace_update_matmul": render(
        "function",
        {
            "Z": "torch.matmul(W1.T, X)",
            "O": "torch.matmul(H.T, W2)",
            "H": "sigmoid(Z)",
            "Y_cap": "sigmoid(O)",
            "dY_cap_dO": "sigmoid_grad(Y_cap)",
            "dH_dZ": "sigmoid_grad(H)",
        },
        seed=10,
    ).replace(
        "    return W1 - lr * dE_dW1, W2 - lr * dE_dW2",
        "    W1 -= lr * dE_dW1\n    W2 -= lr * dE_dW2\n    return W1, W2",
    ),
    "hard_coded_sizes": """\
import torch


def sigmoid(z):
    return torch.sigmoid(z)


def sigmoid_grad(h):
    return h * (1 - h)


def forward(X, W1, W2):
    H = torch.zeros(3, 1)
    for j in range(3):
        H[j, 0] = sigmoid(sum(W1[i, j] * X[i, 0] for i in range(4)))
    O = sum(H[j, 0] * W2[j, 0] for j in range(3))
    return sigmoid(O).reshape(1, 1)


def loss(Y_cap, Y):
    return ((Y - Y_cap) ** 2).sum()


def backward(X, Y, W1, W2):
    H = sigmoid(W1.T @ X)
    Y_cap = forward(X, W1, W2)
    d_out = float(-2 * (Y - Y_cap).sum() * Y_cap.sum() * (1 - Y_cap.sum()))
    dE_dW2 = torch.zeros(3, 1)
    dE_dW1 = torch.zeros(4, 3)
    for j in range(3):
        dE_dW2[j, 0] = H[j, 0] * d_out
        for i in range(4):
            dE_dW1[i, j] = X[i, 0] * W2[j, 0] * d_out * H[j, 0] * (1 - H[j, 0])
    return dE_dW1, dE_dW2


def update(W1, W2, dE_dW1, dE_dW2, lr):
    return W1 - lr * dE_dW1, W2 - lr * dE_dW2
""",
    "numpy": """\
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_grad(h):
    return h * (1.0 - h)


def forward(X, W1, W2):
    H = sigmoid(W1.T @ X)
    return sigmoid(H.T @ W2)


def loss(Y_cap, Y):
    return float(np.sum((Y - Y_cap) ** 2))


def backward(X, Y, W1, W2):
    H = sigmoid(W1.T @ X)
    Y_cap = sigmoid(H.T @ W2)
    d_out = -2 * (Y - Y_cap) * sigmoid_grad(Y_cap)
    return X @ ((W2 @ d_out.T) * sigmoid_grad(H)).T, H @ d_out


def update(W1, W2, dE_dW1, dE_dW2, lr):
    return W1 - lr * dE_dW1, W2 - lr * dE_dW2
""",
}

AUTOGRAD = """\
import torch


def sigmoid(z):
    return torch.sigmoid(z)


def sigmoid_grad(h):
    return h * (1 - h)


def forward(X, W1, W2):
    return torch.sigmoid(torch.sigmoid(W1.T @ X).T @ W2)


def loss(Y_cap, Y):
    return ((Y - Y_cap) ** 2).sum()


def backward(X, Y, W1, W2):
    W1 = W1.clone().requires_grad_(True)
    W2 = W2.clone().requires_grad_(True)
    loss(forward(X, W1, W2), Y).backward()
    return W1.grad, W2.grad


def update(W1, W2, dE_dW1, dE_dW2, lr):
    return W1 - lr * dE_dW1, W2 - lr * dE_dW2
"""


# ---------------------------------------------------------------- the batch


@dataclass
class Planted:
    path: Path
    style: str
    kind: str
    expected: dict[str, str]  # failing check -> diagnosis id; every other check passes
    mistake: str = ""
    notes: list[str] = field(default_factory=list)


def plant(folder: Path) -> list[Planted]:
    planted: list[Planted] = []
    for m in MISTAKES:
        for style in m.styles:
            for kind in KINDS:
                source = render(style, m.edits, seed=len(planted), n_in=m.n_in)
                path = write(folder, f"{m.name}__{style}__{kind}", source, kind)
                planted.append(Planted(path, style, kind, m.expected(style), m.name))
    for name, source in CORRECT_SCRIPT.items():
        for kind in KINDS:
            planted.append(Planted(write(folder, f"correct_script_{name}__{kind}", source, kind), "script", kind, {}))
    for name, source in CORRECT_FUNCTION.items():
        for kind in KINDS:
            planted.append(
                Planted(write(folder, f"correct_function_{name}__{kind}", source, kind), "function", kind, {})
            )
    planted.append(
        Planted(write(folder, "correct_function_autograd__module", AUTOGRAD, "module"), "function", "module", {})
    )
    return planted


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Planted, dict[str, Any]]]:
    from harness.batch import grade_batch

    folder = tmp_path_factory.mktemp("mutations")
    planted = plant(folder)
    verdicts = grade_batch([p.path for p in planted], jobs=2)
    return list(zip(planted, verdicts))


def _checks(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in verdict["checks"]}


def _describe(verdict: dict[str, Any]) -> str:
    return "; ".join(
        f"{c['name']}={c['status']}" + (f"({c['diagnosis']['id']})" if c["diagnosis"] else "")
        for c in verdict["checks"]
    )


# ---------------------------------------------------------------- the proof


def test_every_planted_mistake_fails_exactly_its_checks_with_its_diagnosis(
    graded: list[tuple[Planted, dict[str, Any]]],
) -> None:
    wrong = []
    for planted, verdict in graded:
        if not planted.mistake:
            continue
        checks = _checks(verdict)
        for name, check in checks.items():
            want = planted.expected.get(name)
            got = check["diagnosis"]["id"] if check["diagnosis"] else None
            if want is None:
                if check["status"] != "pass":
                    wrong.append(f"{planted.path.name}: {name} should pass: {_describe(verdict)}")
            elif check["status"] == "pass":
                wrong.append(f"{planted.path.name}: {name} should fail: {_describe(verdict)}")
            elif want and got != want:
                wrong.append(
                    f"{planted.path.name}: {name} diagnosed {got}, expected {want}: {check['message']} "
                    f"| {check['diagnosis']}"
                )
    assert not wrong, "\n".join(wrong)


def test_every_catalogue_id_is_planted_in_script_and_function_style_where_the_style_allows_it() -> None:
    planted = {(m.expected(s).get(c), s) for m in MISTAKES for s in m.styles for c in m.expected(s)}
    ids = {i for i, _ in planted}
    for wanted in (
        "scale--1",
        "scale-2",
        "scale-0.5",
        "constant-factor",
        "wrong-constant",
        "double-count",
        "missing-local-derivative",
        "derivative-at-wrong-tensor",
        "wrong-operand",
        "transposed",
        "missing-transpose",
        "wrong-shape",
        "wrong-activation",
        "other-value",
        "consistent-with-own-forward",
        "instance-only",
        "update-sign",
        "update-lr",
        "no-update",
        "loss-formula",
        "non-finite",
    ):
        assert wanted in ids, wanted
    script_only = {i for i in ids if (i, "function") not in planted}
    function_only = {i for i in ids if (i, "script") not in planted}
    # transposed needs a square W1 (the default 4-3-1 function assignment has none); instance-only needs
    # functions to call on other inputs; the helpers exist only in function style
    assert script_only == {"transposed"}
    assert function_only <= {"instance-only", "sign-flip", "double-count"}


def test_every_correct_variant_gets_full_marks_and_no_diagnosis(graded: list[tuple[Planted, dict[str, Any]]]) -> None:
    wrong = []
    for planted, verdict in graded:
        if planted.mistake:
            continue
        if verdict["status"] != "graded" or verdict["score"] != verdict["max_score"]:
            wrong.append(
                f"{planted.path.name}: {verdict['score']}/{verdict['max_score']} {verdict.get('error')}: "
                f"{_describe(verdict)}"
            )
        for check in verdict["checks"]:
            if check["diagnosis"] is not None or check["status"] != "pass":
                wrong.append(f"{planted.path.name}: {check['name']} {check['status']} {check['diagnosis']}")
    assert not wrong, "\n".join(wrong)


def test_correct_variants_are_graded_in_the_style_they_are_written_in(
    graded: list[tuple[Planted, dict[str, Any]]],
) -> None:
    for planted, verdict in graded:
        assert verdict["style"] == {"function": "functions"}.get(planted.style, planted.style), planted.path.name


def test_a_function_with_hard_coded_sizes_passes_at_the_assignments_sizes(
    graded: list[tuple[Planted, dict[str, Any]]],
) -> None:
    for planted, verdict in graded:
        if "hard_coded_sizes" not in planted.path.name:
            continue
        assert verdict["score"] == verdict["max_score"]
        assert all(c["diagnosis"] is None for c in verdict["checks"])


def test_autograd_in_backward_is_reported_as_a_note_not_as_a_failure_by_default(
    graded: list[tuple[Planted, dict[str, Any]]],
) -> None:
    (verdict,) = [v for p, v in graded if "autograd" in p.path.name]
    checks = _checks(verdict)
    assert verdict["score"] == verdict["max_score"]
    for name in ("dE_dW1", "dE_dW2"):
        assert any("autograd" in n for n in checks[name]["notes"]), checks[name]


def test_function_style_failures_name_the_grader_run_they_failed_on_with_its_inputs(
    graded: list[tuple[Planted, dict[str, Any]]],
) -> None:
    seen = 0
    for planted, verdict in graded:
        if planted.style != "function" or not planted.mistake:
            continue
        for name in planted.expected:
            check = _checks(verdict)[name]
            grader = [r for r in check["runs"] if r["source"] == "grader"]
            assert len(grader) == 2 and all(set(r["values"]) >= {"X", "Y", "W1", "W2"} for r in grader), check
            if check["status"] == "fail" and check["worst"]:
                assert "run" in check["message"] or "inputs" in check["message"], check["message"]
                seen += 1
    assert seen > 20


def test_messages_name_the_variable_and_never_print_the_reference_gradient(
    graded: list[tuple[Planted, dict[str, Any]]],
) -> None:
    # no code of the answer: no matrix product, no transposed operand, no chain of factors, no "-2 * (...)"
    forbidden = re.compile(r"@|\w\.T\b|dE_dZ|X\s*·\s*\(|H\s*·\s*\(\s*−?2|−2\s*\(|-2\s*\*|·.*·.*·")
    for planted, verdict in graded:
        for check in verdict["checks"]:
            d = check["diagnosis"]
            if d is None:
                continue
            assert not forbidden.search(d["message"]), (planted.path.name, d["message"])
            key = {
                "forward": ("Y_cap", "forward", "H", "O"),
                "loss": ("E", "loss"),
                "update": ("update", "W1_new", "W2_new"),
                "dE_dW1": ("dE_dW1", "backward()"),
                "dE_dW2": ("dE_dW2", "backward()"),
            }.get(check["name"], (check["name"],))
            assert any(k in d["message"] for k in key), (planted.path.name, d["message"])


def test_the_whole_batch_is_reproducible_from_the_recorded_seed(graded: list[tuple[Planted, dict[str, Any]]]) -> None:
    for _planted, verdict in graded:
        assert isinstance(verdict["seed"], int)


def test_hard_coded_sizes_are_named_fixed_sizes_where_the_assignment_allows_other_sizes(tmp_path: Path) -> None:
    from dataclasses import replace

    from harness.batch import grade_batch
    from harness.definition import resolved
    from harness.records.assignment import Assignment

    path = write(tmp_path, "correct_hard_coded_sizes", CORRECT_FUNCTION["hard_coded_sizes"], "module")
    general = resolved(replace(Assignment(), general_sizes=True))
    assert general.definition is not None and general.definition.sizes["I"] == (4, 5, 3)
    (fixed,) = grade_batch([path], general, jobs=1)
    (right,) = grade_batch([path], jobs=1)  # at the default's one size it is right
    assert right["score"] == right["max_score"]
    failing = {c["name"]: (c["diagnosis"] or {}).get("id") for c in fixed["checks"] if c["status"] != "pass"}
    assert failing == dict.fromkeys(("forward", "dE_dW2", "dE_dW1"), "fixed-sizes"), failing


@pytest.mark.slow
def test_with_any_sizes_allowed_every_function_mistake_is_still_named_and_hard_coded_sizes_fail(tmp_path: Path) -> None:
    """The same mistakes under an assignment that draws n_in, n_hidden, n_out too (a second batch: slow)."""
    from dataclasses import replace

    from harness.batch import grade_batch
    from harness.records.assignment import Assignment

    items = [
        (m.name, m.expected("function"), write(tmp_path, m.name, render("function", m.edits), "module"))
        for m in MISTAKES
        if "function" in m.styles and "broadcast" not in m.name  # its elementwise chain fits one output only
    ]
    items += [
        (
            name,
            {"forward": "fixed-sizes", "dE_dW2": "fixed-sizes", "dE_dW1": "fixed-sizes"}
            if name == "hard_coded_sizes"
            else {},
            write(tmp_path, f"correct_{name}", source, "module"),
        )
        for name, source in CORRECT_FUNCTION.items()
    ]
    verdicts = grade_batch([path for _, _, path in items], replace(Assignment(), general_sizes=True), jobs=2)
    wrong = []
    for (name, expected, _), verdict in zip(items, verdicts):
        for check in verdict["checks"]:
            want = expected.get(check["name"])
            got = check["diagnosis"]["id"] if check["diagnosis"] else None
            if (want is None and check["status"] != "pass") or (want and (check["status"] == "pass" or got != want)):
                wrong.append(f"{name}: {check['name']} {check['status']} {got}, expected {want or 'pass'}")
    assert not wrong, "\n".join(wrong)
