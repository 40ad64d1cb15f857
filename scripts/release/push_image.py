"""The release's one image, as an archive: its digest, and its push into a stage's bootstrap repository.

The image job builds the image once with Buildx into an OCI archive (``type=oci``, ``oci-mediatypes=false``,
no provenance or SBOM), which keeps the manifest's bytes and so its digest. ``digest`` reads that digest and
checks the archive holds what Lambda runs: one image manifest (never an index) for linux/arm64. Each deploy
job then ``push``-es the same archive into its own stage's CDK bootstrap repository, in its own account,
with ``skopeo copy --preserve-digests`` (which fails rather than rewrite the manifest), and confirms in ECR
that the tag is that digest, as a single-image manifest. Whatever Docker version a runner has, what reaches
ECR is the manifest Buildx wrote.

    python -m scripts.release.push_image digest --archive build/image.tar
    python -m scripts.release.push_image push --stage Staging --archive build/image.tar \\
        --digest sha256:... --tag abc123-42-1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Final

from infra_cdk.settings import ACCOUNT, IMAGE_DIGEST, REGION, SettingsError, StageSettings, stage_named

# What Lambda accepts as a container image (an image index / manifest list is refused at deploy time).
LAMBDA_MANIFEST_TYPES: Final = frozenset(
    {"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"}
)
LAMBDA_PLATFORM: Final = ("linux", "arm64")  # infra_cdk/function.py: Architecture.ARM_64
# ECR's tag grammar: a letter, digit or underscore, then up to 127 of those, periods and hyphens.
_TAG: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class PushError(RuntimeError):
    """The image could not be pushed, or what ECR holds is not what was built and tested."""


def registry(account: str, region: str) -> str:
    if not ACCOUNT.match(account):
        raise PushError(f"account {account!r} must be 12 digits")
    if not REGION.match(region):
        raise PushError(f"region {region!r} is not an AWS region name")
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


# --- The archive ----------------------------------------------------------------------------------------
def _read(archive: tarfile.TarFile, name: str) -> bytes:
    for candidate in (name, f"./{name}"):  # tar writers differ on the leading ./
        try:
            member = archive.extractfile(candidate)
        except KeyError:
            continue
        if member is not None:
            return member.read()
    raise PushError(f"the archive has no {name}")


def _blob(archive: tarfile.TarFile, digest: str) -> bytes:
    data = _read(archive, f"blobs/sha256/{digest.removeprefix('sha256:')}")
    if f"sha256:{hashlib.sha256(data).hexdigest()}" != digest:
        raise PushError(f"blob {digest} of the archive does not match its digest")
    return data


def archive_digest(path: Path) -> str:
    """The digest of the one image in an OCI archive, after checking that Lambda can run it."""
    try:
        with tarfile.open(path) as archive:
            manifests = json.loads(_read(archive, "index.json"))["manifests"]
            if len(manifests) != 1:
                raise PushError(
                    f"{path} holds {len(manifests)} manifests; a release pushes exactly one image"
                )
            (descriptor,) = manifests
            if descriptor.get("mediaType") not in LAMBDA_MANIFEST_TYPES:
                raise PushError(
                    f"{path} holds a {descriptor.get('mediaType')!r}, which Lambda cannot run (build one "
                    "platform with provenance and SBOM off)"
                )
            digest = str(descriptor["digest"])
            manifest = json.loads(_blob(archive, digest))
            config = json.loads(_blob(archive, manifest["config"]["digest"]))
    except (OSError, KeyError, ValueError, tarfile.TarError) as error:
        raise PushError(f"{path} is not an OCI image archive (Buildx type=oci): {error!r}") from error
    if (config.get("os"), config.get("architecture")) != LAMBDA_PLATFORM:
        raise PushError(
            f"{path} is an image for {config.get('os')}/{config.get('architecture')}, the function runs on "
            f"{'/'.join(LAMBDA_PLATFORM)}"
        )
    return digest


# --- The push -------------------------------------------------------------------------------------------
def _session(region: str, credentials: dict[str, str] | None = None) -> Any:
    """A boto3 session: the environment's credentials, or those of an assumed role."""
    import boto3  # imported lazily: building the command line or failing fast costs no SDK import

    if credentials is None:
        return boto3.Session(region_name=region)
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def image_publishing_credentials(settings: StageSettings) -> tuple[str, dict[str, str]]:
    """The stage's account (that of the delivery role's credentials) and a session of its bootstrap
    image-publishing role, the one role allowed to push to the bootstrap repository."""
    sts = _session(settings.region).client("sts")
    identity = sts.get_caller_identity()
    account, partition = identity["Account"], identity["Arn"].split(":")[1]
    if settings.account is not None and account != settings.account:
        raise PushError(
            f"the credentials are for account {account}, {settings.name} deploys to {settings.account}"
        )
    role = (
        f"arn:{partition}:iam::{account}:role/cdk-{settings.bootstrap_qualifier}-image-publishing-role-"
        f"{account}-{settings.region}"
    )
    session = sts.assume_role(RoleArn=role, RoleSessionName="release-push-image")
    return account, session["Credentials"]


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
            raise PushError("skopeo is not installed (GitHub's Ubuntu runners ship it)") from error
    if result.returncode != 0:
        raise PushError(f"skopeo copy to {target} failed: {result.stderr.strip()}")


def confirm_in_ecr(ecr: Any, *, repository: str, tag: str, digest: str) -> None:
    """ECR must resolve the pushed tag to the same digest, as an image manifest that Lambda can run."""
    from botocore.exceptions import ClientError

    try:
        details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        raise PushError(f"{repository}:{tag}: {error.response['Error']['Message']}") from error
    (image,) = details["imageDetails"]
    if image["imageDigest"] != digest:
        raise PushError(f"{repository}:{tag} is {image['imageDigest']} in ECR, but {digest} was pushed")
    media_type = image.get("imageManifestMediaType")
    if media_type not in LAMBDA_MANIFEST_TYPES:
        raise PushError(f"{repository}@{digest} has manifest type {media_type!r}, which Lambda cannot run")


def push(settings: StageSettings, archive: Path, digest: str, tag: str) -> str:
    """Pushes the archive into the stage's bootstrap repository; returns what was pushed."""
    if not IMAGE_DIGEST.match(digest):
        raise PushError(f"digest {digest!r} must look like sha256:<64 hex digits>")
    if not _TAG.match(tag):
        raise PushError(f"tag {tag!r} is not a valid image tag")
    if (actual := archive_digest(archive)) != digest:
        raise PushError(f"{archive} holds {actual}, but this release built and tested {digest}")
    account, credentials = image_publishing_credentials(settings)
    ecr = _session(settings.region, credentials).client("ecr")
    repository = settings.container_assets_repository(account)
    (authorization,) = ecr.get_authorization_token()["authorizationData"]
    copy(
        archive,
        f"{registry(account, settings.region)}/{repository}:{tag}",
        authorization["authorizationToken"],
    )
    confirm_in_ecr(ecr, repository=repository, tag=tag, digest=digest)
    return f"{registry(account, settings.region)}/{repository}@{digest}"


def write_github_output(values: dict[str, str], path: str | None = None) -> None:
    """Appends `key=value` lines to the file GitHub Actions reads step outputs from (if there is one)."""
    target = path or os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as output:
        output.writelines(f"{key}={value}\n" for key, value in values.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    read = commands.add_parser("digest", help="print the archive's image digest (and record it as an output)")
    read.add_argument("--archive", type=Path, required=True, help="the Buildx OCI archive")
    send = commands.add_parser("push", help="push the archive into a stage's bootstrap repository")
    send.add_argument("--stage", required=True, help="Staging or Production (infra_cdk/settings.py)")
    send.add_argument("--archive", type=Path, required=True, help="the Buildx OCI archive")
    send.add_argument("--digest", required=True, help="the digest this release recorded for the archive")
    send.add_argument("--tag", required=True, help="tag for this push (unique per run: tags are immutable)")
    args = parser.parse_args(argv)
    try:
        if args.command == "digest":
            digest = archive_digest(args.archive)
            print(digest)
            write_github_output({"digest": digest})
        else:
            pushed = push(stage_named(args.stage), args.archive, args.digest, args.tag)
            print(f"pushed {pushed} (tag {args.tag})")
    except (PushError, SettingsError) as error:
        print(f"release_push_image: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
