"""Fixtures shared by every test layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from model.artifact import DEFAULT_ARTIFACT_PATH, ModelArtifact, load_artifact

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
    """The bundled artifact at its default location (what the image copies), retrained unless it is exactly
    what the default run of the current trainer produces (a stale one would test yesterday's model)."""
    from model.dataset import load_dataset
    from model.train import TrainingConfig, train

    expected = train(TrainingConfig(), load_dataset()).artifact.to_json()
    if not DEFAULT_ARTIFACT_PATH.exists() or DEFAULT_ARTIFACT_PATH.read_text(encoding="utf-8") != expected:
        result = train_cli("--out", str(DEFAULT_ARTIFACT_PATH))
        assert result.returncode == 0, result.stderr
    assert DEFAULT_ARTIFACT_PATH.read_text(encoding="utf-8") == expected
    return DEFAULT_ARTIFACT_PATH


@pytest.fixture(scope="session")
def model_artifact(model_artifact_path: Path) -> ModelArtifact:
    return load_artifact(model_artifact_path)
