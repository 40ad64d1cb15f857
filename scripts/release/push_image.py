"""The release's one image: its digest, read from the OCI archive Buildx wrote, and its push to a stage.

The archive keeps the manifest's bytes, and so its digest, whatever Docker the runner has; ``skopeo copy
--preserve-digests`` carries them into ECR unchanged (docs/delivery.md, the image and deploy jobs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Final

from infra_cdk.settings import StageSettings
from scripts.release import (
    ReleaseError,
    matching,
    parse_digest,
    parse_stage,
    run,
    stage_image,
    write_github_output,
)

# What Lambda accepts as a container image (an image index / manifest list is refused at deploy time).
LAMBDA_MANIFEST_TYPES: Final = frozenset(
    {"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"}
)
LAMBDA_PLATFORM: Final = ("linux", "arm64")  # infra_cdk/function.py: Architecture.ARM_64
# ECR's tag grammar: a letter, digit or underscore, then up to 127 of those, periods and hyphens.
parse_tag = matching(re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"), "an image tag")


# --- The archive ----------------------------------------------------------------------------------------
def _read(archive: tarfile.TarFile, name: str) -> bytes:
    member = next((m for m in archive if m.name.removeprefix("./") == name), None)  # writers differ on ./
    if member is None or (file := archive.extractfile(member)) is None:
        raise ReleaseError(f"the archive has no {name}")
    return file.read()


def _blob(archive: tarfile.TarFile, digest: str) -> bytes:
    data = _read(archive, f"blobs/sha256/{digest.removeprefix('sha256:')}")
    if f"sha256:{hashlib.sha256(data).hexdigest()}" != digest:
        raise ReleaseError(f"blob {digest} of the archive does not match its digest")
    return data


def archive_digest(path: Path) -> str:
    """The digest of the one image in an OCI archive, after checking that Lambda can run it."""
    try:
        with tarfile.open(path) as archive:
            manifests = json.loads(_read(archive, "index.json"))["manifests"]
            if len(manifests) != 1:
                raise ReleaseError(
                    f"{path} holds {len(manifests)} manifests; a release pushes exactly one image"
                )
            (descriptor,) = manifests
            if descriptor.get("mediaType") not in LAMBDA_MANIFEST_TYPES:
                raise ReleaseError(
                    f"{path} holds a {descriptor.get('mediaType')!r}, which Lambda cannot run (build one "
                    "platform with provenance and SBOM off)"
                )
            digest = str(descriptor["digest"])
            manifest = json.loads(_blob(archive, digest))
            config = json.loads(_blob(archive, manifest["config"]["digest"]))
    except (OSError, KeyError, ValueError, tarfile.TarError) as error:
        raise ReleaseError(f"{path} is not an OCI image archive (Buildx type=oci): {error!r}") from error
    if (config.get("os"), config.get("architecture")) != LAMBDA_PLATFORM:
        raise ReleaseError(
            f"{path} is an image for {config.get('os')}/{config.get('architecture')}, the function runs on "
            f"{'/'.join(LAMBDA_PLATFORM)}"
        )
    return digest


# --- The push -------------------------------------------------------------------------------------------
def copy(archive: Path, target: str, auth: str) -> None:
    """skopeo copies the archive's blobs and manifest bytes as they are: --preserve-digests fails the copy
    rather than let a conversion change the digest."""
    with tempfile.TemporaryDirectory() as directory:
        authfile = Path(directory) / "auth.json"
        authfile.write_text(
            json.dumps({"auths": {target.split("/", 1)[0]: {"auth": auth}}}), encoding="utf-8"
        )
        authfile.chmod(0o600)
        command = [
            "skopeo", "copy", "--preserve-digests", "--dest-authfile", str(authfile),
            f"oci-archive:{archive}", f"docker://{target}",
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except FileNotFoundError as error:
            raise ReleaseError("skopeo is not installed (GitHub's Ubuntu runners ship it)") from error
    if result.returncode != 0:
        raise ReleaseError(f"skopeo copy to {target} failed: {result.stderr.strip()}")


def confirm_in_ecr(ecr: Any, *, repository: str, tag: str, digest: str) -> None:
    """ECR must resolve the pushed tag to the same digest, as an image manifest that Lambda can run."""
    from botocore.exceptions import ClientError

    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        raise ReleaseError(f"{repository}:{tag}: {error.response['Error']['Message']}") from error
    (image,) = details["imageDetails"]
    if image["imageDigest"] != digest:
        raise ReleaseError(f"{repository}:{tag} is {image['imageDigest']} in ECR, but {digest} was pushed")
    media_type = image.get("imageManifestMediaType")
    if media_type not in LAMBDA_MANIFEST_TYPES:
        raise ReleaseError(f"{repository}@{digest} has manifest type {media_type!r}, which Lambda cannot run")


def push(settings: StageSettings, archive: Path, digest: str, tag: str) -> str:
    """Pushes the archive into the stage's bootstrap repository as the stage's bootstrap image-publishing
    role (the one role allowed to push there), in the account of the credentials; returns what was pushed."""
    import boto3  # lazily: reading an archive's digest needs no SDK

    if (actual := archive_digest(archive)) != digest:
        raise ReleaseError(f"{archive} holds {actual}, but this release built and tested {digest}")
    sts = boto3.client("sts", region_name=settings.region)
    identity = sts.get_caller_identity()
    account, partition = identity["Account"], identity["Arn"].split(":")[1]
    if settings.account not in (None, account):
        raise ReleaseError(
            f"the credentials are for account {account}, {settings.name} deploys to {settings.account}"
        )
    role = (
        f"arn:{partition}:iam::{account}:role/cdk-{settings.bootstrap_qualifier}-image-publishing-role-"
        f"{account}-{settings.region}"
    )
    keys = sts.assume_role(RoleArn=role, RoleSessionName="release-push-image")["Credentials"]
    session = boto3.Session(
        keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"], settings.region
    )
    ecr = session.client("ecr")
    (authorization,) = ecr.get_authorization_token()["authorizationData"]
    copy(archive, stage_image(settings, account, f":{tag}"), authorization["authorizationToken"])
    confirm_in_ecr(ecr, repository=settings.container_assets_repository(account), tag=tag, digest=digest)
    return stage_image(settings, account, f"@{digest}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("digest", help="print the image's digest, and record it as the step output")
    read.add_argument("--archive", type=Path, required=True, help="the Buildx OCI archive")
    send = commands.add_parser("push", help="push the archive into a stage's bootstrap repository")
    send.add_argument("--stage", type=parse_stage, required=True, help="Staging or Production")
    send.add_argument("--archive", type=Path, required=True, help="the Buildx OCI archive")
    send.add_argument("--digest", type=parse_digest, required=True, help="the digest the image job recorded")
    send.add_argument("--tag", type=parse_tag, required=True, help="unique per run: tags are immutable")
    args = parser.parse_args(argv)
    if args.command == "digest":
        digest = archive_digest(args.archive)
        print(digest)
        write_github_output(digest=digest)
    else:
        print(f"pushed {push(args.stage, args.archive, args.digest, args.tag)} (tag {args.tag})")


if __name__ == "__main__":
    run(main)
