"""Powertools' ``event_handler`` package runs an ``__init__`` that imports every resolver it ships (AppSync
pulls in asyncio, ssl and socket), a third of this function's cold start, although it uses one resolver.

:func:`defer_package_init` registers such a package without running its ``__init__``: its submodules import
as usual (the import system needs only the package's ``__path__``, and ``from package import submodule``
imports just that submodule), and the first read of any other attribute runs the ``__init__`` then, so code
that does need the whole package still gets it.
tests/integration/test_cold_start_imports.py fails when a Powertools upgrade makes the saving disappear
or the deferral break.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def defer_package_init(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not an importable package")
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def run_init_on_first_use(attribute: str) -> Any:
        # `from package import submodule` asks the package first: a submodule is imported, not the __init__.
        if importlib.util.find_spec(f"{name}.{attribute}") is not None:
            return importlib.import_module(f"{name}.{attribute}")
        del vars(package)["__getattr__"]  # from now on, a plain module
        loader.exec_module(package)
        return getattr(package, attribute)

    vars(package)["__getattr__"] = run_init_on_first_use  # a module's __getattr__ (PEP 562)
    sys.modules[name] = package
