"""Powertools packages whose ``__init__`` imports far more than this function uses (``event_handler``'s every
resolver, ``utilities.data_classes``'s every event source): together half of the old cold start.

:func:`defer_package_init` registers such a package without running its ``__init__``: submodules import as
usual, and a name the ``__init__`` re-exports from a submodule imports just that submodule; any other
attribute runs the ``__init__`` then. tests/integration/test_cold_start_imports.py fails if an upgrade breaks
it. Ours, not ``importlib.util.LazyLoader``: importing a submodule reads the package's ``__path__``, which
runs a lazy ``__init__`` at once (288 ms against 112 ms to import the handler, docs/benchmarks.md)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from functools import cache
from pathlib import Path
from typing import Any


def defer_package_init(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None or spec.origin is None:
        raise ImportError(f"{name} is not an importable package")
    package = importlib.util.module_from_spec(spec)
    loader, origin = spec.loader, spec.origin

    def run_init_on_first_use(attribute: str) -> Any:
        if importlib.util.find_spec(f"{name}.{attribute}") is not None:
            return importlib.import_module(f"{name}.{attribute}")
        if (source := _reexports(origin).get(attribute)) is not None:
            submodule, original = source
            value = getattr(importlib.import_module(f"{name}.{submodule}"), original)
            vars(package)[attribute] = value
            return value
        del vars(package)["__getattr__"]  # from now on, a plain module
        loader.exec_module(package)
        return getattr(package, attribute)

    vars(package)["__getattr__"] = run_init_on_first_use  # a module's __getattr__ (PEP 562)
    sys.modules[name] = package


@cache
def _reexports(init_path: str) -> dict[str, tuple[str, str]]:
    """The names an ``__init__`` imports from its own submodules: name -> (submodule, name there)."""
    tree = ast.parse(Path(init_path).read_text(encoding="utf-8"), init_path)
    return {
        alias.asname or alias.name: (node.module, alias.name)
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is not None
        for alias in node.names
    }
