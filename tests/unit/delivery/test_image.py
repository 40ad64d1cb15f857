"""The release's one image, without an engine: what the archive must hold (read with the standard library)
and what `push` refuses before it reaches a registry. The commands themselves run on real engines and a
real registry in tests/integration/test_release_image.py."""

from __future__ import annotations

import dataclasses

import boto3
import pytest

from scripts.release import ReleaseError
from scripts.release import image as release
from scripts.release.oci_archive import archive_digest
from tests.unit.delivery.conftest import ACCOUNT, DIGEST, IMAGE_INDEX, PRODUCTION, write_oci_archive

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def test_the_digest_is_that_of_the_one_manifest_in_the_archive(tmp_path):
    digest = write_oci_archive(tmp_path / "image.tar")
    assert archive_digest(tmp_path / "image.tar") == digest


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        ({"media_type": IMAGE_INDEX}, "media types are"),  # Docker >= 29 / attestations: an index
        ({"media_type": OCI_MANIFEST}, "Lambda needs one Docker v2 image manifest"),
        ({"images": 2}, "holds 2 manifests"),
        ({"architecture": "amd64"}, "linux/amd64, the function runs on linux/arm64"),  # QEMU gone wrong
    ],
)
def test_an_archive_lambda_cannot_run_is_refused_before_any_push(tmp_path, archive, message):
    write_oci_archive(tmp_path / "image.tar", **archive)
    with pytest.raises(ReleaseError, match=message):
        archive_digest(tmp_path / "image.tar")


def test_something_else_than_an_oci_archive_is_refused(tmp_path):
    (tmp_path / "image.tar").write_bytes(b"not a tar")
    with pytest.raises(ReleaseError, match="is not an OCI image archive"):
        archive_digest(tmp_path / "image.tar")


@pytest.mark.parametrize(
    ("stage", "digest", "tag", "message"),
    [
        ("Prod", DIGEST, "abc-1-1", "no stage 'Prod'"),
        ("Staging", "latest", "abc-1-1", "must look like sha256:"),
        *[("Staging", DIGEST, tag, "must look like an image tag") for tag in ("", "-x", "a b", "x" * 129)],
    ],
)
def test_bad_arguments_are_refused_before_anything_is_read_or_pushed(capsys, stage, digest, tag, message):
    command = ["push", "--stage", stage, "--archive", "absent.tar", "--digest", digest, f"--tag={tag}"]
    with pytest.raises(SystemExit, match="2"):
        release.main(command)
    assert message in capsys.readouterr().err


def test_credentials_of_another_account_than_the_stages_are_refused_before_any_registry(mocked_aws):
    elsewhere = dataclasses.replace(PRODUCTION, account="222222222222")
    with pytest.raises(ReleaseError, match=f"credentials are for account {ACCOUNT}, Production deploys"):
        release.ecr_login(elsewhere, boto3.Session())


def test_the_push_logs_in_as_the_stages_image_publishing_role(mocked_aws):
    account, registry, token = release.ecr_login(PRODUCTION, boto3.Session())
    assert (account, registry) == (ACCOUNT, f"{ACCOUNT}.dkr.ecr.{PRODUCTION.region}.amazonaws.com")
    assert token
