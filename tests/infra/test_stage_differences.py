"""How Staging and Production differ, by design, and what they deliberately share."""

from __future__ import annotations

import json

from infra_cdk.settings import STAGES
from tests.infra.cfn import one, props, resources
from tests.infra.conftest import STACK_NAMES, Assembly


def image_function(template: dict) -> dict:
    return next(
        props(f)
        for f in resources(template, "AWS::Lambda::Function").values()
        if props(f).get("PackageType") == "Image"
    )


def test_production_shifts_by_canary_and_staging_all_at_once(assembly: Assembly) -> None:
    staging, production = (assembly.templates[STACK_NAMES[s.name]] for s in STAGES)
    assert props(one(staging, "AWS::CodeDeploy::DeploymentGroup")[1])["DeploymentConfigName"] == (
        "CodeDeployDefault.LambdaAllAtOnce"
    )
    assert props(one(production, "AWS::CodeDeploy::DeploymentGroup")[1])["DeploymentConfigName"] == (
        "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    )


def reservations(template: dict) -> list[int | None]:
    return sorted(
        (
            props(f).get("ReservedConcurrentExecutions")
            for f in resources(template, "AWS::Lambda::Function").values()
        ),
        key=str,
    )


def test_production_reserves_a_ceiling_and_staging_reserves_nothing(assembly: Assembly) -> None:
    # Staging must deploy on a new account whose whole quota (10) has to stay unreserved: neither its
    # function nor its hook reserves. Production's ceiling counts against the quota with its hook's slots,
    # exactly what the preflight checks against the account (StageSettings.reserved_concurrency_total).
    staging_settings, production_settings = STAGES
    staging, production = (assembly.templates[STACK_NAMES[s.name]] for s in STAGES)
    assert reservations(staging) == [None, None]
    assert production_settings.reserved_concurrency is not None
    assert sum(r or 0 for r in reservations(production)) == production_settings.reserved_concurrency_total
    assert (
        image_function(production)["ReservedConcurrentExecutions"] == production_settings.reserved_concurrency
    )
    assert staging_settings.reserved_concurrency_total == 0


def test_production_has_more_capacity_longer_logs_and_keeps_its_data(assembly: Assembly) -> None:
    staging, production = (assembly.templates[STACK_NAMES[s.name]] for s in STAGES)
    stage_settings = [
        props(one(t, "AWS::ApiGateway::Stage")[1])["MethodSettings"][0] for t in (staging, production)
    ]
    assert stage_settings[1]["ThrottlingRateLimit"] > stage_settings[0]["ThrottlingRateLimit"]
    retention = [
        {props(g)["RetentionInDays"] for g in resources(t, "AWS::Logs::LogGroup").values()}
        for t in (staging, production)
    ]
    assert retention == [{30}, {365}]
    assert {g["DeletionPolicy"] for g in resources(staging, "AWS::Logs::LogGroup").values()} == {"Delete"}
    kept = {
        props(g)["LogGroupName"] if isinstance(props(g).get("LogGroupName"), str) else "generated": g[
            "DeletionPolicy"
        ]
        for g in resources(production, "AWS::Logs::LogGroup").values()
    }
    assert set(kept.values()) == {"Retain", "Delete"}
    assert [name for name, policy in kept.items() if policy == "Delete"] == [STAGES[1].waf_log_group_name]
    assert one(production, "AWS::KMS::Key")[1]["DeletionPolicy"] == "Retain"


def test_both_stages_share_the_function_sizing_and_the_waf(assembly: Assembly) -> None:
    # Same memory (CPU) so Staging's latency predicts Production's; the WAF in Staging lets the end-to-end
    # suite prove that the managed rules do not block full-size batches before Production sees them.
    staging, production = (assembly.templates[STACK_NAMES[s.name]] for s in STAGES)
    assert image_function(staging)["MemorySize"] == image_function(production)["MemorySize"]
    assert (
        image_function(staging)["Architectures"] == image_function(production)["Architectures"] == ["arm64"]
    )
    for template in (staging, production):
        one(template, "AWS::WAFv2::WebACLAssociation")


def test_each_stage_only_knows_its_own_names(assembly: Assembly) -> None:
    staging, production = (assembly.templates[STACK_NAMES[s.name]] for s in STAGES)
    assert image_function(staging)["Environment"]["Variables"]["STAGE"] == "staging"
    assert image_function(production)["Environment"]["Variables"]["STAGE"] == "production"
    for template, other in ((staging, "production"), (production, "staging")):
        properties = json.dumps([r.get("Properties", {}) for r in template["Resources"].values()])
        assert other not in properties.lower()
