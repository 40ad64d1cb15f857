"""docs/deploy.md's first deployment is a procedure a new user follows to the letter: its commands come in
an order that works on an empty account and a fresh clone, and say what the project's tools need."""

from __future__ import annotations

import re

from scripts import REPO_ROOT

DEPLOY = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
COMMANDS = [
    line.split(" #")[0].strip()
    for block in re.findall(r"```sh\n(.*?)```", DEPLOY, flags=re.DOTALL)
    for line in block.replace("\\\n", " ").splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def first(command: str) -> int:
    return next(i for i, line in enumerate(COMMANDS) if line.startswith(command))


def test_the_steps_come_in_an_order_that_works_from_a_fresh_clone_and_an_empty_account():
    # The app (which every CDK command runs, bootstrap included) needs the trained model; the account-level
    # checks run before the bootstrap and DeliveryAccess change the account; the full preflight after them
    order = [
        first("python -m model.train"),
        first("python -m scripts.release.preflight --stage Staging --before-setup"),
        first("npx cdk bootstrap"),
        first("npx cdk deploy DeliveryAccess"),
        first("python -m scripts.release.preflight --stage Staging --github-repository"),
        first("git push"),
    ]
    assert order == sorted(order)


def test_the_delivery_access_is_deployed_with_the_repositorys_immutable_ids_by_default():
    gh = first("REPOSITORY=$(gh api repos/OWNER/NAME")
    assert ".owner.id" in COMMANDS[gh]
    assert "(.id)" in COMMANDS[gh]
    deliveries = [line for line in COMMANDS if line.startswith("npx cdk deploy DeliveryAccess")]
    assert deliveries
    assert all(line.endswith('-c github_repository="$REPOSITORY"') for line in deliveries)
    assert gh < first("npx cdk deploy DeliveryAccess")


def test_the_path_line_puts_on_path_what_the_test_command_does():
    (export,) = [line for line in COMMANDS if line.startswith("export PATH=")]
    test_command = (REPO_ROOT / "scripts" / "test").read_text(encoding="utf-8")
    (setup_path,) = re.findall(r'export PATH="([^"]+)"', test_command)
    assert export.removeprefix("export PATH=") == setup_path


def test_the_first_push_works_from_a_clone_of_this_repository():
    assert not any(line.startswith("git remote add origin") for line in COMMANDS)
    assert first("git remote set-url origin") < first("git push")


def test_every_regional_aws_command_names_its_region():
    # One region rule: the project's own commands read it from the settings; raw `aws` commands say it
    regional = re.compile(r"^aws (cloudformation|logs|sns|cloudwatch|lambda|service-quotas|ecr|deploy|kms) ")
    for line in COMMANDS:
        if regional.match(line):
            assert "--region" in line, line
