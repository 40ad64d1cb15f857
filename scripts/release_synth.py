"""Synthesises both stages once, against the image digest this release pushed, and records the result.

Runs `npx cdk synth '**'` with the context that makes the infrastructure use an existing ECR image by
digest instead of building an image asset, then verifies the assembly (scripts/release_assembly.py) and
writes its fingerprint to $GITHUB_OUTPUT. Needs no AWS credentials: nothing is looked up at synthesis.

    python -m scripts.release_synth --digest sha256:... --account 123456789012 --region eu-west-1 \\
        --github-repository owner/name --model-artifact model/artifacts/model.json --out cdk.out
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from infra_cdk.settings import CDK_BOOTSTRAP_QUALIFIER, GITHUB_REPOSITORY, IMAGE_DIGEST
from scripts.release_assembly import AssemblyError, expected_image, verify
from scripts.release_push_image import (
    PushError,
    container_assets_repository,
    write_github_output,
)


def synth_command(
    *, repository: str, digest: str, github_repository: str, model_artifact: Path, out: Path
) -> list[str]:
    """The CDK CLI call: every stage, pinned to the digest, written to `out`. The model artifact is the one
    baked into the image: the pre-traffic hook's known answers are computed from it."""
    if not IMAGE_DIGEST.match(digest):
        raise ValueError(f"digest {digest!r} must look like sha256:<64 hex digits>")
    if not GITHUB_REPOSITORY.match(github_repository):
        raise ValueError(f"github repository {github_repository!r} must look like owner/name")
    return [
        "npx", "cdk", "synth", "**",
        "--quiet",
        "--output", str(out),
        "--context", f"image_repository={repository}",
        "--context", f"image_digest={digest}",
        "--context", f"github_repository={github_repository}",
        "--context", f"model_artifact={model_artifact}",
    ]  # fmt: skip


def synth_environment(account: str, region: str) -> dict[str, str]:
    """The target account and region, as the CLI would find them with credentials. The CLI passes its own
    region (us-east-1 when none is configured) to the app, so the region is set where the CLI reads it."""
    return {
        **os.environ,
        "CDK_DEFAULT_ACCOUNT": account,
        "CDK_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digest", required=True, help="the image digest pushed by this release")
    parser.add_argument("--account", required=True, help="AWS account id (12 digits)")
    parser.add_argument("--region", required=True, help="AWS region, e.g. eu-west-1")
    parser.add_argument("--github-repository", required=True, help="owner/name, trusted by the OIDC roles")
    parser.add_argument(
        "--model-artifact", type=Path, required=True, help="the gated artifact the image bundles"
    )
    parser.add_argument("--out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--qualifier", default=CDK_BOOTSTRAP_QUALIFIER, help="CDK bootstrap qualifier")
    args = parser.parse_args(argv)
    try:
        repository = container_assets_repository(args.account, args.region, args.qualifier)
        command = synth_command(
            repository=repository,
            digest=args.digest,
            github_repository=args.github_repository,
            model_artifact=args.model_artifact,
            out=args.out,
        )
    except (PushError, ValueError) as error:
        print(f"release_synth: {error}", file=sys.stderr)
        return 2
    print("+ " + " ".join(command), flush=True)
    if subprocess.run(command, env=synth_environment(args.account, args.region), check=False).returncode:
        print("release_synth: synthesis failed", file=sys.stderr)
        return 1
    try:
        image = expected_image(
            account=args.account, region=args.region, digest=args.digest, qualifier=args.qualifier
        )
        fingerprint = verify(args.out, image)
    except AssemblyError as error:
        print(f"release_synth: {error}", file=sys.stderr)
        return 1
    print(f"synthesised {args.out} deploying {image}: fingerprint {fingerprint}")
    write_github_output({"fingerprint": fingerprint})
    return 0


if __name__ == "__main__":
    sys.exit(main())
