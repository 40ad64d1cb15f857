"""Synthesises every stage once, against the image digest this release built, and records the result.

The assembly is verified and its fingerprint recorded (scripts/release/assembly.py). No AWS credentials:
nothing is looked up at synthesis. Commands: docs/delivery.md, "Running the pieces locally".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from infra_cdk.identifiers import ACCOUNT
from infra_cdk.settings import STAGES
from scripts.release import ReleaseError, parse_digest, parse_github_repository, run, write_github_output
from scripts.release.assembly import verify


def stage_accounts(variables: str) -> dict[str, str]:
    """{stage: account} from the repository variables (``toJSON(vars)``), each stage's named by its settings
    (``STAGING_AWS_ACCOUNT_ID``, ...): a new stage needs its variable, not a new argument here."""
    try:
        values = json.loads(variables)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise argparse.ArgumentTypeError("--variables must be a JSON object of repository variables")
    accounts = {stage.name: str(values.get(stage.account_variable, "")) for stage in STAGES}
    if unset := [stage.account_variable for stage in STAGES if not ACCOUNT.match(accounts[stage.name])]:
        raise argparse.ArgumentTypeError(f"{unset} must be set to 12-digit account ids (gh variable set ...)")
    return accounts


def credentials_account(accounts: Mapping[str, str]) -> str:
    """The account the app is told the CLI's credentials are in (CDK_DEFAULT_ACCOUNT): where every stage
    without an account of its own in the settings deploys, so those stages must be given one account."""
    for stage in STAGES:
        if stage.account is not None and stage.account != accounts[stage.name]:
            raise ReleaseError(
                f"infra_cdk/settings.py deploys {stage.name} to {stage.account}, the release was given "
                f"{accounts[stage.name]} (repository variable {stage.account_variable})"
            )
    shared = sorted({accounts[stage.name] for stage in STAGES if stage.account is None})
    if len(shared) > 1:
        raise ReleaseError(
            "the stages share the account of the credentials in infra_cdk/settings.py, but were given "
            f"{shared}: for one account per stage, set `account` on every stage there"
        )
    return shared[0] if shared else accounts[STAGES[0].name]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digest", type=parse_digest, required=True, help="the image this release built")
    parser.add_argument(
        "--variables", type=stage_accounts, required=True, dest="accounts", help="toJSON(vars), as JSON"
    )
    parser.add_argument("--github-repository", type=parse_github_repository, required=True, help="owner/name")
    # The artifact the image bundles: the pre-traffic hook's known answers are computed from it.
    parser.add_argument("--model-artifact", type=Path, required=True, help="the gated model artifact")
    parser.add_argument("--out", type=Path, default=Path("cdk.out"))
    args = parser.parse_args(argv)
    try:
        account = credentials_account(args.accounts)
    except ReleaseError as error:
        parser.error(str(error))
    command = [
        "npx", "cdk", "synth", "**", "--quiet", "--output", str(args.out),
        "--context", f"image_digest={args.digest}",
        "--context", f"github_repository={args.github_repository}",
        "--context", f"model_artifact={args.model_artifact}",
    ]  # fmt: skip
    print("+ " + " ".join(command), flush=True)
    if subprocess.run(command, env={**os.environ, "CDK_DEFAULT_ACCOUNT": account}, check=False).returncode:
        raise ReleaseError("synthesis failed")
    pairs = [(stage, args.accounts[stage.name]) for stage in STAGES]
    write_github_output(fingerprint=verify(args.out, pairs, args.digest))


if __name__ == "__main__":
    run(main)
