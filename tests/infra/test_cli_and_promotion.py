"""The two other ways the app is synthesized: by the CDK CLI (as a developer or a workflow runs it) and with
an existing image pinned by digest (promotion from Staging to Production)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra_cdk.function import container_image
from tests.infra.cfn import one, props, resources
from tests.infra.conftest import GITHUB_REPOSITORY, Assembly, synthesize, without_aws_credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "cdk-hnb659fds-container-assets-123456789012-eu-west-1"
DIGEST = "sha256:" + "0123456789abcdef" * 4
CLINIC_APP = "arn:aws:iam::123456789012:role/clinic-app"


@pytest.mark.slow
def test_cdk_synth_all_stacks_with_the_cli_needs_no_docker_and_no_credentials(
    tmp_path: Path, model_artifact_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
        DOCKER_HOST="unix:///nonexistent.sock",  # nothing may be built: the image asset is only staged
        PATH=f"{REPO_ROOT / 'node_modules' / '.bin'}:{env['PATH']}",
    )
    result = subprocess.run(
        [
            "npx",
            "--no-install",
            "cdk",
            "synth",
            "**",
            "--quiet",
            "--output",
            str(tmp_path / "cdk.out"),
            "--context",
            f"github_repository={GITHUB_REPOSITORY}",
            "--context",
            f"model_artifact={model_artifact_path}",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    manifest = json.loads((tmp_path / "cdk.out" / "manifest.json").read_text())
    stacks = {
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] in ("aws:cloudformation:stack", "cdk:cloud-assembly")
    }
    assert {"DeliveryAccess", "assembly-Staging", "assembly-Production"} <= stacks


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory, model_artifact_path: Path) -> Assembly:
    """The app as delivery synthesizes Production: an image by digest, plus per-stage overrides."""
    context = {
        "image_repository": REPOSITORY,
        "image_digest": DIGEST,
        "model_artifact": str(model_artifact_path),
        "stage_overrides": json.dumps(
            {"Production": {"memory_mb": 2048, "invoker_principals": [CLINIC_APP]}}
        ),
    }
    with without_aws_credentials():
        return synthesize(tmp_path_factory.mktemp("promoted"), context)


def test_a_promoted_image_is_deployed_by_digest_and_nothing_is_built(promoted: Assembly) -> None:
    for stack in ("Staging-Service", "Production-Service"):
        (function,) = [
            props(f)
            for f in resources(promoted.templates[stack], "AWS::Lambda::Function").values()
            if props(f).get("PackageType") == "Image"
        ]
        # Then the function points at exactly that image, by digest (never a mutable tag)
        assert json.dumps(function["Code"]["ImageUri"]).endswith(f'/{REPOSITORY}@{DIGEST}"]]}}')
        assets = json.loads(
            promoted.template_paths[stack]
            .with_name(promoted.template_paths[stack].name.replace(".template.json", ".assets.json"))
            .read_text()
        )
        assert assets.get("dockerImages", {}) == {}


def test_stage_overrides_from_the_context_reach_only_their_stage(promoted: Assembly) -> None:
    memory = {
        stack: props(f)["MemorySize"]
        for stack in ("Staging-Service", "Production-Service")
        for f in resources(promoted.templates[stack], "AWS::Lambda::Function").values()
        if props(f).get("PackageType") == "Image"
    }
    assert memory == {"Staging-Service": 1024, "Production-Service": 2048}
    policies = {
        stack: json.dumps(props(one(promoted.templates[stack], "AWS::ApiGateway::RestApi")[1])["Policy"])
        for stack in ("Staging-Service", "Production-Service")
    }
    assert CLINIC_APP in policies["Production-Service"]
    assert CLINIC_APP not in policies["Staging-Service"]


@pytest.mark.parametrize(
    ("repository", "digest", "message"),
    [
        (REPOSITORY, None, "must be given together"),
        (None, DIGEST, "must be given together"),
        (REPOSITORY, "latest", "must look like sha256:"),
        (REPOSITORY, "sha256:abc", "must look like sha256:"),
        ("Not A Repo!", DIGEST, "is not an ECR repository name"),
    ],
)
def test_a_partial_or_malformed_image_reference_is_refused(
    repository: str | None, digest: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        container_image(None, repo_root=REPO_ROOT, image_repository=repository, image_digest=digest)  # type: ignore[arg-type]
