"""The release steps that drive other tools, through stand-ins for those tools: `synth` with an `npx` that
writes an assembly the way `cdk synth` lays it out, and `push_image push` with a `skopeo` that records its
call, against moto's STS and ECR (there is no registry here)."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra_cdk.settings import StageSettings
from scripts.release import ReleaseError
from scripts.release import assembly as release_assembly
from scripts.release import push_image as release_push
from scripts.release import synth as release_synth
from tests.unit.delivery.conftest import (
    ACCOUNT,
    DOCKER_MANIFEST,
    IMAGE_INDEX,
    IMAGES,
    PRODUCTION,
    REPO_ROOT,
    STAGING,
    image_of,
    synth_args,
    write_oci_archive,
)


def stand_in(name: str, python_source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Puts an executable `name`, written in Python, first on PATH."""
    tool = tmp_path / "bin" / name
    tool.parent.mkdir(exist_ok=True)
    tool.write_text(f"#!{sys.executable}\n{python_source}", encoding="utf-8")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")


# --- synth, with a stand-in `npx` -----------------------------------------------------------------------
FAKE_NPX = f"""
import os, sys
sys.path.insert(0, {str(REPO_ROOT)!r})
from pathlib import Path
from tests.unit.delivery.conftest import PRODUCTION, STAGING, image_of, write_assembly

argv = sys.argv[1:]
if os.environ.get("FAKE_SYNTH_FAILS"):
    sys.exit("synthesis failed: cdk-nag found errors")
out = Path(argv[argv.index("--output") + 1])
digest = next(a.split("=", 1)[1] for a in argv if a.startswith("image_digest="))
assets = {{"Production": {{"abc": {{}}}}}} if os.environ.get("FAKE_SYNTH_IGNORES_DIGEST") else None
account = os.environ["CDK_DEFAULT_ACCOUNT"]
images = {{stage.name: image_of(stage, account, digest) for stage in (STAGING, PRODUCTION)}}
write_assembly(out, images, docker_image_assets=assets)
"""


@pytest.fixture
def npx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    stand_in("npx", FAKE_NPX, tmp_path, monkeypatch)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    return tmp_path / "github-output"


def test_the_fingerprint_of_a_verified_assembly_becomes_the_step_output(npx, tmp_path, capsys):
    release_synth.main(synth_args(tmp_path / "cdk.out"))

    fingerprint = release_assembly.fingerprint(tmp_path / "cdk.out")
    assert npx.read_text() == f"fingerprint={fingerprint}\n"
    out = capsys.readouterr().out
    assert all(f"{stage}-Service deploys {image}" in out for stage, image in IMAGES.items())


def test_a_failed_synthesis_fails_the_step(npx, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SYNTH_FAILS", "1")
    with pytest.raises(ReleaseError, match="synthesis failed"):
        release_synth.main(synth_args(tmp_path / "cdk.out"))
    assert not npx.exists()


def test_an_assembly_that_would_build_an_image_fails_the_step(npx, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SYNTH_IGNORES_DIGEST", "1")
    with pytest.raises(ReleaseError, match="would be built at deploy time"):
        release_synth.main(synth_args(tmp_path / "cdk.out"))
    assert not npx.exists()


# --- push_image push, with moto as STS and ECR and a stand-in `skopeo` -----------------------------------
TAG = "0123abc-42-1"
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
    stand_in("skopeo", FAKE_SKOPEO, tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_SKOPEO_CALLS", str(tmp_path / "calls"))
    return tmp_path / "calls"


@pytest.fixture
def ecr(mocked_aws: None) -> Any:
    client = boto3.client("ecr", region_name=STAGING.region)
    for stage in (STAGING, PRODUCTION):
        client.create_repository(
            repositoryName=stage.container_assets_repository(ACCOUNT), imageTagMutability="IMMUTABLE"
        )
    return client


def registry_holds(ecr: Any, settings: StageSettings, digest: str, media_type: str = DOCKER_MANIFEST) -> None:
    """What the registry holds after skopeo's push (moto stands in for the registry skopeo talks to)."""
    ecr.put_image(
        repositoryName=settings.container_assets_repository(ACCOUNT),
        imageManifest=json.dumps({"schemaVersion": 2, "mediaType": media_type, "config": {}, "layers": []}),
        imageTag=TAG,
        imageManifestMediaType=media_type,
        imageDigest=digest,
    )


def push(settings: StageSettings, archive: Path, digest: str) -> None:
    release_push.main(
        ["push", "--stage", settings.name, "--archive", str(archive), "--digest", digest, "--tag", TAG]
    )


@pytest.mark.parametrize("settings", [STAGING, PRODUCTION], ids=lambda s: s.name)
def test_each_stage_gets_the_archive_in_its_own_bootstrap_repository_by_digest(
    settings, ecr, skopeo, tmp_path, capsys
):
    # Given the archive the image job built, and the registry holding that digest once skopeo has run
    digest = write_oci_archive(tmp_path / "image.tar")
    registry_holds(ecr, settings, digest)

    # When the stage's deploy job pushes it
    push(settings, tmp_path / "image.tar", digest)

    # Then skopeo copied the archive as it is (no digest change allowed) into the stage's bootstrap
    # repository, authenticated with an ECR token of the stage's account
    (call,) = [json.loads(line) for line in skopeo.read_text().splitlines()]
    target = image_of(settings).split("@")[0]
    assert call["args"][:2] == ["copy", "--preserve-digests"]
    assert call["args"][-2:] == [f"oci-archive:{tmp_path / 'image.tar'}", f"docker://{target}:{TAG}"]
    ((host, auth),) = call["auth"]["auths"].items()
    assert host == f"{ACCOUNT}.dkr.ecr.{settings.region}.amazonaws.com"
    assert base64.b64decode(auth["auth"]).decode().startswith("AWS:")
    assert f"pushed {image_of(settings, digest=digest)}" in capsys.readouterr().out


def test_an_archive_that_is_not_what_the_release_tested_is_not_pushed(ecr, skopeo, tmp_path):
    write_oci_archive(tmp_path / "image.tar")
    with pytest.raises(ReleaseError, match="but this release built and tested sha256:000"):
        push(STAGING, tmp_path / "image.tar", "sha256:" + "0" * 64)
    assert not skopeo.exists()


def test_a_registry_that_holds_another_digest_for_the_tag_stops_the_release(ecr, skopeo, tmp_path):
    digest = write_oci_archive(tmp_path / "image.tar")
    registry_holds(ecr, STAGING, "sha256:" + "1" * 64)
    with pytest.raises(ReleaseError, match=f"but {digest} was pushed"):
        push(STAGING, tmp_path / "image.tar", digest)


def test_an_index_in_ecr_is_refused_because_lambda_cannot_run_it(ecr, skopeo, tmp_path):
    digest = write_oci_archive(tmp_path / "image.tar")
    registry_holds(ecr, STAGING, digest, media_type=IMAGE_INDEX)
    with pytest.raises(ReleaseError, match="which Lambda cannot run"):
        push(STAGING, tmp_path / "image.tar", digest)


def test_a_failed_copy_stops_the_release(ecr, skopeo, tmp_path, monkeypatch):
    digest = write_oci_archive(tmp_path / "image.tar")
    monkeypatch.setenv("FAKE_SKOPEO_FAILS", "1")
    with pytest.raises(ReleaseError, match=r"skopeo copy to .* failed: manifest unknown"):
        push(STAGING, tmp_path / "image.tar", digest)


def test_credentials_of_another_account_than_the_stages_are_refused(ecr, skopeo, tmp_path):
    digest = write_oci_archive(tmp_path / "image.tar")
    elsewhere = dataclasses.replace(PRODUCTION, account="222222222222")
    with pytest.raises(ReleaseError, match=f"credentials are for account {ACCOUNT}, Production deploys"):
        release_push.push(elsewhere, tmp_path / "image.tar", digest, TAG)
    assert not skopeo.exists()
