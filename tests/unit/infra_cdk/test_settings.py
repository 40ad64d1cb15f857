"""Stage settings: every bad value is refused with a message naming the stage and the field, stages that could
not be deployed side by side are refused, and identifiers are checked by GitHub's and AWS's rules."""

from __future__ import annotations

import dataclasses

import pytest

from infra_cdk.identifiers import GITHUB_REPOSITORY
from infra_cdk.settings import SettingsError, check_stages, stage_named, stages_by_account

STAGING, PRODUCTION = (stage_named(name) for name in ("Staging", "Production"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"memory_mb": 64}, "memory_mb 64 must be between 128 and 10240"),
        ({"timeout_seconds": 60}, "timeout_seconds 60 must be between 1 and 29"),
        ({"reserved_concurrency": 0}, "reserved_concurrency 0 must be between 1 and 1000"),
        ({"log_retention_days": 42}, "log_retention_days 42 is not one CloudWatch Logs accepts"),
        ({"throttle_burst": 10}, "throttle_burst must be at least throttle_rate_per_second"),
        ({"invoker_principals": ("*",)}, "is not an IAM account, role or user ARN"),
        ({"account": "12345"}, "account '12345' must be 12 digits"),
        ({"region": "mars-1"}, "region 'mars-1' is not an AWS region name"),
        ({"bootstrap_qualifier": "Prod"}, "bootstrap_qualifier 'Prod': 1 to 10 lower-case letters or digits"),
        ({"bootstrap_qualifier": "a" * 11}, "1 to 10 lower-case letters or digits"),
        ({"alarm_subscribers": ("oncall",)}, "'oncall' is not an e-mail address or https:// URL"),
        ({"alarm_subscribers": ("http://hooks.example.org",)}, "is not an e-mail address or https://"),
        (
            {"waf_public_rate_limit_per_5_minutes_per_ip": 5000},
            "waf_public_rate_limit_per_5_minutes_per_ip must be at most the stage's rate limit",
        ),
        ({"waf_public_rate_limit_per_5_minutes_per_ip": 5}, "must be between 10 and 2000000000"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_naming_the_stage_and_field(change: dict, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        dataclasses.replace(PRODUCTION, **change)
    assert str(raised.value).startswith("stage 'Production': ")
    assert message in str(raised.value)


def test_stages_sharing_one_account_need_their_own_bootstrap_qualifiers() -> None:
    # Given both stages in the account of the credentials, one bootstrap between them
    same = dataclasses.replace(PRODUCTION, bootstrap_qualifier=STAGING.bootstrap_qualifier)
    # Then the staging delivery role could assume the roles Production deploys with: refused
    with pytest.raises(SettingsError, match="need their own bootstrap_qualifier"):
        check_stages((STAGING, same))
    with pytest.raises(SettingsError, match="in account 111111111111 need their own bootstrap_qualifier"):
        check_stages(
            (
                dataclasses.replace(STAGING, account="111111111111", bootstrap_qualifier="hnb659fds"),
                dataclasses.replace(PRODUCTION, account="111111111111", bootstrap_qualifier="hnb659fds"),
            )
        )


def test_with_one_account_per_stage_each_may_use_the_default_bootstrap() -> None:
    stages = check_stages(
        (
            dataclasses.replace(STAGING, account="111111111111", bootstrap_qualifier="hnb659fds"),
            dataclasses.replace(PRODUCTION, account="222222222222", bootstrap_qualifier="hnb659fds"),
        )
    )
    assert list(stages_by_account(stages)) == ["111111111111", "222222222222"]


def test_accounts_are_set_on_every_stage_or_on_none() -> None:
    with pytest.raises(SettingsError, match="set `account` on every stage"):
        check_stages((STAGING, dataclasses.replace(PRODUCTION, account="222222222222")))


def test_stages_sharing_an_account_share_its_delivery_access_and_so_its_region() -> None:
    # The delivery roles' permissions name one region; a stage elsewhere would meet AccessDenied.
    with pytest.raises(
        SettingsError, match=r"share one DeliveryAccess stack and so one region, not \['eu-west-1'"
    ):
        check_stages((STAGING, dataclasses.replace(PRODUCTION, region="us-east-1")))
    # In accounts of their own, stages may live in different regions.
    check_stages(
        (
            dataclasses.replace(STAGING, account="111111111111"),
            dataclasses.replace(PRODUCTION, account="222222222222", region="us-east-1"),
        )
    )


def test_names_and_slugs_are_unique() -> None:
    with pytest.raises(SettingsError, match="every stage needs its own slug"):
        check_stages((STAGING, dataclasses.replace(PRODUCTION, slug="staging")))


def test_only_the_default_bootstrap_keeps_cdks_toolkit_stack_name() -> None:
    assert dataclasses.replace(STAGING, bootstrap_qualifier="hnb659fds").toolkit_stack_name == "CDKToolkit"
    # A second bootstrap in one account and region needs a stack of its own, or it replaces the first.
    assert STAGING.toolkit_stack_name != PRODUCTION.toolkit_stack_name


def test_an_unknown_stage_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(SettingsError, match=r"no stage 'Prod'; stages: \['Staging', 'Production'\]"):
        stage_named("Prod")


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "cn-northwest-1", "us-isob-east-1"])
def test_a_region_of_any_partition_is_accepted(region: str) -> None:
    assert dataclasses.replace(PRODUCTION, region=region).region == region


@pytest.mark.parametrize(
    ("repository", "valid"),
    [
        ("example-org/diabetes-progression", True),
        ("Example-Org2/diabetes_progression.v2", True),  # repository names may hold "_" and "."
        ("example_org/diabetes", False),  # owner names may not
        ("example.org/diabetes", False),
        ("example-org", False),
        ("example-org/diabetes/extra", False),
        ("example-org@1234/diabetes@5678", True),  # the immutable subject of repositories from 15 July 2026
        ("example-org@1234/diabetes", False),
        ("example-org@/diabetes@5678", False),
    ],
)
def test_github_repository_names_follow_githubs_rules(repository: str, valid: bool) -> None:
    assert bool(GITHUB_REPOSITORY.match(repository)) is valid
