"""The two other ways the app is synthesized: by the CDK CLI as the release runs it (scripts/release/synth.py,
against the image digest), and in process with an existing image pinned by digest (promotion)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra_cdk.function import container_image
from infra_cdk.settings import STAGES, StageSettings
from scripts.release import assembly as release_assembly
from scripts.release import synth as release_synth
from scripts.release.assembly import render
from tests.infra.cfn import props, resources
from tests.infra.conftest import Assembly, synthesize, without_aws_credentials
from tests.unit.delivery.conftest import ACCOUNT, WORKFLOW_DIR, image_of
from tests.unit.delivery.workflow_rules import command_arguments, load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.slow
def test_the_workflows_synth_command_runs_through_the_cdk_cli_with_no_docker_and_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_artifact_path: Path
) -> None:
    # Given no Docker and no AWS credentials at all (synthesis must need neither), the project's CDK CLI, and
    # the synth step of release.yml as the runner's bash expands it
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    monkeypatch.setenv("PATH", f"{REPO_ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    monkeypatch.chdir(REPO_ROOT)
    synth = next(
        s
        for s in load_yaml(WORKFLOW_DIR / "release.yml")["jobs"]["synth"]["steps"]
        if "scripts.release" in s.get("run", "")
    )
    variables = json.dumps({stage.account_variable: ACCOUNT for stage in STAGES} | {"ARM64_RUNNER": "x"})
    env = {"DIGEST": DIGEST, "VARIABLES": variables, "GITHUB_REPOSITORY_NAME": "acme/diabetes"}
    argv = command_arguments(" ".join(synth["run"].split()), "python -m scripts.release.synth", env)
    argv[argv.index("--model-artifact") + 1] = str(model_artifact_path)
    argv[argv.index("--out") + 1] = str(tmp_path / "cdk.out")

    # When the release synthesises against a pushed digest
    with without_aws_credentials():
        release_synth.main(argv)

    # Then every stack is there, every stage runs exactly that image from its own repository in this account,
    # nothing is left to build, and the recorded fingerprint is the assembly's
    manifest = json.loads((tmp_path / "cdk.out" / "manifest.json").read_text())
    assert {"DeliveryAccess", *(f"assembly-{stage.name}" for stage in STAGES)} <= set(manifest["artifacts"])
    expected = {stage.stack_name: image_of(stage, digest=DIGEST) for stage in STAGES}
    assert release_assembly.problems(tmp_path / "cdk.out", expected) == []
    fingerprint = release_assembly.fingerprint(tmp_path / "cdk.out")
    assert (tmp_path / "github-output").read_text() == f"fingerprint={fingerprint}\n"


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
        container_image(None, settings=STAGES[0], image_digest=digest)  # type: ignore[arg-type]


def test_a_checkout_without_a_trained_model_cannot_bootstrap_and_is_told_how_to_train_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `cdk bootstrap` runs the app even with an explicit environment, before it talks to AWS: a fresh clone
    # (no artifact) gets the command that trains one in one line, not a traceback (docs/deploy.md, step 3)
    monkeypatch.setenv("PATH", f"{REPO_ROOT / 'node_modules' / '.bin'}:{os.environ['PATH']}")
    command = ["npx", "cdk", "bootstrap", "aws://123456789012/eu-west-1", "--qualifier", "dpstaging"]
    command += ["-c", "model_artifact=/nonexistent/model.json"]
    with without_aws_credentials():
        result = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=300
        )
    assert result.returncode != 0
    assert (
        "infra_cdk.app: model artifact not found at /nonexistent/model.json; run `python -m model.train`"
        in (result.stderr)
    )
    assert "Traceback" not in result.stderr
