"""The house's structure, kept so: rooms that import only downwards, no import circle, short modules and short
functions. Read from the shipped code's syntax (every import counts: at module level, inside functions and
under TYPE_CHECKING), nothing is imported or run.

The rooms, lowest first (a room may import itself and the rooms listed for it):
- ``model.core``: what the Lambda image runs (standard library only);
- ``model.train``: the trainer; ``model.sdk``: the Python API, the client and the command line (whose
  ``train`` command is the trainer's); ``model`` itself: the installed package's facade and entry points;
- ``lambda_fn``: the function (the model's core only: the image holds nothing else of it);
- ``infra_cdk``: the infrastructure; ``scripts``: development, benchmarks and release. Tests are free.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from scripts import REPO_ROOT

SHIPPED = ("model", "lambda_fn", "infra_cdk", "scripts")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60  # from its `def` to its last line
ALLOWED = {
    "model.core": {"model.core"},
    "model.train": {"model.core", "model.train"},
    "model.sdk": {"model.core", "model.train", "model.sdk"},
    "model": {"model", "model.core", "model.train", "model.sdk"},
    "lambda_fn": {"model.core", "lambda_fn"},
    "infra_cdk": {"model.core", "lambda_fn", "infra_cdk"},
    "scripts": {*SHIPPED, "model.core", "model.train", "model.sdk"},
}


@cache
def modules() -> dict[str, Path]:
    """Every shipped module by its dotted name (a package by its own name)."""
    found = {}
    for top in SHIPPED:
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def room(module: str) -> str:
    if module.startswith("model.") and module.endswith(".__main__"):
        return "model"  # an entry point: `python -m model.train` is the command line's `train`
    return max((r for r in ALLOWED if module == r or module.startswith(f"{r}.")), key=len)


def imported(module: str) -> Iterator[str]:
    """The shipped modules ``module`` imports, resolved (relative imports included)."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in modules():
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name


def graph() -> dict[str, set[str]]:
    return {module: set(imported(module)) for module in modules()}


def test_every_room_imports_only_itself_and_the_rooms_below() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if room(target) not in ALLOWED[room(module)]
    ]
    assert not upward


def test_there_is_no_import_circle() -> None:
    edges = graph()
    circles = []
    for start in edges:  # a path back to the start, by depth-first search (the graph has ~80 modules)
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for target in edges[node]:
                if target == start:
                    circles.append(" -> ".join([*path, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*path, target]))
    assert not circles


@pytest.mark.parametrize("module", sorted(modules()))
def test_modules_and_functions_are_short(module: str) -> None:
    source = modules()[module].read_text(encoding="utf-8")
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module}: {lines} lines"
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, module


def test_the_rules_see_the_house() -> None:
    # The reader resolves what the code imports: these arrows exist, so they must be found.
    edges = graph()
    assert "model.core.artifact" in edges["model.core.serving"]  # relative, within a room
    assert "model.core.contract" in edges["lambda_fn.handler"]  # absolute, across rooms
    assert "model.train.command" in edges["model.sdk.cli"]
    assert {room(m) for m in modules()} == set(ALLOWED)
