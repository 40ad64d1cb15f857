"""Stage settings: the defined stages are valid, overrides apply, every bad override is refused clearly."""

from __future__ import annotations

import dataclasses

import pytest

from infra_cdk.settings import GITHUB_REPOSITORY, STAGES, SettingsError, StageSettings, resolve_stages


def by_name(stages: tuple[StageSettings, ...]) -> dict[str, StageSettings]:
    return {s.name: s for s in stages}


def test_without_overrides_the_defined_stages_are_used() -> None:
    assert resolve_stages(None) == resolve_stages("") == resolve_stages({}) == STAGES
    assert [s.name for s in STAGES] == ["Staging", "Production"]
    assert [s.slug for s in STAGES] == ["staging", "production"]


def test_overrides_from_a_json_string_change_only_the_named_field_of_the_named_stage() -> None:
    # Given the context value as the CDK CLI passes it (-c stage_overrides='...')
    stages = by_name(resolve_stages('{"Production": {"memory_mb": 2048, "alarm_5xx_rate_percent": 2}}'))
    # Then Production changed (an int is accepted for a float field), Staging did not
    assert stages["Production"].memory_mb == 2048
    assert stages["Production"].alarm_5xx_rate_percent == 2.0
    assert stages["Staging"] == STAGES[0]
    assert (
        dataclasses.replace(stages["Production"], memory_mb=STAGES[1].memory_mb, alarm_5xx_rate_percent=1.0)
        == (STAGES[1])
    )


def test_list_overrides_become_tuples_and_optional_fields_accept_values() -> None:
    role = "arn:aws:iam::123456789012:role/analytics"
    stages = by_name(
        resolve_stages(
            {"Staging": {"invoker_principals": [role], "account": "123456789012", "waf_enabled": False}}
        )
    )
    assert stages["Staging"].invoker_principals == (role,)
    assert stages["Staging"].account == "123456789012"
    assert stages["Staging"].waf_enabled is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["Production"]', "must map stage names to objects"),
        ('{"Production": 1024}', "must map stage names to objects"),
        ('{"Prod": {"memory_mb": 1024}}', "unknown stages ['Prod']"),
        ('{"Production": {"memory": 1024}}', "unknown setting 'memory'"),
        ('{"Production": {"name": "Other"}}', "'name' is the stage's identity, not a setting"),
        ('{"Production": {"slug": "prod"}}', "'slug' is the stage's identity, not a setting"),
        ('{"Production": {"memory_mb": "1024"}}', "memory_mb: expected int, got '1024'"),
        ('{"Production": {"memory_mb": true}}', "memory_mb: expected int, got True"),
        ('{"Production": {"memory_mb": 1024.5}}', "memory_mb: expected int"),
        ('{"Production": {"memory_mb": 64}}', "memory_mb 64 must be between 128 and 10240"),
        ('{"Production": {"timeout_seconds": 60}}', "timeout_seconds 60 must be between 1 and 29"),
        ('{"Production": {"deployment_strategy": "yolo"}}', "'yolo' is not one of"),
        (
            '{"Production": {"log_retention_days": 42}}',
            "log_retention_days 42 is not one CloudWatch Logs accepts",
        ),
        (
            '{"Production": {"throttle_burst": 10}}',
            "throttle_burst must be at least throttle_rate_per_second",
        ),
        ('{"Production": {"invoker_principals": "arn:aws:iam::123456789012:root"}}', "expected a list"),
        ('{"Production": {"invoker_principals": ["*"]}}', "is not an IAM account, role or user ARN"),
        ('{"Production": {"account": "12345"}}', "account '12345' must be 12 digits"),
        ('{"Production": {"region": "mars-1"}}', "region 'mars-1' is not an AWS region name"),
        ('{"Production": {"waf_enabled": "yes"}}', "waf_enabled: expected bool"),
        (
            '{"Production": {"waf_public_rate_limit_per_5_minutes_per_ip": 5000}}',
            "waf_public_rate_limit_per_5_minutes_per_ip 5000 must be between 10 and 1000",
        ),
    ],
)
def test_a_bad_override_stops_synthesis_with_a_message_naming_it(overrides: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        resolve_stages(overrides)
    assert message in str(raised.value)


def test_errors_name_the_stage() -> None:
    with pytest.raises(SettingsError, match=r"stage 'Production': .*reserved_concurrency 0"):
        resolve_stages({"Production": {"reserved_concurrency": 0}})


def test_settings_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        STAGES[0].memory_mb = 1  # type: ignore[misc]


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "cn-northwest-1", "us-isob-east-1"])
def test_a_region_of_any_partition_is_accepted(region: str) -> None:
    (_, production) = resolve_stages({"Production": {"region": region}})
    assert production.region == region


@pytest.mark.parametrize(
    ("repository", "valid"),
    [
        ("example-org/diabetes-progression", True),
        ("Example-Org2/diabetes_progression.v2", True),  # repository names may hold "_" and "."
        ("example_org/diabetes", False),  # owner names may not
        ("example.org/diabetes", False),
        ("example-org", False),
        ("example-org/diabetes/extra", False),
    ],
)
def test_github_repository_names_follow_githubs_rules(repository: str, valid: bool) -> None:
    assert bool(GITHUB_REPOSITORY.match(repository)) is valid
