"""Pushes the emulator-tested image to ECR and records its digest: the identity every later job deploys.

The image goes into the CDK bootstrap container-assets repository (whose repository policy already lets
Lambda pull), pushed with the bootstrap image-publishing role. The digest is read back twice: from the
engine after `docker push`, and from ECR for the pushed tag. Both must agree, and ECR must hold a
single-platform image manifest (Lambda rejects manifest lists). The digest is written to $GITHUB_OUTPUT.

    python -m scripts.release_push_image --image diabetes-progression:abc123 \\
        --account 123456789012 --region eu-west-1 --tag abc123-42-1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from infra_cdk.settings import ACCOUNT, CDK_BOOTSTRAP_QUALIFIER, IMAGE_DIGEST, REGION

# What Lambda accepts as a container image (an image index / manifest list is refused at deploy time).
LAMBDA_MANIFEST_TYPES: Final = frozenset(
    {"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"}
)
# ECR's tag grammar: a letter, digit or underscore, then up to 127 of those, periods and hyphens.
_TAG: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class PushError(RuntimeError):
    """The image could not be pushed, or what ECR holds is not what was tested."""


def container_assets_repository(account: str, region: str, qualifier: str = CDK_BOOTSTRAP_QUALIFIER) -> str:
    """The name of the CDK bootstrap repository for container assets in this account and region."""
    if not ACCOUNT.match(account):
        raise PushError(f"account {account!r} must be 12 digits")
    if not REGION.match(region):
        raise PushError(f"region {region!r} is not an AWS region name")
    return f"cdk-{qualifier}-container-assets-{account}-{region}"


def registry(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def digest_for(repo_digests: list[str], repository_uri: str) -> str:
    """Picks this repository's entry from `docker image inspect`'s RepoDigests (`<repo>@sha256:...`)."""
    for entry in repo_digests:
        name, _, digest = entry.partition("@")
        if name == repository_uri and IMAGE_DIGEST.match(digest):
            return digest
    raise PushError(f"the engine recorded no digest for {repository_uri} (RepoDigests: {repo_digests})")


def _docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PushError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def push(image: str, repository_uri: str, tag: str) -> str:
    """Tags the local image into the repository, pushes it and returns the digest the registry assigned."""
    if not _TAG.match(tag):
        raise PushError(f"tag {tag!r} is not a valid image tag")
    target = f"{repository_uri}:{tag}"
    _docker("tag", image, target)
    _docker("push", target)
    repo_digests = json.loads(_docker("image", "inspect", "--format", "{{json .RepoDigests}}", target))
    return digest_for(repo_digests or [], repository_uri)


def _ecr(region: str) -> Any:
    import boto3  # imported lazily: building the command line or failing fast costs no SDK import

    return boto3.client("ecr", region_name=region)


def confirm_in_ecr(*, repository: str, tag: str, digest: str, region: str) -> None:
    """ECR must resolve the pushed tag to the same digest, as an image manifest that Lambda can run."""
    from botocore.exceptions import ClientError

    try:
        details = _ecr(region).describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        raise PushError(f"{repository}:{tag}: {error.response['Error']['Message']}") from error
    (image,) = details["imageDetails"]
    if image["imageDigest"] != digest:
        raise PushError(f"{repository}:{tag} is {image['imageDigest']} in ECR, but {digest} was pushed")
    media_type = image.get("imageManifestMediaType")
    if media_type not in LAMBDA_MANIFEST_TYPES:
        raise PushError(f"{repository}@{digest} has manifest type {media_type!r}, which Lambda cannot run")


def write_github_output(values: dict[str, str], path: str | None = None) -> None:
    """Appends `key=value` lines to the file GitHub Actions reads step outputs from (if there is one)."""
    target = path or os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as output:
        output.writelines(f"{key}={value}\n" for key, value in values.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="the local image that passed the emulator test")
    parser.add_argument("--account", required=True, help="AWS account id (12 digits)")
    parser.add_argument("--region", required=True, help="AWS region, e.g. eu-west-1")
    parser.add_argument("--tag", required=True, help="tag for this push (unique per run: tags are immutable)")
    parser.add_argument("--qualifier", default=CDK_BOOTSTRAP_QUALIFIER, help="CDK bootstrap qualifier")
    args = parser.parse_args(argv)
    try:
        repository = container_assets_repository(args.account, args.region, args.qualifier)
        digest = push(args.image, f"{registry(args.account, args.region)}/{repository}", args.tag)
        confirm_in_ecr(repository=repository, tag=args.tag, digest=digest, region=args.region)
    except PushError as error:
        print(f"release_push_image: {error}", file=sys.stderr)
        return 1
    print(f"pushed {repository}@{digest} (tag {args.tag})")
    write_github_output({"digest": digest, "repository": repository})
    return 0


if __name__ == "__main__":
    sys.exit(main())
