"""Fixtures shared by every test layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model.artifact import DEFAULT_ARTIFACT_PATH, ArtifactError, ModelArtifact, load_artifact

REPO_ROOT = Path(__file__).resolve().parent.parent


def train_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """Runs the real trainer entry point (`python -m model.train ...`) in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "model.train", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="session")
def model_artifact_path() -> Path:
    """The bundled artifact at its default location (what the image copies), trained if absent or invalid."""
    try:
        load_artifact(DEFAULT_ARTIFACT_PATH)
    except ArtifactError:
        result = train_cli("--out", str(DEFAULT_ARTIFACT_PATH))
        assert result.returncode == 0, result.stderr
    return DEFAULT_ARTIFACT_PATH


@pytest.fixture(scope="session")
def model_artifact(model_artifact_path: Path) -> ModelArtifact:
    return load_artifact(model_artifact_path)
