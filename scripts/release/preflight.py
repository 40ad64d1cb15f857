"""Preflight: what a stage's deployment depends on in its AWS account, checked with read-only calls.

Prints one line per problem with the command that fixes it. When to run it, with whose credentials, and what
it checks: docs/deploy.md, steps 4 (``--before-setup``) and 7; its region: the "One region rule" there.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra_cdk.settings import STAGES, StageSettings, delivery_access_stacks
from scripts.release import ReleaseError, caller_account, parse_github_repository, parse_stage, run
from scripts.release.preflight_checks import BEFORE_SETUP, CHECKS, Problem, Target


def preflight(
    settings: StageSettings,
    client: Callable[[str], Any],
    *,
    before_setup: bool = False,
    github_repository: str | None = None,
) -> list[Problem]:
    """Every problem the stage's deployment would meet; [] when it is ready."""
    try:
        account, partition = caller_account(settings, client("sts"))
    except (BotoCoreError, ClientError) as error:  # no credentials at all, expired ones, a broken profile
        fix = "aws sso login --profile <name> && export AWS_PROFILE=<name>  (once: aws configure sso)"
        return [Problem(f"no usable AWS credentials ({error}).", fix)]
    except ReleaseError as error:  # another account than the stage's
        return [Problem(f"{error}.", f"export AWS_PROFILE=<a profile of account {settings.account}>")]
    where = f"{account}/{settings.region}"
    access_stack = next(
        name
        for name, group in delivery_access_stacks(STAGES).items()
        if settings.name in {s.name for s in group}
    )
    bootstrap_command = (
        f"npx cdk bootstrap aws://{where} --qualifier {settings.bootstrap_qualifier} "
        f"--toolkit-stack-name {settings.toolkit_stack_name}"
    )
    access_command = (
        f"npx cdk deploy {access_stack} -c github_repository={github_repository or 'OWNER@ID/NAME@ID'}"
    )
    target = Target(
        settings, account, partition, client, where, bootstrap_command, access_command, before_setup,
        github_repository,
    )  # fmt: skip
    problems: list[Problem] = []
    for check in BEFORE_SETUP if before_setup else CHECKS:
        try:
            problems += check(target)
        except (BotoCoreError, ClientError) as error:  # AccessDenied and the like: say which check
            fix = "run with credentials that may (an administrator's), or redeploy DeliveryAccess, which "
            fix += f"grants the delivery role these reads: {access_command}"
            problems.append(Problem(f"{check.__name__} could not read {where}: {error}.", fix))
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=parse_stage, required=True, help="a stage of infra_cdk/settings.py")
    parser.add_argument(
        "--github-repository",
        type=parse_github_repository,
        help="as GitHub's OIDC subject names it, OWNER@<owner id>/NAME@<repository id> (or OWNER/NAME for a "
        "repository without immutable subjects): the delivery role must trust exactly it",
    )
    parser.add_argument(
        "--before-setup", action="store_true", help="before the bootstrap and DeliveryAccess (docs/deploy.md)"
    )
    args = parser.parse_args(argv)
    settings: StageSettings = args.stage
    try:
        session = boto3.Session()
    except BotoCoreError as error:  # AWS_PROFILE names a profile that does not exist
        fix = "export AWS_PROFILE=<a profile of aws configure list-profiles>"
        problems = [Problem(f"no usable AWS credentials ({error}).", fix)]
    else:
        problems = preflight(
            settings,
            functools.partial(session.client, region_name=settings.region),
            before_setup=args.before_setup,
            github_repository=args.github_repository,
        )
    for problem in problems:
        print(f"PROBLEM {problem.what} FIX: {problem.fix}")
    if problems:
        raise ReleaseError(f"{settings.name}: {len(problems)} problem(s)")
    phase = "for the setup" if args.before_setup else f"(bootstrap {settings.bootstrap_qualifier})"
    print(f"preflight {settings.name}: ready {phase} in {settings.region}")


if __name__ == "__main__":
    run(main)
