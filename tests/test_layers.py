"""The house: imports run one way, bottom to top, read from the source (nothing is executed).

Every import counts, at the top of a module, inside a function or under ``TYPE_CHECKING``.  An
import goes to a strictly lower layer, or stays inside its own package.  A function-local import
of the project or of torch says why on its line (a lazy import is for start-up speed only).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("harness", "reference")

# (layer, module prefixes), bottom first; see the README's "Design" for what each layer holds.
LAYERS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (0, ("harness.errors", "harness.wire", "reference")),
    (1, ("harness.records",)),
    (2, ("harness.gradients", "harness.spec", "harness.load", "harness.run")),
    (3, ("harness.definition", "harness.computation")),
    (4, ("harness.diagnose",)),
    (5, ("harness.check",)),
    (6, ("harness.grade",)),
    (7, ("harness.batch", "harness.report")),
    (8, ("harness.course",)),
    (9, ("harness.cli", "harness.pytest_plugin", "harness.pytest_gradients", "harness")),
)
GRAB_BAGS = ("utils", "util", "helpers", "common", "misc", "stuff")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or the module a name is imported from)
    line: int
    local: bool  # inside a function
    text: str  # the source line


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "assignments" not in path.relative_to(ROOT).parts:  # the courses' reference modules: data
                found[module_name(path)] = path
    return found


def _resolve(source: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = source.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path) -> Iterator[Import]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    local_lines = {
        sub.lineno for f in functions for sub in ast.walk(f) if isinstance(sub, (ast.Import, ast.ImportFrom))
    }
    known = modules()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, node, path.name == "__init__.py")
            for alias in node.names:  # `from harness.course import shard`: the package, then its module
                sub = f"{base}.{alias.name}"
                targets += [base, sub] if sub in known else [base]
        for target in dict.fromkeys(targets):
            yield Import(name, target, node.lineno, node.lineno in local_lines, lines[node.lineno - 1])


def project(target: str) -> bool:
    return target.split(".")[0] in PACKAGES


def layer_of(module: str) -> tuple[int, str]:
    """(layer, the prefix that placed it): the longest prefix wins."""
    best: tuple[int, str] | None = None
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[1])):
                best = (layer, prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS (and to the README's drawing)"
    return best


def all_imports() -> list[Import]:
    return [i for name, path in modules().items() for i in imports_of(name, path)]


def upward(imp: Import) -> bool:
    """An import that runs against the layer order (the worker is outside the layers: see its own test)."""
    (src_layer, src_prefix), (dst_layer, dst_prefix) = layer_of(imp.source), layer_of(imp.target)
    if src_prefix == dst_prefix and src_prefix != "harness":
        return False  # inside its own package
    if imp.source == "harness" and imp.target.startswith("harness."):
        return False  # the package's own re-exports
    return dst_layer >= src_layer


def test_every_module_of_the_project_has_a_layer() -> None:
    for name in modules():
        layer_of(name)


def test_no_import_runs_against_the_layer_order() -> None:
    bad = [
        f"{i.source}:{i.line} imports {i.target} (layer {layer_of(i.source)[0]} -> {layer_of(i.target)[0]})"
        for i in all_imports()
        if project(i.target) and i.source != "harness.run.worker" and upward(i)
    ]
    assert bad == []


def test_the_project_has_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for i in all_imports():
        if project(i.target) and i.target in graph and i.target != i.source:
            graph[i.source].add(i.target)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_worker_imports_nothing_of_the_grader_but_the_wire_protocol() -> None:
    worker = modules()["harness.run.worker"]
    found = {i.target for i in imports_of("harness.run.worker", worker) if project(i.target)}
    assert found <= {"harness.wire"}


def test_the_wire_protocol_imports_only_the_standard_library() -> None:
    import sys

    wire = modules()["harness.wire"]
    found = {i.target.split(".")[0] for i in imports_of("harness.wire", wire)}
    assert found <= set(sys.stdlib_module_names) | {"__future__"}


def test_a_lazy_import_of_the_project_or_of_torch_says_why_on_its_line() -> None:
    silent = [
        f"{i.source}:{i.line}: {i.text.strip()}"
        for i in all_imports()
        if i.local and (project(i.target) or i.target.split(".")[0] == "torch") and "#" not in i.text
    ]
    assert silent == []


@pytest.mark.parametrize("bag", GRAB_BAGS)
def test_there_is_no_grab_bag_module(bag: str) -> None:
    assert not [name for name in modules() if name.split(".")[-1] == bag]


def test_the_layer_test_catches_an_upward_import_and_a_cycle() -> None:
    assert upward(Import("harness.records.result", "harness.check.compare", 1, False, ""))
    assert upward(Import("harness.run.pool", "harness.spec", 1, False, ""))  # same layer, other package
    assert not upward(Import("harness.check.defined", "harness.check.compare", 1, False, ""))
    assert not upward(Import("harness.grade", "harness.check.defined", 1, False, ""))
