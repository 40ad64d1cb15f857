"""The WAF in front of each API stage."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Template
from hypothesis import given
from hypothesis import strategies as st

from infra_cdk.protection import (
    BODY_SIZE_RULE,
    OVERSIZED_BODY_RULE,
    decimal_at_least_pattern,
    exact_paths_pattern,
)
from infra_cdk.settings import StageSettings
from model.core import contract
from tests.infra.cfn import one, props, ref_target, resources
from tests.infra.conftest import STACK_NAMES, Assembly

# A synchronous Lambda invocation carries at most 6 MB of event; API Gateway base64-encodes a binary body
# (x 4/3) and wraps it in a JSON event: only bodies well under 6 MB x 3/4 are sure to reach the function.
LAMBDA_SYNC_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024


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
    match = rate["ScopeDownStatement"]["RegexMatchStatement"]
    assert match["FieldToMatch"] == {"UriPath": {}}
    assert match["RegexString"] == exact_paths_pattern(settings.slug, contract.PUBLIC_PATHS)


@pytest.mark.parametrize("prefix", ["", "/staging"])
def test_the_public_paths_pattern_matches_those_paths_exactly(prefix: str) -> None:
    pattern = re.compile(exact_paths_pattern("staging", contract.PUBLIC_PATHS))
    for path in contract.PUBLIC_PATHS:
        assert pattern.search(prefix + path), prefix + path
    assert pattern.search("/staging")  # the stage's root without its slash
    for path in contract.PROTECTED_PATHS:
        for near in (path, path + "/", path + "/health", path.upper()):
            assert not pattern.search(prefix + near), prefix + near
    for other in ("/docs/", "/health/x", "/x/health", "/stagingx/health", "/v1/predict/", "//"):
        assert not pattern.search(prefix + other), prefix + other
    assert not pattern.search("/staging/staging")


def _regex_strings(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["RegexString"]] if "RegexString" in node else []
        return own + [found for value in node.values() for found in _regex_strings(value)]
    if isinstance(node, list):
        return [found for value in node for found in _regex_strings(value)]
    return []


def test_every_waf_regex_is_in_the_dialect_waf_accepts(assembly: Assembly) -> None:
    # WAF refuses capturing groups (and backreferences) at deployment; only a deployment would tell.
    patterns = [p for template in assembly.templates.values() for p in _regex_strings(template)]
    assert len(patterns) >= 2 * len(STACK_NAMES)
    for pattern in patterns:
        assert re.compile(pattern).groups == 0, pattern
        assert len(pattern) <= 200, pattern  # WAF's limit on one regex


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


def test_bodies_a_lambda_invocation_cannot_carry_get_a_413_in_the_error_shape_from_the_waf(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, acl = one(assembly.templates[STACK_NAMES[settings.name]], "AWS::WAFv2::WebACL")
    (rule,) = [r for r in props(acl)["Rules"] if r["Name"] == OVERSIZED_BODY_RULE]
    # Before the managed rules, so the answer is this rule's 413 whatever else the request trips.
    managed = [r["Priority"] for r in props(acl)["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]]
    assert rule["Priority"] < min(managed)
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == contract.ERRORS["payload_too_large"].status == 413
    body = props(acl)["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    error = json.loads(body["Content"])["error"]
    assert set(error) == {"code", "message", "details"}
    assert (error["code"], error["details"]) == ("payload_too_large", [])

    match = rule["Statement"]["RegexMatchStatement"]
    assert match["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    pattern = re.compile(match["RegexString"])
    # The function answers its own limit (413 from the function); a full 10 000-value batch passes.
    for length in (contract.BODY_MAX_BYTES, contract.BODY_MAX_BYTES + 1, 200_000, 0):
        assert not pattern.search(str(length)), length
    # Anything a synchronous invocation may not carry (a base64-encoded body grows by 4/3) is blocked,
    # up to REST API's own 10 MB maximum.
    for length in (LAMBDA_SYNC_PAYLOAD_MAX_BYTES * 3 // 4, LAMBDA_SYNC_PAYLOAD_MAX_BYTES, 10 * 1024 * 1024):
        assert pattern.search(str(length)), length


def test_the_edge_limit_lies_between_the_function_limit_and_what_lambda_can_carry() -> None:
    assert contract.BODY_MAX_BYTES < contract.EDGE_BODY_LIMIT_BYTES < LAMBDA_SYNC_PAYLOAD_MAX_BYTES * 3 // 4


@given(threshold=st.sampled_from([10, 2_000, 9_000, 2_000_000, 70_000_000]), n=st.integers(0, 10**10))
def test_the_content_length_pattern_matches_exactly_the_numbers_at_or_above_the_threshold(
    threshold: int, n: int
) -> None:
    pattern = re.compile(decimal_at_least_pattern(threshold))
    for text in (str(n), f"00{n}"):
        assert bool(pattern.search(text)) == (n >= threshold), text


@pytest.mark.parametrize("n", [2_000_000 - 1, 2_000_000, 9_999_999, 10_000_000])
def test_the_content_length_pattern_at_its_boundaries(n: int) -> None:
    assert bool(re.search(decimal_at_least_pattern(2_000_000), str(n))) == (n >= 2_000_000)


def test_only_round_thresholds_have_a_pattern() -> None:
    with pytest.raises(ValueError, match="single digit"):
        decimal_at_least_pattern(2_500_000)


def test_the_waf_log_group_name_is_stable_and_the_group_goes_with_its_stack(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    # WAF lists every log group it logs to in one account-wide resource policy of 5 120 characters that
    # nothing prunes: a stable name is listed once however often the stage is re-created. Being stable, the
    # group is deleted with its stack, so no retained group makes the next create fail with "already exists".
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    _, logging = one(template, "AWS::WAFv2::LoggingConfiguration")
    (destination,) = props(logging)["LogDestinationConfigs"]
    group_id = ref_target(destination["Fn::Join"][1][-1])
    group = resources(template, "AWS::Logs::LogGroup")[str(group_id)]
    assert props(group)["LogGroupName"] == f"aws-waf-logs-{contract.SERVICE_NAME}-{settings.slug}"
    assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Delete", "Delete")
    # WAF wants the group's ARN without the ":*" suffix.
    assert destination["Fn::Join"][1][-2] == ":log-group:"
