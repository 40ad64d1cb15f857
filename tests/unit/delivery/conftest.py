"""Fixtures for the delivery tests: the workflows as parsed YAML, a real trained artifact, fake tools."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
GITHUB_DIR = REPO_ROOT / ".github"
WORKFLOW_DIR = GITHUB_DIR / "workflows"


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as the boolean True; give it back its name.
    if True in document:
        document["on"] = document.pop(True)
    return document


@pytest.fixture(scope="session")
def release() -> dict[str, Any]:
    return load_yaml(WORKFLOW_DIR / "release.yml")


@pytest.fixture(scope="session")
def checks() -> dict[str, Any]:
    return load_yaml(WORKFLOW_DIR / "checks.yml")


@pytest.fixture(scope="session")
def trained_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real artifact from the real trainer (about a second), gates passed."""
    out = tmp_path_factory.mktemp("model")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "model.train",
            "--out",
            str(out / "model.json"),
            "--report",
            str(out / "report"),
        ],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    return out / "model.json"


def install_fake_tool(bin_dir: Path, name: str, python_source: str) -> Path:
    """Puts an executable `name` written in Python first on a PATH built from `bin_dir`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f"#!{sys.executable}\n{python_source}", encoding="utf-8")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


def path_with(bin_dir: Path) -> str:
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture
def fake_aws_credentials(fake_aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared moto-only credentials (tests/conftest.py), in the region the release scripts run in."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


# --- Cloud assemblies laid out as `cdk synth '**'` writes them (root manifest, one nested one per Stage) ---
ACCOUNT = "123456789012"
REGION = "eu-west-1"
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}@{DIGEST}"


def image_uri_as_synthesised(image: str) -> dict[str, Any]:
    """The ImageUri CDK writes for DockerImageCode.from_ecr(repository, tag_or_digest=digest)."""
    registry, _, rest = image.partition(".amazonaws.com")
    return {"Fn::Join": ["", [f"{registry}.", {"Ref": "AWS::URLSuffix"}, rest]]}


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def write_assembly(
    root: Path,
    images: dict[str, Any] | None = None,
    docker_image_assets: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """An assembly with Staging and Production stages, one stack each, whose function runs `images[stage]`."""
    images = images if images is not None else {"Staging": IMAGE, "Production": IMAGE}
    artifacts: dict[str, Any] = {}
    for stage, image in images.items():
        directory, stack_id = f"assembly-{stage}", f"{stage}Service1234ABCD"
        artifacts[directory] = {
            "type": "cdk:cloud-assembly",
            "properties": {"directoryName": directory, "displayName": stage},
        }
        resources: dict[str, Any] = {
            "Function6B188E59": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"PackageType": "Image", "Code": {"ImageUri": image_uri_as_synthesised(image)}},
            },
            "PreTrafficHook": {  # a zip function: not the service image, never checked against the digest
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"S3Bucket": "b", "S3Key": "k.zip"}, "Runtime": "python3.13"},
            },
        }
        _write_json(root / directory / f"{stack_id}.template.json", {"Resources": resources})
        _write_json(
            root / directory / f"{stack_id}.assets.json",
            {"version": "48.0.0", "files": {}, "dockerImages": (docker_image_assets or {}).get(stage, {})},
        )
        _write_json(
            root / directory / "manifest.json",
            {
                "version": "48.0.0",
                "artifacts": {
                    f"{stack_id}.assets": {
                        "type": "cdk:asset-manifest",
                        "properties": {"file": f"{stack_id}.assets.json"},
                    },
                    stack_id: {
                        "type": "aws:cloudformation:stack",
                        "properties": {
                            "templateFile": f"{stack_id}.template.json",
                            "stackName": f"{stage}-Service",
                        },
                        "displayName": f"{stage}/Service",
                    },
                },
            },
        )
    _write_json(root / "manifest.json", {"version": "48.0.0", "artifacts": artifacts})
    return root
