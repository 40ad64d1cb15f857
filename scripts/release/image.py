"""The release's one image, with the OCI tools GitHub's Ubuntu runners ship (buildah, podman, skopeo): built
once into an archive, tested under the Runtime Interface Emulator, pushed by digest into each stage's
bootstrap repository (each step and its command: docs/delivery.md, "The release, job by job"). The test
suite runs these same commands on real engines and a real registry (tests/integration/test_release_image.py),
so no container step of a Release runs first on GitHub.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from infra_cdk.deployment.checks import known_answer_checks
from infra_cdk.deployment.pre_traffic_hook import hook
from infra_cdk.settings import FUNCTION_PLATFORM, StageSettings
from model.core.artifact import ModelArtifact
from model.core.contract import SERVICE_NAME
from model.core.serving import load_artifact
from scripts import REPO_ROOT
from scripts.dev.rie import free_port, invoke, wait_for_port
from scripts.release import (
    ReleaseError,
    caller_account,
    matching,
    parse_digest,
    parse_stage,
    run,
    write_github_output,
)
from scripts.release.oci_archive import DOCKER_MANIFEST, archive_digest
from scripts.release.sbom import write_sbom

DOCKERFILE: Final = REPO_ROOT / "lambda_fn" / "Dockerfile"
# ECR's tag grammar: a letter, digit or underscore, then up to 127 of those, periods and hyphens.
parse_tag = matching(re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"), "an image tag")


# --- The engines ----------------------------------------------------------------------------------------
def engine(*command: str, capture: bool = False) -> str:
    """Runs one container tool; its output streams to the job's log unless captured. A failure stops the
    release with the tool's own words."""
    try:
        result = subprocess.run(command, capture_output=capture, text=True, check=False)
    except FileNotFoundError:
        raise ReleaseError(f"{command[0]} is not installed (GitHub's Ubuntu runners ship it)") from None
    if result.returncode:
        said = f": {result.stderr.strip()[-2000:]}" if capture else " (its output is above)"
        raise ReleaseError(f"`{' '.join(command[:2])}` failed with exit status {result.returncode}{said}")
    return result.stdout.strip() if capture else ""


# --- build ----------------------------------------------------------------------------------------------
def build(archive: Path, *, platform: str, base: str | None) -> str:
    """Builds lambda_fn/Dockerfile (context: the repository root) for ``platform`` into ``archive``; with
    ``base``, on that base image instead of the Dockerfile's pinned one. Returns the image's digest."""
    tag = f"localhost/{SERVICE_NAME}:build-{os.getpid()}"
    # chroot isolation: the RUN steps of our own Dockerfile need no more, and it works wherever the engine
    # runs (on a runner, nested in a container, without cgroup delegation), the same way everywhere.
    command = ["buildah", "bud", "--isolation", "chroot", "--format", "docker", "--platform", platform]
    command += ["--file", str(DOCKERFILE), "--tag", tag]
    command += ["--build-arg", f"BASE_IMAGE={base}"] if base else []
    engine(*command, str(REPO_ROOT))
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.unlink(missing_ok=True)
        engine("buildah", "push", "--quiet", "--format", "v2s2", tag, f"oci-archive:{archive}")
    finally:
        subprocess.run(["buildah", "rmi", tag], capture_output=True, check=False)
    return archive_digest(archive, platform)


# --- test -----------------------------------------------------------------------------------------------
# Lambda runs a container image as a non-root user on a read-only file system with a writable /tmp, at most
# 1 024 open files and 1 024 processes: a file the function cannot read, a write outside /tmp, or a thread
# or descriptor leak must fail here, not after deployment.
LAMBDA_LIKE_RUN_OPTIONS: Final = (
    "--user", "993:990", "--read-only", "--tmpfs", "/tmp",  # noqa: S108
    "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
)  # fmt: skip
EMULATOR_PORT: Final = 8080  # where the base image's entrypoint starts the emulator


@contextmanager
def running_container(image: str) -> Iterator[str]:
    """Runs the image with its emulator published on a free loopback port; yields the emulator's URL. On
    failure the container's log is printed; the container is always removed."""
    port = free_port()
    publish = ("--publish", f"127.0.0.1:{port}:{EMULATOR_PORT}")
    container = engine("podman", "run", "--detach", *LAMBDA_LIKE_RUN_OPTIONS, *publish, image, capture=True)
    try:
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        logs = subprocess.run(["podman", "logs", container], capture_output=True, text=True, check=False)
        print(f"--- container log ---\n{logs.stdout}{logs.stderr}--- end ---", file=sys.stderr)
        raise
    finally:
        subprocess.run(["podman", "rm", "--force", container], capture_output=True, check=False)


class SmokeTestError(ReleaseError):
    """The image did not answer as a correct build of this release must."""


class EmulatedLambda:
    """The Lambda client the pre-traffic hook invokes the new version with, answered by the emulator (the
    first invocation includes the function's init: imports, artifact verification)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def invoke(self, *, Payload: bytes, **_: str) -> dict[str, Any]:  # noqa: N803 - boto3's argument name
        event = json.loads(Payload)
        try:
            status, result = invoke(self.endpoint, event, timeout=60)
        except (OSError, ValueError) as error:  # no answer (URLError, timeout), or not JSON
            raise SmokeTestError(f"{event['httpMethod']} {event['path']}: {error}") from error
        # The emulator answers a failed init or invocation with 502 {"errorType": ..., "errorMessage": ...}.
        failed = {"FunctionError": f"Unhandled (emulator status {status})"} if status != 200 else {}
        return {"Payload": io.BytesIO(json.dumps(result).encode()), **failed}


def call_like_api_gateway(endpoint: str, artifact: ModelArtifact) -> None:
    """The pre-traffic hook's own checks (infra_cdk/deployment: its known answers for ``artifact``, its
    comparison), made through the emulator: health, the model route, both prediction routes, the legacy
    route and a refused body. CodeDeploy makes them again on the deployed version."""
    wait_for_port(endpoint, timeout=30)
    checks = [hook.Check(**check) for check in known_answer_checks(artifact)]
    function = EmulatedLambda(endpoint)
    if problems := [problem for check in checks for problem in hook.verify(function, "image", check)]:
        raise SmokeTestError("; ".join(problems))
    print(f"image: {len(checks)} known answers given by {artifact.model_version}")


def verify(image: str, artifact: Path) -> None:
    """Pulls ``image`` (``oci-archive:PATH``, or ``docker://REGISTRY/REPOSITORY@DIGEST``: pulled by digest),
    runs it as Lambda would and calls it through API Gateway events; removes it afterwards."""
    expected = load_artifact(artifact)
    image_id = engine("podman", "pull", "--quiet", image, capture=True).splitlines()[-1]
    try:
        with running_container(image_id) as endpoint:
            call_like_api_gateway(endpoint, expected)
    finally:
        subprocess.run(["podman", "rmi", "--force", image_id], capture_output=True, check=False)


# --- push -----------------------------------------------------------------------------------------------
@contextmanager
def authfile(registry: str, token: str) -> Iterator[Path]:
    """A containers-auth.json holding one registry's token (base64 of ``user:password``), readable only by
    this user, gone afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "auth.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps({"auths": {registry: {"auth": token}}}), encoding="utf-8")
        yield path


def ecr_login(settings: StageSettings, session: Any) -> tuple[str, str, str]:
    """(account, registry host, token) of the stage's bootstrap image-publishing role, the one role allowed
    to push to the stage's repository, in the account of the credentials."""
    sts = session.client("sts", region_name=settings.region)
    account, partition = caller_account(settings, sts)
    role_name = settings.bootstrap_role_name("image-publishing", account, settings.region)
    role = f"arn:{partition}:iam::{account}:role/{role_name}"
    keys = sts.assume_role(RoleArn=role, RoleSessionName="release-push-image")["Credentials"]
    ecr = session.client(
        "ecr",
        region_name=settings.region,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    (authorization,) = ecr.get_authorization_token()["authorizationData"]
    registry = authorization["proxyEndpoint"].removeprefix("https://")
    return account, registry, authorization["authorizationToken"]


def served_manifest(reference: str, auth: Path) -> tuple[str, str] | None:
    """The digest and media type of the manifest a registry serves for ``reference`` (as Lambda pulls it),
    or None if it serves none."""
    command = ["skopeo", "inspect", "--raw", "--authfile", str(auth), f"docker://{reference}"]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode:
        if b"manifest unknown" in result.stderr.lower():  # the registry protocol's MANIFEST_UNKNOWN
            return None
        raise ReleaseError(f"skopeo inspect {reference} failed: {result.stderr.decode().strip()[-2000:]}")
    media_type = json.loads(result.stdout).get("mediaType")
    return f"sha256:{hashlib.sha256(result.stdout).hexdigest()}", str(media_type)


def push(settings: StageSettings, archive: Path, digest: str, tag: str, session: Any) -> str:
    """Pushes the archive into the stage's bootstrap repository with its digest preserved, then pulls the
    manifest back by digest; returns the reference the stage deploys. A repository that holds the digest
    already (a re-run, whose archive may have expired) needs nothing pushed."""
    account, registry, token = ecr_login(settings, session)
    repository = f"{registry}/{settings.container_assets_repository(account)}"
    pinned = f"{repository}@{digest}"
    with authfile(registry, token) as auth:
        if (served := served_manifest(pinned, auth)) is None:
            if not archive.is_file():
                raise ReleaseError(
                    f"{archive} is missing and {repository} does not hold {digest}: a release's image "
                    "archive is kept for a day, so start a new Release (it builds, tests and stages it again)"
                )
            if (actual := archive_digest(archive, platform=None)) != digest:
                raise ReleaseError(f"{archive} holds {actual}, but this release built and tested {digest}")
            copy = ["skopeo", "copy", "--quiet", "--preserve-digests", "--dest-authfile", str(auth)]
            engine(*copy, f"oci-archive:{archive}", f"docker://{repository}:{tag}", capture=True)
            served = served_manifest(pinned, auth)  # pulled back by digest, as Lambda will pull it
        else:
            print(f"{repository} holds {digest} already: nothing to push")
        if served != (digest, DOCKER_MANIFEST):
            raise ReleaseError(f"{pinned} is served as {served}, but {digest} was pushed")
    return pinned


# --- The command line ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("build", help="build the image into an archive; print and record its digest")
    make.add_argument("--archive", type=Path, required=True, help="the OCI archive to write")
    make.add_argument("--platform", default=FUNCTION_PLATFORM, help="default: the function's")
    make.add_argument("--base", help="another base image than the Dockerfile's pinned one (tests only)")
    make.add_argument("--sbom", type=Path, help="write a CycloneDX SBOM of the image's Python packages here")
    check = commands.add_parser("test", help="run the image as Lambda would and call it")
    check.add_argument("--image", required=True, help="oci-archive:PATH or docker://REPOSITORY@DIGEST")
    check.add_argument("--artifact", type=Path, required=True, help="the model artifact the image bundles")
    send = commands.add_parser("push", help="push the archive into a stage's bootstrap repository")
    send.add_argument("--stage", type=parse_stage, required=True, help="a stage of infra_cdk/settings.py")
    send.add_argument("--archive", type=Path, required=True, help="the archive the build wrote")
    send.add_argument("--digest", type=parse_digest, required=True, help="the digest the build recorded")
    send.add_argument("--tag", type=parse_tag, required=True, help="unique per run: tags are immutable")
    args = parser.parse_args(argv)
    if args.command == "build":
        digest = build(args.archive, platform=args.platform, base=args.base)
        if args.sbom:
            write_sbom(args.archive, args.sbom, digest)
        print(f"built {digest} ({args.platform}) into {args.archive}")
        write_github_output(digest=digest)
    elif args.command == "test":
        verify(args.image, args.artifact)
    else:
        import boto3  # lazily: building and testing need no SDK

        pushed = push(args.stage, args.archive, args.digest, args.tag, boto3.Session())
        print(f"pushed {pushed} (tag {args.tag})")


if __name__ == "__main__":
    run(main)
