"""Release steps, run by the workflows in .github/ (and by hand, see docs/delivery.md), and what they share:
the error a step stops on, argument types that refuse a malformed value before any work, where a stage's
image lives in ECR, and the step outputs GitHub Actions reads."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra_cdk.identifiers import ACCOUNT, GITHUB_REPOSITORY, IMAGE_DIGEST
from infra_cdk.settings import STAGES, SettingsError, StageSettings, delivery_access_stacks, stage_named


class ReleaseError(Exception):
    """What stops a release step: its command prints the message and exits 1."""


def run(main: Callable[[], object]) -> None:
    try:
        main()
    except ReleaseError as error:
        sys.exit(f"{Path(sys.argv[0]).stem}: {error}")


# --- Argument types: argparse exits 2 with the message ---------------------------------------------------
def matching(pattern: re.Pattern[str], shape: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not pattern.match(value):
            raise argparse.ArgumentTypeError(f"{value!r} must look like {shape}")
        return value

    return parse


parse_digest = matching(IMAGE_DIGEST, "sha256:<64 hex digits>")
parse_github_repository = matching(GITHUB_REPOSITORY, "owner/name")


def parse_stage(name: str) -> StageSettings:
    try:
        return stage_named(name)
    except SettingsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_stage_account(pair: str) -> tuple[StageSettings, str]:
    """``STAGE=ACCOUNT``: the workflows pass each stage's account from a repository variable."""
    name, _, account = pair.partition("=")
    stage = parse_stage(name)
    if not ACCOUNT.match(account):
        raise argparse.ArgumentTypeError(f"{pair!r}: the account must be 12 digits (is its variable set?)")
    return stage, account


def stage_image(settings: StageSettings, account: str, reference: str) -> str:
    """The image `reference` (``@<digest>`` or ``:<tag>``) in the stage's bootstrap repository, in its
    account: where the release pushes it and the stage's function pulls it from."""
    repository = settings.container_assets_repository(account)
    return f"{account}.dkr.ecr.{settings.region}.amazonaws.com/{repository}{reference}"


def caller_account(settings: StageSettings, sts: Any) -> tuple[str, str]:
    """(account, partition) of the credentials behind ``sts``, which must be the stage's account where its
    settings name one: the preflight and the push refuse another account in the same words."""
    identity = sts.get_caller_identity()
    account, partition = str(identity["Account"]), str(identity["Arn"]).split(":")[1]
    if settings.account not in (None, account):
        raise ReleaseError(
            f"the credentials are for account {account}, {settings.name} deploys to {settings.account}"
        )
    return account, partition


def write_github_output(**values: str) -> None:
    """Appends ``key=value`` lines to the file GitHub Actions reads a step's outputs from, if there is one."""
    if path := os.environ.get("GITHUB_OUTPUT"):
        with Path(path).open("a", encoding="utf-8") as output:
            output.writelines(f"{key}={value}\n" for key, value in values.items())


def stack_region(stack_name: str) -> str | None:
    """The settings' region of a stage's or a DeliveryAccess stack, None for another: the one region rule, so
    the CLI's default region and AWS_REGION never send a command of the project to look elsewhere."""
    regions = {stage.stack_name: stage.region for stage in STAGES}
    regions |= {name: group[0].region for name, group in delivery_access_stacks(STAGES).items()}
    return regions.get(stack_name)
