"""The release's one image: its digest read from the Buildx archive, and what `push` refuses before it
reaches AWS. The push itself (moto, a stand-in skopeo) is in tests/integration/test_release_steps.py."""

from __future__ import annotations

import pytest

from scripts.release import ReleaseError
from scripts.release import push_image as release
from tests.unit.delivery.conftest import DIGEST, IMAGE_INDEX, write_oci_archive


def test_the_digest_is_that_of_the_one_manifest_in_the_archive(tmp_path):
    digest = write_oci_archive(tmp_path / "image.tar")
    assert release.archive_digest(tmp_path / "image.tar") == digest


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        ({"media_type": IMAGE_INDEX}, "which Lambda cannot run"),  # Docker >= 29 / attestations: an index
        ({"images": 2}, "holds 2 manifests"),
        ({"architecture": "amd64"}, "linux/amd64, the function runs on linux/arm64"),  # QEMU gone wrong
    ],
)
def test_an_archive_lambda_cannot_run_is_refused_before_any_push(tmp_path, archive, message):
    write_oci_archive(tmp_path / "image.tar", **archive)
    with pytest.raises(ReleaseError, match=message):
        release.archive_digest(tmp_path / "image.tar")


def test_something_else_than_an_oci_archive_is_refused(tmp_path):
    (tmp_path / "image.tar").write_bytes(b"not a tar")
    with pytest.raises(ReleaseError, match="is not an OCI image archive"):
        release.archive_digest(tmp_path / "image.tar")


def test_the_digest_command_records_the_digest_as_the_job_output(tmp_path, monkeypatch, capsys):
    digest = write_oci_archive(tmp_path / "image.tar")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    release.main(["digest", "--archive", str(tmp_path / "image.tar")])
    assert capsys.readouterr().out == f"{digest}\n"
    assert (tmp_path / "github-output").read_text() == f"digest={digest}\n"


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
