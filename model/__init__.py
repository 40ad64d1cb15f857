"""Diabetes progression from BMI: the trained model, its Python API, its command line and its HTTP client.

Installed, this package is ``diabetes_progression``; in the repository the same directory is ``model``. Its
public API is ``__all__`` (what ``dir()`` shows), loaded on first use: importing the package costs nothing, so
the function's cold start pays only for ``model.core``.

    from diabetes_progression import load_model, Client

    load_model().predict(27.3)  # in this process, from the bundled artifact
    Client("http://127.0.0.1:3000").predict(27.3)  # the same answer, from a running service"""

from __future__ import annotations

import sys

if sys.version_info < (3, 13):  # said before any module with 3.13's syntax is parsed: `python3.11 -m model`
    _NEEDS = f"diabetes-progression needs Python 3.13 or later, not {sys.version.split()[0]}"
    raise SystemExit(_NEEDS) if sys.argv[:1] == ["-m"] else ImportError(_NEEDS)

import importlib
from typing import TYPE_CHECKING, Any, Final

from .core import __version__

if TYPE_CHECKING:
    from .core.artifact import ArtifactError, ModelArtifact
    from .core.jsontypes import ValidationError
    from .sdk.client import ApiError, Client, ClientError
    from .sdk.predictor import Model, load_model

__all__ = [
    "ApiError",
    "ArtifactError",
    "Client",
    "ClientError",
    "Model",
    "ModelArtifact",
    "ValidationError",
    "__version__",
    "load_model",
]

_WHERE: Final = {
    "ApiError": "sdk.client",
    "ArtifactError": "core.artifact",
    "Client": "sdk.client",
    "ClientError": "sdk.client",
    "Model": "sdk.predictor",
    "ModelArtifact": "core.artifact",
    "ValidationError": "core.jsontypes",
    "load_model": "sdk.predictor",
}


def __dir__() -> list[str]:
    return sorted(__all__)  # the public API, whether or not a name has been loaded yet


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
