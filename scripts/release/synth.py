"""Synthesises every stage once, against the image digest this release built, and records the result.

Runs `npx cdk synth '**'` with the context that makes each stage run that digest from its own bootstrap
repository instead of building an image asset, then verifies the assembly (scripts/release/assembly.py)
and writes its fingerprint to $GITHUB_OUTPUT. Needs no AWS credentials: nothing is looked up at synthesis.
Each stage's account comes from a repository variable, and must agree with infra_cdk/settings.py.

    python -m scripts.release.synth --digest sha256:... \\
        --account Staging=111111111111 --account Production=222222222222 \\
        --github-repository owner/name --model-artifact model/artifacts/model.json --out cdk.out
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from infra_cdk.settings import GITHUB_REPOSITORY, IMAGE_DIGEST, STAGES
from scripts.release.assembly import AssemblyError, expected_images, stage_accounts, verify
from scripts.release.push_image import write_github_output


def synth_command(*, digest: str, github_repository: str, model_artifact: Path, out: Path) -> list[str]:
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
        "--context", f"image_digest={digest}",
        "--context", f"github_repository={github_repository}",
        "--context", f"model_artifact={model_artifact}",
    ]  # fmt: skip


def credentials_account(accounts: Mapping[str, str]) -> str:
    """The account the app is told the CLI's credentials are in (CDK_DEFAULT_ACCOUNT): where every stage
    without an account of its own in the settings deploys, so those stages must be given one account."""
    if missing := [stage.name for stage in STAGES if stage.name not in accounts]:
        raise ValueError(f"no --account for {missing}")
    for stage in STAGES:
        if stage.account is not None and stage.account != accounts[stage.name]:
            raise ValueError(
                f"infra_cdk/settings.py deploys {stage.name} to {stage.account}, the release was given "
                f"{accounts[stage.name]} (repository variable {stage.name.upper()}_AWS_ACCOUNT_ID)"
            )
    shared = sorted({accounts[stage.name] for stage in STAGES if stage.account is None})
    if len(shared) > 1:
        raise ValueError(
            "the stages share the account of the credentials in infra_cdk/settings.py, but were given "
            f"{shared}: for one account per stage, set `account` on every stage there"
        )
    return shared[0] if shared else accounts[STAGES[0].name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digest", required=True, help="the image digest built by this release")
    parser.add_argument("--account", action="append", required=True, help="STAGE=ACCOUNT, once per stage")
    parser.add_argument("--github-repository", required=True, help="owner/name, trusted by the OIDC roles")
    parser.add_argument(
        "--model-artifact", type=Path, required=True, help="the gated artifact the image bundles"
    )
    parser.add_argument("--out", type=Path, default=Path("cdk.out"))
    args = parser.parse_args(argv)
    try:
        accounts = stage_accounts(args.account)
        images = expected_images(accounts, args.digest)
        environment = {**os.environ, "CDK_DEFAULT_ACCOUNT": credentials_account(accounts)}
        command = synth_command(
            digest=args.digest,
            github_repository=args.github_repository,
            model_artifact=args.model_artifact,
            out=args.out,
        )
    except (AssemblyError, ValueError) as error:
        print(f"release_synth: {error}", file=sys.stderr)
        return 2
    print("+ " + " ".join(command), flush=True)
    if subprocess.run(command, env=environment, check=False).returncode:
        print("release_synth: synthesis failed", file=sys.stderr)
        return 1
    try:
        fingerprint = verify(args.out, images)
    except AssemblyError as error:
        print(f"release_synth: {error}", file=sys.stderr)
        return 1
    for stack, image in images.items():
        print(f"synthesised {args.out}: {stack} deploys {image}")
    print(f"fingerprint {fingerprint}")
    write_github_output({"fingerprint": fingerprint})
    return 0


if __name__ == "__main__":
    sys.exit(main())
