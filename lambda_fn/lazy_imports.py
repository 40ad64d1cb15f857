"""Powertools packages whose ``__init__`` imports far more than this function uses: ``event_handler``'s
imports every resolver it ships (AppSync pulls in asyncio, ssl and socket), ``utilities.data_classes``'s the
event classes of every AWS event source (CodePipeline's pulls in zipfile and tempfile). Together they were
half of this function's cold start, although it uses one resolver and one event class.

:func:`defer_package_init` registers such a package without running its ``__init__``: its submodules import
as usual (the import system needs only the package's ``__path__``), ``from package import submodule`` imports
just that submodule, and ``from package import Name``, where the ``__init__`` re-exports ``Name`` from one of
its submodules (``from .submodule import Name``), imports just that submodule. Reading any other attribute
runs the ``__init__`` then, so code that does need the whole package still gets it.
tests/integration/test_cold_start_imports.py fails when a Powertools upgrade makes the saving disappear
or the deferral break. Ours, not the standard library's ``importlib.util.LazyLoader``: importing a submodule
reads the package's ``__path__``, which runs a lazy ``__init__`` at once (measured: 288 ms against 112 ms to
import the handler, docs/benchmarks.md).
"""

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
