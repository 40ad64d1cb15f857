"""The release's one image: its digest read from the Buildx archive, and its push into each stage's
bootstrap repository (moto for STS and ECR, a stand-in `skopeo`; there is no registry here)."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts.release import push_image as release
from tests.unit.delivery.conftest import (
    ACCOUNT,
    DOCKER_MANIFEST,
    IMAGE_INDEX,
    PRODUCTION,
    STAGING,
    image_of,
    install_fake_tool,
    path_with,
    write_oci_archive,
)

TAG = "0123abc-42-1"


# --- The archive ----------------------------------------------------------------------------------------
def test_the_digest_is_that_of_the_one_manifest_in_the_archive(tmp_path):
    digest = write_oci_archive(tmp_path / "image.tar")
    assert release.archive_digest(tmp_path / "image.tar") == digest


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        ({"media_type": IMAGE_INDEX}, "which Lambda cannot run"),  # Docker >= 29 / attestations: an index
        ({"images": 2}, "holds 2 manifests"),
        (
            {"architecture": "amd64"},
            "linux/amd64, the function runs on linux/arm64",
        ),  # QEMU fallback gone wrong
    ],
)
def test_an_archive_lambda_cannot_run_is_refused_before_any_push(tmp_path, archive, message):
    write_oci_archive(tmp_path / "image.tar", **archive)
    with pytest.raises(release.PushError, match=message):
        release.archive_digest(tmp_path / "image.tar")


def test_something_else_than_an_oci_archive_is_refused(tmp_path):
    (tmp_path / "image.tar").write_bytes(b"not a tar")
    with pytest.raises(release.PushError, match="is not an OCI image archive"):
        release.archive_digest(tmp_path / "image.tar")


def test_the_digest_command_records_the_digest_as_the_job_output(tmp_path, monkeypatch, capsys):
    digest = write_oci_archive(tmp_path / "image.tar")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    assert release.main(["digest", "--archive", str(tmp_path / "image.tar")]) == 0
    assert capsys.readouterr().out == f"{digest}\n"
    assert (tmp_path / "github-output").read_text() == f"digest={digest}\n"


# --- The push, with moto as ECR and a stand-in skopeo ---------------------------------------------------
FAKE_SKOPEO = """
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
authfile = json.loads(Path(args[args.index("--dest-authfile") + 1]).read_text())
Path(os.environ["FAKE_SKOPEO_CALLS"]).open("a").write(json.dumps({"args": args, "auth": authfile}) + "\\n")
if os.environ.get("FAKE_SKOPEO_FAILS"):
    print("manifest unknown: denied", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def skopeo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_fake_tool(tmp_path / "bin", "skopeo", FAKE_SKOPEO)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setenv("FAKE_SKOPEO_CALLS", str(tmp_path / "calls"))
    return tmp_path / "calls"


@pytest.fixture
def ecr(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("ecr", region_name=STAGING.region)
        for stage in (STAGING, PRODUCTION):
            client.create_repository(
                repositoryName=stage.container_assets_repository(ACCOUNT), imageTagMutability="IMMUTABLE"
            )
        yield client


def registry_holds(ecr: Any, settings, digest: str, media_type: str = DOCKER_MANIFEST) -> None:
    """What the registry holds after skopeo's push (moto stands in for the registry skopeo talks to)."""
    ecr.put_image(
        repositoryName=settings.container_assets_repository(ACCOUNT),
        imageManifest=json.dumps({"schemaVersion": 2, "mediaType": media_type, "config": {}, "layers": []}),
        imageTag=TAG,
        imageManifestMediaType=media_type,
        imageDigest=digest,
    )


def push_args(settings, archive: Path, digest: str) -> list[str]:
    return ["push", "--stage", settings.name, "--archive", str(archive), "--digest", digest, "--tag", TAG]


@pytest.mark.parametrize("settings", [STAGING, PRODUCTION], ids=lambda s: s.name)
def test_each_stage_gets_the_archive_in_its_own_bootstrap_repository_by_digest(
    settings, ecr, skopeo, tmp_path, capsys
):
    # Given the archive the image job built, and the registry holding that digest once skopeo has run
    digest = write_oci_archive(tmp_path / "image.tar")
    registry_holds(ecr, settings, digest)

    # When the stage's deploy job pushes it
    code = release.main(push_args(settings, tmp_path / "image.tar", digest))

    # Then skopeo copied the archive as it is (no digest change allowed) into the stage's bootstrap
    # repository, authenticated with an ECR token of the stage's account
    assert code == 0, capsys.readouterr().err
    (call,) = [json.loads(line) for line in skopeo.read_text().splitlines()]
    target = image_of(settings).split("@")[0]
    assert call["args"][:2] == ["copy", "--preserve-digests"]
    assert call["args"][-2:] == [f"oci-archive:{tmp_path / 'image.tar'}", f"docker://{target}:{TAG}"]
    ((host, auth),) = call["auth"]["auths"].items()
    assert host == f"{ACCOUNT}.dkr.ecr.{settings.region}.amazonaws.com"
    assert base64.b64decode(auth["auth"]).decode().startswith("AWS:")
    assert f"pushed {image_of(settings, digest=digest)}" in capsys.readouterr().out


def test_an_archive_that_is_not_what_the_release_tested_is_not_pushed(ecr, skopeo, tmp_path, capsys):
    write_oci_archive(tmp_path / "image.tar")
    assert release.main(push_args(STAGING, tmp_path / "image.tar", "sha256:" + "0" * 64)) == 1
    assert "but this release built and tested sha256:000" in capsys.readouterr().err
    assert not skopeo.exists()


def test_a_registry_that_holds_another_digest_for_the_tag_stops_the_release(ecr, skopeo, tmp_path, capsys):
    digest = write_oci_archive(tmp_path / "image.tar")
    registry_holds(ecr, STAGING, "sha256:" + "1" * 64)
    assert release.main(push_args(STAGING, tmp_path / "image.tar", digest)) == 1
    assert f"but {digest} was pushed" in capsys.readouterr().err


def test_an_index_in_ecr_is_refused_because_lambda_cannot_run_it(ecr, skopeo, tmp_path, capsys):
    digest = write_oci_archive(tmp_path / "image.tar")
    registry_holds(ecr, STAGING, digest, media_type=IMAGE_INDEX)
    assert release.main(push_args(STAGING, tmp_path / "image.tar", digest)) == 1
    assert "which Lambda cannot run" in capsys.readouterr().err


def test_a_failed_copy_stops_the_release(ecr, skopeo, tmp_path, monkeypatch, capsys):
    digest = write_oci_archive(tmp_path / "image.tar")
    monkeypatch.setenv("FAKE_SKOPEO_FAILS", "1")
    assert release.main(push_args(STAGING, tmp_path / "image.tar", digest)) == 1
    assert "skopeo copy to" in capsys.readouterr().err


def test_credentials_of_another_account_than_the_stages_are_refused(ecr, skopeo, tmp_path):
    digest = write_oci_archive(tmp_path / "image.tar")
    elsewhere = dataclasses.replace(PRODUCTION, account="222222222222")
    with pytest.raises(release.PushError, match=f"credentials are for account {ACCOUNT}, Production deploys"):
        release.push(elsewhere, tmp_path / "image.tar", digest, TAG)
    assert not skopeo.exists()


@pytest.mark.parametrize("tag", ["", "-leading-hyphen", "has space", "x" * 129])
def test_invalid_tags_are_refused_before_anything_is_pushed(skopeo, tmp_path, tag):
    digest = write_oci_archive(tmp_path / "image.tar")
    with pytest.raises(release.PushError, match="not a valid image tag"):
        release.push(STAGING, tmp_path / "image.tar", digest, tag)
    assert not skopeo.exists()


def test_an_unknown_stage_is_refused(tmp_path, capsys):
    assert release.main(["push", "--stage", "Prod", "--archive", "x", "--digest", "y", "--tag", TAG]) == 1
    assert "no stage 'Prod'" in capsys.readouterr().err
