"""Expected verdicts for the bundled example submissions in ``submissions/``.

Plain data, no tests: the tests that grade the examples pin these.

``EXPECTED[file]`` holds the submission's ``status`` (``graded`` or ``error``) and,
for a graded one, the status of each check (``pass | fail | missing | error``):

* script style: ``forward``, ``loss``, ``dE_dW2``, ``dE_dW1``, ``update``;
* function style: the same five (``dE_dW1``/``dE_dW2`` are ``backward``'s two
  results) plus ``sigmoid`` and ``sigmoid_grad``; a function that is not
  defined is ``missing``.

A check not listed for a file is not pinned. Conventions these data follow:

* ``update`` judges the *rule* against the submission's own gradient, so a wrong
  gradient with ``W - lr * dW`` is still ``pass``; ``loss`` judges the rule on the
  submission's own ``Y_cap``.
* A name that was never produced because the run raised (``broken_*``) is
  ``error``; a name a run that finished cleanly never defined is ``missing``.
  A ``.py`` that does not parse has every script check ``error``.
* ``correct_numpy.py`` is script style but defines a ``sigmoid`` helper; the
  contract says helpers are "checked where defined", so it is pinned ``pass``.
  Its ``sigmoid_grad`` (not defined) is not pinned for a script-style file.
"""

from __future__ import annotations

_SCRIPT = ("forward", "loss", "dE_dW2", "dE_dW1", "update")
_FUNCTION = _SCRIPT + ("sigmoid", "sigmoid_grad")


def _verdict(checks: tuple[str, ...], **changed: str) -> dict[str, str]:
    """``status: graded`` with every check in ``checks`` passing except those in ``changed``."""
    unknown = set(changed) - set(checks)
    assert not unknown, unknown
    return {"status": "graded", **{c: changed.get(c, "pass") for c in checks}}


def _script(**changed: str) -> dict[str, str]:
    return _verdict(_SCRIPT, **changed)


def _function(**changed: str) -> dict[str, str]:
    return _verdict(_FUNCTION, **changed)


EXPECTED: dict[str, dict[str, str]] = {
    # ---- correct: every check passes
    "correct_notebook_classic.ipynb": _script(),
    "correct_script.py": _script(),
    "correct_functions.py": _function(),
    "correct_functions_notebook.ipynb": _function(),
    "correct_float64_inplace.py": _script(),
    "correct_transposed_grad.py": _script(),  # dE_dW1 is (3, 4): accepted with a note
    "correct_numpy.py": {**_script(), "sigmoid": "pass"},
    # ---- one bug each
    "bug_sign_flip_dW2.py": _script(dE_dW2="fail"),
    "bug_missing_factor_2.ipynb": _script(dE_dW2="fail", dE_dW1="fail"),
    "bug_sigmoid_derivative_on_preactivation.py": _script(dE_dW1="fail"),
    "bug_missing_activation_derivative.ipynb": _script(dE_dW1="fail"),
    "bug_wrong_update_sign.py": _script(update="fail"),
    "bug_wrong_learning_rate.ipynb": _script(update="fail"),
    "bug_loss_abs.py": _script(loss="fail"),
    "bug_functions_backward_wrong_operand.py": _function(dE_dW2="fail"),
    "bug_functions_sigmoid_grad.py": _function(sigmoid_grad="fail"),
    "bug_nan_divide_by_target.py": _script(dE_dW2="fail", dE_dW1="fail", update="fail"),
    "bug_reshape_instead_of_transpose.py": _script(dE_dW1="fail"),
    "bug_output_derivative_twice.py": _script(dE_dW1="fail"),
    "bug_tanh_forward_consistent_backward.ipynb": _script(forward="fail", dE_dW2="fail", dE_dW1="fail"),
    "bug_functions_update_ignores_lr.py": _function(update="fail"),  # only other lr values show it
    "bug_functions_derivative_on_preactivation.py": _function(dE_dW2="fail", dE_dW1="fail"),
    "bug_functions_global_forward.ipynb": _function(dE_dW2="fail", dE_dW1="fail"),
    # hard-coded 4-3-1 loops: right for the default assignment (an "(info)" note says other sizes fail)
    "correct_functions_hard_coded_sizes.py": _function(),
    # ---- incomplete, but ran to the end
    "partial_script_forward_only.py": _script(dE_dW2="missing", dE_dW1="missing", update="missing"),
    "partial_functions_no_update.py": _function(loss="missing", update="missing", sigmoid_grad="missing"),
    # ---- broken
    "broken_syntax_error.py": _script(forward="error", loss="error", dE_dW2="error", dE_dW1="error", update="error"),
    "broken_exception_halfway.ipynb": _script(dE_dW2="error", dE_dW1="error", update="error"),
    "broken_invalid_notebook.ipynb": {"status": "error"},
}

# The diagnosis expected on each failing gradient/update/loss check of a bug file (the ids of
# README's diagnosis vocabulary).
# bug_functions_sigmoid_grad.py is absent on purpose: its only failing check is the
# sigmoid_grad helper (h*(1+h)), which none of the diagnosis ids describes.
EXPECTED_DIAGNOSIS: dict[str, str] = {
    "bug_sign_flip_dW2.py": "scale--1",
    "bug_missing_factor_2.ipynb": "scale-0.5",  # both gradients exactly 1/2 of the truth
    "bug_sigmoid_derivative_on_preactivation.py": "derivative-at-wrong-tensor",
    "bug_missing_activation_derivative.ipynb": "missing-local-derivative",
    "bug_wrong_update_sign.py": "update-sign",
    "bug_wrong_learning_rate.ipynb": "update-lr",
    "bug_loss_abs.py": "loss-formula",
    "bug_functions_backward_wrong_operand.py": "wrong-operand",
    "bug_nan_divide_by_target.py": "non-finite",
    "bug_reshape_instead_of_transpose.py": "missing-transpose",  # reshape where the transpose belongs
    "bug_output_derivative_twice.py": "double-count",
    "bug_tanh_forward_consistent_backward.ipynb": "consistent-with-own-forward",  # forward: see below
    "bug_functions_update_ignores_lr.py": "update-lr",
    "bug_functions_derivative_on_preactivation.py": "derivative-at-wrong-tensor",  # both layers' derivatives
    "bug_functions_global_forward.ipynb": "instance-only",  # backward reads the notebook's globals
}

# Files whose failing checks do not all carry EXPECTED_DIAGNOSIS: the id of each such check.
EXPECTED_OTHER_DIAGNOSES: dict[str, dict[str, str]] = {
    "bug_tanh_forward_consistent_backward.ipynb": {"forward": "wrong-activation"},
}

# Which failing checks carry the EXPECTED_DIAGNOSIS id (the file's "fail" checks).
EXPECTED_DIAGNOSIS_CHECKS: dict[str, tuple[str, ...]] = {
    name: tuple(
        check
        for check, status in EXPECTED[name].items()
        if status == "fail" and check not in EXPECTED_OTHER_DIAGNOSES.get(name, {})
    )
    for name in EXPECTED_DIAGNOSIS
}

# How each loadable submission is written (None: the style cannot be told).
EXPECTED_STYLE: dict[str, str | None] = {
    name: (
        None
        if verdict["status"] == "error" or name == "broken_syntax_error.py"
        else ("functions" if "sigmoid_grad" in verdict else "script")
    )
    for name, verdict in EXPECTED.items()
}
