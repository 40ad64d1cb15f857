"""Fixtures shared by every test layer."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.core.artifact import DEFAULT_ARTIFACT_PATH, ModelArtifact
from model.core.serving import load_artifact
from model.train.artifact_file import write_artifact_atomically
from scripts import REPO_ROOT


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
    from model.train.dataset import load_dataset
    from model.train.pipeline import TrainingConfig, train

    artifact = train(TrainingConfig(), load_dataset()).artifact
    if (
        not DEFAULT_ARTIFACT_PATH.exists()
        or DEFAULT_ARTIFACT_PATH.read_text(encoding="utf-8") != artifact.to_json()
    ):
        write_artifact_atomically(artifact, DEFAULT_ARTIFACT_PATH)
    return DEFAULT_ARTIFACT_PATH


@pytest.fixture(scope="session")
def model_artifact(model_artifact_path: Path) -> ModelArtifact:
    return load_artifact(model_artifact_path)


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials that only ever reach moto: no profile, config file or region of this machine is read."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def mocked_aws(fake_aws_credentials: None) -> Iterator[None]:
    """Every boto3 call inside the test goes to moto."""
    from moto import mock_aws

    with mock_aws():
        yield
