"""The release's container steps, run as the workflows run them, on real engines (buildah, podman, skopeo)
and a real registry (the CNCF distribution registry, over TLS, behind basic authentication): every command
line of .github/ that calls `scripts.release.image` is taken from the workflow itself and run here, with
only the platform (this machine's) and, offline, the base image (a stand-in) added. AWS is moto, with ECR's
registry endpoint pointed at the local registry.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from moto import mock_aws

from infra_cdk.settings import stage_named
from model.core.serving import load_artifact
from scripts import REPO_ROOT
from scripts.release import ReleaseError
from scripts.release import image as release_image
from scripts.release.image import SmokeTestError, call_like_api_gateway
from scripts.release.oci_archive import archive_digest
from tests.integration.registry import Registry, local_registry
from tests.integration.standin_base import HOST_CA_BUNDLE, host_platform, standin_base
from tests.unit.delivery.conftest import GITHUB_DIR
from tests.unit.delivery.workflow_rules import command_arguments, load_yaml

pytestmark = pytest.mark.slow
COMMAND = "python -m scripts.release.image"
ACCOUNT = "123456789012"  # moto's
ARTIFACT = "model/artifacts/model.json"


def image_steps() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workflow file, job, step) of every step that runs an image command, across .github/."""
    found = []
    for path in sorted((GITHUB_DIR / "workflows").glob("*.yml")):
        for job in load_yaml(path)["jobs"].values():
            found += [(path.name, job, s) for s in job.get("steps", []) if COMMAND in s.get("run", "")]
    return found


def step(subcommand: str, workflow: str) -> dict[str, Any]:
    (match,) = [s for name, _, s in image_steps() if name == workflow and f" {subcommand} " in s["run"]]
    return match


def arguments(run: str, env: dict[str, str]) -> list[str]:
    return command_arguments(run, COMMAND, env)


@dataclasses.dataclass
class Workspace:
    """A runner's checkout as the image job sees it: the trained artifact downloaded, build/ to write."""

    root: Path
    env: dict[str, str]

    def run(self, argv: list[str], **extra_env: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "scripts.release.image", *argv]
        return subprocess.run(command, cwd=self.root, env={**self.env, **extra_env}, text=True, check=False)

    def outputs(self) -> dict[str, str]:
        lines = Path(self.env["GITHUB_OUTPUT"]).read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, model_artifact_path: Path) -> Workspace:
    root = tmp_path_factory.mktemp("runner")
    (root / "model" / "artifacts").mkdir(parents=True)
    (root / "model" / "artifacts" / "model.json").write_bytes(model_artifact_path.read_bytes())
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "GITHUB_OUTPUT": str(root / "github-output")}
    return Workspace(root, env)


@pytest.fixture(scope="module")
def additions() -> list[str]:
    """What the suite adds to a workflow's build: this machine's platform; offline, the stand-in base."""
    base = [] if os.environ.get("IMAGE_TEST_BASE") == "official" else ["--base", standin_base()]
    return ["--platform", host_platform(), *base]


@pytest.fixture(scope="module")
def built(workspace: Workspace, additions: list[str]) -> str:
    """The Release's build step, run: returns the digest it recorded as the step output."""
    build = step("build", "release.yml")
    argv = arguments(build["run"], workspace.env)
    assert "--platform" not in argv, "the Release builds for the function's platform"
    assert "--base" not in argv, "the Release builds on the pinned base"
    assert workspace.run(argv + additions).returncode == 0
    return workspace.outputs()["digest"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    # moto's ECR hands out the token "AWS:<account>-auth-token": the registry accepts exactly that.
    directory = tmp_path_factory.mktemp("registry")
    with local_registry(directory, f"{ACCOUNT}-auth-token", HOST_CA_BUNDLE) as running:
        yield running


def test_the_image_job_builds_one_single_platform_docker_v2_image_and_its_sbom(workspace, built):
    archive = workspace.root / "build" / "image.tar"
    assert archive_digest(archive, host_platform()) == built
    sbom = (workspace.root / "build" / "image.cdx.json").read_text(encoding="utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom) is None
    document = json.loads(sbom)
    assert document["metadata"]["component"]["version"] == built
    listed = dict(c["purl"].removeprefix("pkg:pypi/").split("@") for c in document["components"])
    locked = dict(
        line.split(" ")[0].split("==")
        for line in (REPO_ROOT / "lambda_fn" / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line
    )
    assert locked.items() <= listed.items(), "the function's lock, at its versions"
    assert "awslambdaric" in listed, "and the base image's runtime interface client"


def test_the_image_job_tests_the_archive_under_the_emulator(workspace, built):
    test = step("test", "release.yml")
    assert workspace.run(arguments(test["run"], workspace.env)).returncode == 0


def test_pull_requests_build_the_same_way(workspace, additions):
    build = step("build", "checks.yml")
    argv = arguments(build["run"], workspace.env)
    argv[argv.index("--archive") + 1] = "build/pull-request.tar"
    assert workspace.run(argv + additions).returncode == 0
    archive = workspace.root / "build" / "pull-request.tar"
    assert archive_digest(archive, host_platform()).startswith("sha256:")


def ecr_pointing_at(registry: Registry, token: str | None = None) -> boto3.Session:
    """A session whose ECR hands out the local registry as its endpoint (an ECR registry cannot run here),
    with moto's token, or ``token``."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")

    def rewrite(parsed: dict[str, Any], **_: Any) -> None:
        for data in parsed.get("authorizationData", []):
            data["proxyEndpoint"] = f"https://{registry.host}"
            data["authorizationToken"] = token or data["authorizationToken"]

    session.events.register("after-call.ecr.GetAuthorizationToken", rewrite)
    return session


@pytest.fixture
def aws(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto as STS and ECR, the local registry as ECR's registry, trusted as the runner trusts ECR's."""
    monkeypatch.setenv("SSL_CERT_FILE", str(registry.ca_bundle))
    with mock_aws():
        session = ecr_pointing_at(registry)
        monkeypatch.setattr(boto3, "Session", lambda: session)
        yield


def push_argv(workspace: Workspace, digest: str) -> list[str]:
    env = {**workspace.env, "STAGE": "Staging", "DIGEST": digest, "GITHUB_SHA": "0" * 40}
    env |= {"GITHUB_RUN_ID": "1", "GITHUB_RUN_ATTEMPT": "1"}
    return arguments(step("push", "deploy-stage.yml")["run"], env)


def test_a_stage_pushes_the_tested_archive_by_digest_and_its_image_answers_pulled_by_digest(
    workspace, built, registry, aws, monkeypatch, capsys
):
    monkeypatch.chdir(workspace.root)
    release_image.main(push_argv(workspace, built))
    repository = stage_named("Staging").container_assets_repository(ACCOUNT)
    assert f"pushed {registry.host}/{repository}@{built}" in capsys.readouterr().out
    # Lambda pulls by digest: the pushed image must run and answer when pulled that way.
    with release_image.authfile(registry.host, registry.token) as auth:
        pulled = workspace.run(
            ["test", "--image", f"docker://{registry.host}/{repository}@{built}", "--artifact", ARTIFACT],
            REGISTRY_AUTH_FILE=str(auth),
            SSL_CERT_FILE=str(registry.ca_bundle),
        )
    assert pulled.returncode == 0
    # A re-run (its archive expired after a day) finds the digest there and pushes nothing.
    (workspace.root / "build" / "image.tar").rename(workspace.root / "build" / "kept.tar")
    try:
        release_image.main(push_argv(workspace, built))
        assert "holds " + built + " already: nothing to push" in capsys.readouterr().out
    finally:
        (workspace.root / "build" / "kept.tar").rename(workspace.root / "build" / "image.tar")


def test_a_registry_that_refuses_the_credentials_stops_the_push(workspace, built, registry, aws, monkeypatch):
    monkeypatch.chdir(workspace.root)
    wrong = ecr_pointing_at(registry, token="d3Jvbmc6Y3JlZGVudGlhbHM=")  # "wrong:credentials"
    with pytest.raises(ReleaseError, match=r"unauthorized|authentication required"):
        release_image.push(stage_named("Production"), Path("build/image.tar"), built, "t1", wrong)


def test_an_image_that_answers_for_another_model_fails_the_test(workspace, built):
    artifact = load_artifact(workspace.root / "model" / "artifacts" / "model.json")
    other = dataclasses.replace(artifact, model_version="bmi-linear-000000000000")
    archive = workspace.root / "build" / "image.tar"
    image_id = release_image.engine("podman", "pull", "--quiet", f"oci-archive:{archive}", capture=True)
    try:
        with (
            release_image.running_container(image_id) as endpoint,
            pytest.raises(SmokeTestError, match="health: model_version is 'bmi-linear-"),
        ):
            call_like_api_gateway(endpoint, other)
    finally:
        subprocess.run(["podman", "rmi", "--force", image_id], capture_output=True, check=False)


def test_every_container_command_of_the_workflows_is_one_this_module_runs():
    ran = {("release.yml", "build"), ("release.yml", "test"), ("checks.yml", "build")}
    ran |= {("deploy-stage.yml", "push")}
    found = {(name, shlex.split(s["run"])[3]) for name, _, s in image_steps()}
    assert found == ran
