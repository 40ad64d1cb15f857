"""The build backend of the ``diabetes-progression`` distribution: setuptools, plus the trained model.

The wheel holds the trained artifact (``model/artifacts/model.json``), so that predicting needs nothing but
the package; the artifact is a build output, never committed. A tree that has one (after
``python -m model.train``, as the image build does) is packaged with it, after checking that it loads as the
service would load it. A tree without one (a fresh clone) has it trained first, by the project's own trainer
(deterministic, well under a second), and only then asks the build frontend for numpy: the ``train``
extra's requirement, read from ``pyproject.toml``.

setuptools' intermediate files (its ``build/`` and ``*.egg-info`` directories) go to a temporary directory,
so a build changes nothing in the checkout but the trained artifact, where ``python -m model.train`` would
write it. Every hook runs from the source tree's root (PEP 517).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from setuptools import build_meta as setuptools_backend

ARTIFACT: Final = Path("model", "artifacts", "model.json")
# Loads the artifact as the function and the package do: refused if it is corrupt or below the serving policy.
_CHECK: Final = (
    "import pathlib, sys; from model.core.serving import load_artifact;"
    "load_artifact(pathlib.Path(sys.argv[1]))"
)

ConfigSettings = dict[str, Any] | None


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    with _scratch_directories():
        requires = setuptools_backend.get_requires_for_build_wheel(config_settings)
    return [*requires, *_training_requirements()]


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    with _scratch_directories():
        requires = setuptools_backend.get_requires_for_build_sdist(config_settings)
    return [*requires, *_training_requirements()]


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    with _scratch_directories():
        requires = setuptools_backend.get_requires_for_build_editable(config_settings)
    return [*requires, *_training_requirements()]


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    with _scratch_directories():
        return str(setuptools_backend.prepare_metadata_for_build_wheel(metadata_directory, config_settings))


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    with _scratch_directories():
        return str(
            setuptools_backend.prepare_metadata_for_build_editable(metadata_directory, config_settings)
        )


def build_wheel(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: str | None = None
) -> str:
    _ensure_artifact()
    with _scratch_directories():
        return str(setuptools_backend.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    _ensure_artifact()
    with _scratch_directories():
        return str(setuptools_backend.build_sdist(sdist_directory, config_settings))


def build_editable(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: str | None = None
) -> str:
    _ensure_artifact()
    with _scratch_directories():
        return str(setuptools_backend.build_editable(wheel_directory, config_settings, metadata_directory))


def _training_requirements() -> list[str]:
    if ARTIFACT.is_file():
        return []
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["optional-dependencies"]["train"])


def _ensure_artifact() -> None:
    if not ARTIFACT.is_file():
        print(f"{ARTIFACT} is absent: training it (python -m model.train)", file=sys.stderr, flush=True)
        _python("-m", "model.train", "--out", str(ARTIFACT))
    _python("-c", _CHECK, str(ARTIFACT))  # fail the build, not the first prediction


def _python(*args: str) -> None:
    """The build environment's interpreter, from the source root, where ``model`` is importable."""
    result = subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True)
    sys.stderr.write(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(
            f"cannot package the model: `python {' '.join(args[:2])}` exited {result.returncode}"
        )


@contextlib.contextmanager
def _scratch_directories() -> Iterator[None]:
    """setuptools reads ``DIST_EXTRA_CONFIG`` as one more configuration file: there, its build and egg-info
    directories are made to live in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="diabetes-progression-build-") as scratch:
        config = Path(scratch, "setup.cfg")
        config.write_text(f"[build]\nbuild_base = {scratch}/build\n\n[egg_info]\negg_base = {scratch}\n")
        previous = os.environ.get("DIST_EXTRA_CONFIG")
        os.environ["DIST_EXTRA_CONFIG"] = str(config)
        try:
            yield
        finally:
            if previous is None:
                del os.environ["DIST_EXTRA_CONFIG"]
            else:
                os.environ["DIST_EXTRA_CONFIG"] = previous
