"""The WAF in front of each API stage."""

from __future__ import annotations

from aws_cdk.assertions import Template

from infra_cdk.protection import BODY_SIZE_RULE
from infra_cdk.settings import StageSettings
from lambda_fn import contract
from tests.infra.cfn import one, props, ref_target
from tests.infra.conftest import STACK_NAMES, Assembly


def test_a_regional_web_acl_rate_limits_per_ip_and_applies_the_managed_rules(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    assert settings.waf_enabled
    _, acl = one(assembly.templates[STACK_NAMES[settings.name]], "AWS::WAFv2::WebACL")
    rules = {r["Name"]: r for r in props(acl)["Rules"]}
    assert props(acl)["Scope"] == "REGIONAL"
    assert props(acl)["DefaultAction"] == {"Allow": {}}
    rate = rules["RateLimitPerIp"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == settings.waf_rate_limit_per_5_minutes_per_ip
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)
    assert len({r["Priority"] for r in rules.values()}) == len(rules)


def test_unauthenticated_routes_have_a_tighter_rate_limit_of_their_own(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, acl = one(assembly.templates[STACK_NAMES[settings.name]], "AWS::WAFv2::WebACL")
    (rule,) = [r for r in props(acl)["Rules"] if r["Name"] == "RateLimitPublicRoutesPerIp"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rule["Action"] == {"Block": {}}
    assert rate["Limit"] == settings.waf_public_rate_limit_per_5_minutes_per_ip
    assert rate["Limit"] < settings.waf_rate_limit_per_5_minutes_per_ip
    matched = {
        s["ByteMatchStatement"]["SearchString"]
        for s in rate["ScopeDownStatement"]["OrStatement"]["Statements"]
    }
    assert matched == set(contract.PUBLIC_PATHS)


def test_the_8_kb_body_rule_only_counts_so_full_batches_pass(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, acl = one(assembly.templates[STACK_NAMES[settings.name]], "AWS::WAFv2::WebACL")
    (common,) = [r for r in props(acl)["Rules"] if r["Name"] == "AWSManagedRulesCommonRuleSet"]
    overrides = common["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert overrides == [{"Name": BODY_SIZE_RULE, "ActionToUse": {"Count": {}}}]
    assert common["OverrideAction"] == {"None": {}}  # every other rule of the group still blocks


def test_the_web_acl_is_associated_with_the_api_stage_and_logs_without_credentials(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    acl_id, _ = one(template, "AWS::WAFv2::WebACL")
    stage_id, _ = one(template, "AWS::ApiGateway::Stage")
    _, association = one(template, "AWS::WAFv2::WebACLAssociation")
    assert ref_target(props(association)["WebACLArn"]) == acl_id
    assert stage_id in str(props(association)["ResourceArn"])
    _, logging = one(template, "AWS::WAFv2::LoggingConfiguration")
    assert ref_target(props(logging)["ResourceArn"]) == acl_id
    redacted = {f["SingleHeader"]["Name"] for f in props(logging)["RedactedFields"]}
    assert redacted == {"authorization", "x-amz-security-token"}
    # Only what a rule blocked or counted is kept; the access log has every request already.
    log_filter = props(logging)["LoggingFilter"]
    assert log_filter["DefaultBehavior"] == "DROP"
    (keep,) = log_filter["Filters"]
    assert keep["Behavior"] == "KEEP"
    assert {c["ActionCondition"]["Action"] for c in keep["Conditions"]} == {"BLOCK", "COUNT"}
