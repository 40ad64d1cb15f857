"""Pushing the tested image and recording its digest: names, the engine's digest, ECR's word (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts import release_push_image as release
from tests.unit.delivery.conftest import install_fake_tool, path_with

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
REPOSITORY = f"cdk-hnb659fds-container-assets-{ACCOUNT}-{REGION}"
IMAGE_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
IMAGE_INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.fixture
def ecr(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ecr", region_name=REGION)
        client.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
        yield client


def put_image(ecr: Any, tag: str, media_type: str = IMAGE_MANIFEST) -> str:
    manifest = {"schemaVersion": 2, "mediaType": media_type, "config": {}, "layers": [], "tag": tag}
    ecr.put_image(
        repositoryName=REPOSITORY,
        imageManifest=json.dumps(manifest),
        imageTag=tag,
        imageManifestMediaType=media_type,
    )
    (detail,) = ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])["imageDetails"]
    return str(detail["imageDigest"])


# --- Names ---------------------------------------------------------------------------------------------
def test_the_image_goes_to_the_cdk_bootstrap_container_assets_repository():
    assert release.container_assets_repository(ACCOUNT, REGION) == REPOSITORY
    assert release.container_assets_repository(ACCOUNT, REGION, "custom123") == (
        f"cdk-custom123-container-assets-{ACCOUNT}-{REGION}"
    )
    assert release.registry(ACCOUNT, REGION) == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.mark.parametrize(
    ("account", "region"), [("12345", REGION), (ACCOUNT, "Europe"), ("", ""), (ACCOUNT, "")]
)
def test_an_unset_or_malformed_account_or_region_is_refused(account, region):
    # An unset repository variable reaches the script as an empty string.
    with pytest.raises(release.PushError):
        release.container_assets_repository(account, region)


def test_the_digest_is_the_engines_record_for_this_repository():
    digest = "sha256:" + "a" * 64
    other = "sha256:" + "b" * 64
    uri = f"{release.registry(ACCOUNT, REGION)}/{REPOSITORY}"
    assert release.digest_for([f"elsewhere/repo@{other}", f"{uri}@{digest}"], uri) == digest
    with pytest.raises(release.PushError, match="no digest"):
        release.digest_for([f"elsewhere/repo@{other}"], uri)


# --- ECR's confirmation --------------------------------------------------------------------------------
def test_ecr_confirms_the_pushed_tag_and_digest(ecr):
    digest = put_image(ecr, "abc-1-1")
    release.confirm_in_ecr(repository=REPOSITORY, tag="abc-1-1", digest=digest, region=REGION)


def test_a_tag_that_resolves_to_another_digest_is_refused(ecr):
    put_image(ecr, "abc-1-1")
    with pytest.raises(release.PushError, match=r"but sha256:0+ was pushed"):
        release.confirm_in_ecr(
            repository=REPOSITORY, tag="abc-1-1", digest="sha256:" + "0" * 64, region=REGION
        )


def test_an_image_index_is_refused_because_lambda_cannot_run_it(ecr):
    digest = put_image(ecr, "abc-1-1", media_type=IMAGE_INDEX)
    with pytest.raises(release.PushError, match="Lambda cannot run"):
        release.confirm_in_ecr(repository=REPOSITORY, tag="abc-1-1", digest=digest, region=REGION)


def test_a_tag_missing_from_ecr_is_refused(ecr):
    with pytest.raises(release.PushError, match="does not exist"):
        release.confirm_in_ecr(
            repository=REPOSITORY, tag="never-pushed", digest="sha256:" + "0" * 64, region=REGION
        )


# --- The whole step, with a stand-in docker CLI (no engine here) ----------------------------------------
FAKE_DOCKER = """
import json, os, sys
from pathlib import Path
Path(os.environ["FAKE_DOCKER_CALLS"]).open("a").write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["image", "inspect"]:
    target = sys.argv[-1].rsplit(":", 1)[0]
    print(json.dumps([f"{target}@{os.environ['FAKE_DOCKER_DIGEST']}"]))
elif sys.argv[1] == "push" and os.environ.get("FAKE_DOCKER_PUSH_FAILS"):
    print("denied: not authorized", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_fake_tool(tmp_path / "bin", "docker", FAKE_DOCKER)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(tmp_path / "calls"))
    return tmp_path / "calls"


def test_push_tags_pushes_confirms_and_records_the_digest(ecr, docker, tmp_path, monkeypatch, capsys):
    # Given ECR holds the pushed tag (moto stands in for the registry behind `docker push`)
    tag = "0123abc-42-1"
    digest = put_image(ecr, tag)
    monkeypatch.setenv("FAKE_DOCKER_DIGEST", digest)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))

    # When the push step runs
    code = release.main(
        ["--image", "diabetes-progression:0123abc", "--account", ACCOUNT, "--region", REGION, "--tag", tag]
    )

    # Then the image was tagged into the repository and pushed, and the digest became the step's output
    assert code == 0, capsys.readouterr().err
    target = f"{release.registry(ACCOUNT, REGION)}/{REPOSITORY}:{tag}"
    calls = [json.loads(line) for line in docker.read_text().splitlines()]
    assert calls[:2] == [["tag", "diabetes-progression:0123abc", target], ["push", target]]
    assert (tmp_path / "github-output").read_text() == f"digest={digest}\nrepository={REPOSITORY}\n"


def test_a_failed_push_stops_the_release_and_records_nothing(ecr, docker, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_DOCKER_PUSH_FAILS", "1")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))

    code = release.main(["--image", "img", "--account", ACCOUNT, "--region", REGION, "--tag", "t-1-1"])

    assert code == 1
    assert "not authorized" in capsys.readouterr().err
    assert not (tmp_path / "github-output").exists()


@pytest.mark.parametrize("tag", ["", "-leading-hyphen", "has space", "x" * 129])
def test_invalid_tags_are_refused_before_anything_is_pushed(docker, tag):
    with pytest.raises(release.PushError, match="not a valid image tag"):
        release.push("img", "registry/repo", tag)
    assert not docker.exists()
