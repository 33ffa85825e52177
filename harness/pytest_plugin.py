"""pytest plugin: ``pytest --gradproof=FILE`` turns a submission into one test item per check.

Installed with the package (entry point ``pytest11: gradproof``).  Inert
unless ``--gradproof`` is given: importing it imports pytest and the standard
library only (never torch), and its hooks return at once.

With ``--gradproof=FILE`` (repeatable) and no other test paths, pytest
collects only the submissions; with explicit paths it collects those too.
Each submission is graded once, at collection, in the grader's sandbox (the
submission never runs inside pytest); each check is an item named after it,
``FILE::dE_dW2``, whose failure message is the check's message and diagnosis.
A submission that cannot be graded is one failing item, ``FILE::grade``.

Options: ``--gradproof-spec=SPEC`` (an assignment spec),
``--gradproof-sandbox=auto|require|off``, and ``--gradproof-show-hidden``
(a check that the spec does not make ``visible`` fails with a neutral line
unless this is given).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from harness.records.report import CheckData, VerdictData

_FILES = pytest.StashKey[list[Path]]()
HIDDEN_MESSAGE = "this check is hidden: it fails, and its details are not shown"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradproof", "grade a hand-written backprop submission (gradproof)")
    group.addoption(
        "--gradproof",
        action="append",
        default=[],
        metavar="FILE",
        help="grade FILE (.py or .ipynb): one test item per check (repeatable)",
    )
    group.addoption("--gradproof-spec", default=None, metavar="SPEC", help="assignment spec (TOML) [the default]")
    group.addoption(
        "--gradproof-sandbox",
        default="auto",
        choices=("auto", "require", "off"),
        help="sandbox for the submission [auto]",
    )
    group.addoption(
        "--gradproof-show-hidden", action="store_true", default=False, help="show the details of checks the spec hides"
    )


def pytest_configure(config: pytest.Config) -> None:
    given = config.getoption("gradproof") or []
    if not given:
        return
    files: list[Path] = []
    for name in given:
        path = Path(name).resolve()
        if not path.is_file() or path.suffix not in (".py", ".ipynb"):
            raise pytest.UsageError(f"--gradproof={name!r}: expected an existing .py or .ipynb file")
        files.append(path)
    config.stash[_FILES] = files
    explicit = getattr(config, "args_source", None) == pytest.Config.ArgsSource.ARGS
    wanted = [str(p) for p in files]
    config.args = ([a for a in config.args] + [w for w in wanted if w not in config.args]) if explicit else wanted


def _submission(path: Path, config: pytest.Config) -> bool:
    files = config.stash.get(_FILES, None)
    return files is not None and path.resolve() in files


def _node(path: Path, parent: pytest.Collector) -> SubmissionFile:
    """The submission's collector; its node id is the path from the rootdir (or the full path outside it)."""
    root = parent.config.rootpath
    try:
        nodeid = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        nodeid = str(path.resolve())
    return SubmissionFile.from_parent(parent, path=path, nodeid=nodeid)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".ipynb" and _submission(file_path, parent.config):
        return _node(file_path, parent)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A ``.py`` submission is graded, never imported as a test module."""
    if _submission(module_path, parent.config):
        return _node(module_path, parent)
    return None


class CheckFailed(Exception):
    """A failing check; its text is the failure message."""


class SubmissionFile(pytest.File):
    """One submission file: graded once, an item per check."""

    def collect(self) -> list[pytest.Item]:
        import warnings

        from harness.batch import grade_batch  # lazy: the plugin's import loads pytest and the standard library only
        from harness.spec import load_spec  # lazy: as above, the plugin is inert without --gradproof

        config = self.config
        spec = config.getoption("gradproof_spec")
        assignment = load_spec(Path(spec) if spec else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verdict = grade_batch(
                [self.path], assignment, jobs=1, sandbox=config.getoption("gradproof_sandbox"), hide=[self.path.parent]
            )[0]
        show_hidden = bool(config.getoption("gradproof_show_hidden"))
        if verdict["status"] == "error":
            return [Check.from_parent(self, name="grade", check=None, verdict=verdict, visible=True)]
        return [
            Check.from_parent(
                self, name=c["name"], check=c, verdict=verdict, visible=show_hidden or assignment.visible(c["name"])
            )
            for c in verdict["checks"]
        ]


class Check(pytest.Item):
    """One check of one submission."""

    def __init__(self, *, check: CheckData | None, verdict: VerdictData, visible: bool, **kw: Any) -> None:
        super().__init__(**kw)
        self.check = check
        self.verdict = verdict
        self.visible = visible
        if check is not None:
            self.user_properties += [("score", check["score"]), ("max_score", check["max_score"])]

    def runtest(self) -> None:
        if self.check is None:
            raise CheckFailed(f"not graded: {self.verdict['error']}")
        if self.check["status"] == "pass":
            return
        if not self.visible:
            raise CheckFailed(HIDDEN_MESSAGE)
        from harness.report.text import check_details  # lazy: the plugin's import loads no grader module

        c = self.check
        details = check_details(c, tolerance=False, counterexample_chars=0)
        raise CheckFailed(f"{c['name']} {c['status']} ({c['score']:g}/{c['max_score']:g} points): {details}")

    def repr_failure(self, excinfo: ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name
