"""Fixtures for the delivery tests: the workflows as parsed YAML, cloud assemblies and image archives as the
release's tools write them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from infra_cdk.settings import StageSettings, stage_named
from tests.unit.delivery.workflow_rules import load_yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
GITHUB_DIR = REPO_ROOT / ".github"
WORKFLOW_DIR = GITHUB_DIR / "workflows"


@pytest.fixture(scope="session")
def release() -> dict[str, Any]:
    return load_yaml(WORKFLOW_DIR / "release.yml")


@pytest.fixture(scope="session")
def checks() -> dict[str, Any]:
    return load_yaml(WORKFLOW_DIR / "checks.yml")


# --- Cloud assemblies laid out as `cdk synth '**'` writes them (root manifest, one nested one per Stage) ---
ACCOUNT = "123456789012"  # moto's, and the one account both committed stages share
DIGEST = "sha256:" + "ab" * 32
STAGING, PRODUCTION = (stage_named(name) for name in ("Staging", "Production"))
REGION = STAGING.region


def image_of(settings: StageSettings, account: str = ACCOUNT, digest: str = DIGEST) -> str:
    """What a stage runs in a release: the digest from its own bootstrap repository, in its account."""
    return (
        f"{account}.dkr.ecr.{settings.region}.amazonaws.com/{settings.container_assets_repository(account)}"
        f"@{digest}"
    )


IMAGES = {"Staging": image_of(STAGING), "Production": image_of(PRODUCTION)}


def synth_args(
    out: Path,
    digest: str = DIGEST,
    repository: str = "acme/diabetes",
    model: Path = Path("model.json"),
    accounts: tuple[str, str] = (ACCOUNT, ACCOUNT),
) -> list[str]:
    """The command line of `python -m scripts.release.synth`, the accounts in the repository variables."""
    variables = {"STAGING_AWS_ACCOUNT_ID": accounts[0], "PRODUCTION_AWS_ACCOUNT_ID": accounts[1], "X": "y"}
    return [
        "--digest", digest, "--variables", json.dumps(variables),
        "--github-repository", repository, "--model-artifact", str(model), "--out", str(out),
    ]  # fmt: skip


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
    images = images if images is not None else IMAGES
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


# --- The image archive Buildx writes (type=oci, oci-mediatypes=false) ------------------------------------
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
IMAGE_INDEX = "application/vnd.oci.image.index.v1+json"


def write_oci_archive(
    path: Path, *, architecture: str = "arm64", media_type: str = DOCKER_MANIFEST, images: int = 1
) -> str:
    """An OCI image-layout tar with one small image (or `images` of them); returns the manifest's digest."""

    def digest(data: bytes) -> str:
        return f"sha256:{hashlib.sha256(data).hexdigest()}"

    layer = gzip.compress(b"layer", mtime=0)
    config = json.dumps({"architecture": architecture, "os": "linux", "rootfs": {"type": "layers"}}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": digest(config),
            },
            "layers": [
                {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digest(layer)}
            ],
        }
    ).encode()
    descriptor = {"mediaType": media_type, "digest": digest(manifest), "size": len(manifest)}
    index = json.dumps({"schemaVersion": 2, "manifests": [descriptor] * images}).encode()
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
    files |= {f"blobs/sha256/{digest(blob)[7:]}": blob for blob in (layer, config, manifest)}
    with tarfile.open(path, "w") as archive:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return digest(manifest)
