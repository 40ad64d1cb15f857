"""The two other ways the app is synthesized: by the CDK CLI (as a developer or a workflow runs it) and with
an existing image pinned by digest (promotion from Staging to Production)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra_cdk.function import container_image
from infra_cdk.settings import STAGES, StageSettings
from scripts.release.assembly import render
from tests.infra.cfn import props, resources
from tests.infra.conftest import GITHUB_REPOSITORY, Assembly, synthesize, without_aws_credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "0123456789abcdef" * 4


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
    """The app as a release synthesizes it: an image by digest, nothing to build."""
    context = {"image_digest": DIGEST, "model_artifact": str(model_artifact_path)}
    with without_aws_credentials():
        return synthesize(tmp_path_factory.mktemp("promoted"), context)


@pytest.mark.parametrize("settings", STAGES, ids=[s.name for s in STAGES])
def test_each_stage_runs_the_digest_from_its_own_bootstrap_repository_and_nothing_is_built(
    promoted: Assembly, settings: StageSettings
) -> None:
    (function,) = [
        props(f)
        for f in resources(promoted.templates[settings.stack_name], "AWS::Lambda::Function").values()
        if props(f).get("PackageType") == "Image"
    ]
    # The same digest everywhere, each stage pulling from the repository of its own bootstrap qualifier
    # in its own account (the release pushes the one archive to each)
    account = "${AWS::AccountId}"
    assert render(function["Code"]["ImageUri"]) == (
        f"{account}.dkr.ecr.{settings.region}.amazonaws.com/"
        f"{settings.container_assets_repository(account)}@{DIGEST}"
    )
    path = promoted.template_paths[settings.stack_name]
    assets = json.loads(path.with_name(path.name.replace(".template.json", ".assets.json")).read_text())
    assert assets.get("dockerImages", {}) == {}


@pytest.mark.parametrize("digest", ["latest", "sha256:abc", DIGEST.upper()])
def test_anything_but_a_digest_is_refused(digest: str) -> None:
    with pytest.raises(ValueError, match="must look like sha256:"):
        container_image(None, settings=STAGES[0], repo_root=REPO_ROOT, image_digest=digest)  # type: ignore[arg-type]
