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


def test_production_has_more_capacity_longer_logs_and_keeps_its_data(assembly: Assembly) -> None:
    staging, production = (assembly.templates[STACK_NAMES[s.name]] for s in STAGES)
    assert (
        image_function(production)["ReservedConcurrentExecutions"]
        > image_function(staging)["ReservedConcurrentExecutions"]
    )
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
    assert {g["DeletionPolicy"] for g in resources(production, "AWS::Logs::LogGroup").values()} == {"Retain"}
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
