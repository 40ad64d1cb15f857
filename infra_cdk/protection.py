"""The web application firewall in front of the API stage: per-IP rate limits, bodies the function could
never receive, AWS managed rules (docs/deploy.md, "Protection"). WAF's regexes are PCRE without capturing
groups (its API refuses them): every group here is ``(?:``."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Final

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra_cdk.log_groups import stage_log_group
from infra_cdk.settings import StageSettings
from model.core import contract

BODY_SIZE_RULE = "SizeRestrictions_BODY"
OVERSIZED_BODY_RULE = "BlockBodiesLambdaCannotReceive"
PAYLOAD_TOO_LARGE: Final = "payload_too_large"
_WAF = wafv2.CfnWebACL  # every property type of a web ACL is declared on it
_Rule = tuple[str, _WAF.StatementProperty, _WAF.RuleActionProperty | None]  # name, statement, action


def decimal_at_least_pattern(threshold: int) -> str:
    """A regex matching the decimal integers >= ``threshold``, which must be of the form ``d x 10^k``."""
    digits = str(threshold)
    lead, rest = digits[0], digits[1:]
    if lead == "0" or rest.strip("0"):
        raise ValueError(f"{threshold} is not a single digit followed by zeros")
    k = len(rest)
    return f"^0*(?:[{lead}-9][0-9]{{{k}}}|[1-9][0-9]{{{k + 1},}})$"


def exact_paths_pattern(stage_slug: str, paths: Collection[str]) -> str:
    """A regex matching exactly ``paths``, with or without the ``/<stage>`` prefix (the execute-api
    endpoint's paths carry it); the root ``/`` also as the bare ``/<stage>``. Nothing else: a suffix match
    would let ``/`` stand for every path that ends in a slash."""
    alternatives = "|".join(re.escape(path) for path in sorted(paths))
    root = f"|^/{re.escape(stage_slug)}$" if "/" in paths else ""
    return f"^(?:/{re.escape(stage_slug)})?(?:{alternatives})${root}"


class WebProtection(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        stage: apigw.Stage,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._metric_prefix = f"{contract.METRICS_NAMESPACE}-{settings.slug}"
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=_WAF.DefaultActionProperty(allow={}),
            visibility_config=self._visibility("WebAcl"),
            rules=self._rules(),
            custom_response_bodies={
                PAYLOAD_TOO_LARGE: _WAF.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=_payload_too_large_body()
                )
            },
        )
        wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        self._build_logging(key)

    def _rules(self) -> list[_WAF.RuleProperty]:
        settings, block = self._settings, _WAF.RuleActionProperty(block={})
        # The routes anyone may call without a signature get a tighter per-IP budget of their own, so
        # unauthenticated traffic cannot use up the stage's throttle at the expense of signed callers.
        public = _regex_match(
            _WAF.FieldToMatchProperty(uri_path={}),
            exact_paths_pattern(settings.slug, contract.PUBLIC_PATHS),
            "URL_DECODE",  # so that a percent-encoded public path still meets the public budget
        )
        # A REST API accepts bodies up to 10 MB, a synchronous Lambda invocation at most 6 MB: API Gateway
        # itself would answer ~6-10 MB with a 5XX (which the rollback alarm counts). Blocked first, with a 413
        # in the error shape, by the declared length (WAF inspects only a body's first kilobytes): with a
        # Content-Length, the body is never longer than it says (any further bytes would be the next
        # request). A request without one (chunked, or HTTP/2 without the header) meets API Gateway's limits.
        oversized = _regex_match(
            _WAF.FieldToMatchProperty(single_header={"Name": "content-length"}),
            decimal_at_least_pattern(contract.EDGE_BODY_LIMIT_BYTES),
            "NONE",
        )
        too_large = _WAF.CustomResponseProperty(
            response_code=contract.ERRORS[PAYLOAD_TOO_LARGE].status,
            custom_response_body_key=PAYLOAD_TOO_LARGE,
        )
        # COUNT, not BLOCK: a legitimate batch of 10 000 BMIs (~100-200 KB of JSON) is far over this rule's
        # 8 KB; it still shows in metrics and logs, and the function enforces the real limit (its own 413).
        count_body_size = _WAF.RuleActionOverrideProperty(
            name=BODY_SIZE_RULE, action_to_use=_WAF.RuleActionProperty(count={})
        )
        block_too_large = _WAF.RuleActionProperty(block=_WAF.BlockActionProperty(custom_response=too_large))
        # In evaluation order: a rule's priority is its place here.
        rules: list[_Rule] = [
            ("RateLimitPerIp", _per_ip(settings.waf_rate_limit_per_5_minutes_per_ip), block),
            (
                "RateLimitPublicRoutesPerIp",
                _per_ip(settings.waf_public_rate_limit_per_5_minutes_per_ip, scope_down=public),
                block,
            ),
            (OVERSIZED_BODY_RULE, oversized, block_too_large),
            _managed("AWSManagedRulesCommonRuleSet", [count_body_size]),
            # Known bad inputs (Log4Shell and friends): cheap, and what checkov's CKV_AWS_192 asks for.
            _managed("AWSManagedRulesKnownBadInputsRuleSet"),
        ]
        return [
            _WAF.RuleProperty(
                name=name,
                priority=priority,
                action=action,
                override_action=_WAF.OverrideActionProperty(none={}) if action is None else None,
                statement=statement,
                visibility_config=self._visibility(name),
            )
            for priority, (name, statement, action) in enumerate(rules)
        ]

    def _visibility(self, name: str) -> _WAF.VisibilityConfigProperty:
        return _WAF.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True,
            metric_name=f"{self._metric_prefix}-{name}",
            sampled_requests_enabled=True,
        )

    def _build_logging(self, key: kms.IKey) -> None:
        # WAF logs only to log groups named aws-waf-logs-*, addressed by an ARN without the ":*" suffix, and
        # lists each one in an account-wide CloudWatch Logs resource policy of 5 120 characters that nothing
        # ever prunes: the name is stable, so re-creating the stage adds nothing there. Being named, the group
        # goes with its stack in every stage (stage_log_group); the API's access log, retained where the stage
        # retains data, records every request, and these lines are only the blocked and counted ones.
        group = stage_log_group(
            self, "Logs", settings=self._settings, key=key, name=self._settings.waf_log_group_name
        )
        arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[arn],
            # Only requests a rule blocked or counted: the API's access log already records every request,
            # and logging all of them twice would be the largest log cost at scale (docs/deploy.md).
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [
                    {
                        "Behavior": "KEEP",
                        "Requirement": "MEETS_ANY",
                        "Conditions": [
                            {"ActionCondition": {"Action": "BLOCK"}},
                            {"ActionCondition": {"Action": "COUNT"}},
                        ],
                    }
                ],
            },
            # SigV4 signatures are credentials-derived; never write them to logs.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in ("authorization", "x-amz-security-token")
            ],
        )
        logging.node.add_dependency(group)


def _per_ip(limit: int, scope_down: _WAF.StatementProperty | None = None) -> _WAF.StatementProperty:
    return _WAF.StatementProperty(
        rate_based_statement=_WAF.RateBasedStatementProperty(
            aggregate_key_type="IP", limit=limit, evaluation_window_sec=300, scope_down_statement=scope_down
        )
    )


def _managed(name: str, overrides: list[_WAF.RuleActionOverrideProperty] | None = None) -> _Rule:
    """The rule running AWS's managed rule group ``name``: the group's rules act, the rule overrides none."""
    group = _WAF.ManagedRuleGroupStatementProperty(
        vendor_name="AWS", name=name, rule_action_overrides=overrides
    )
    return name, _WAF.StatementProperty(managed_rule_group_statement=group), None


def _regex_match(field: _WAF.FieldToMatchProperty, regex: str, transformation: str) -> _WAF.StatementProperty:
    return _WAF.StatementProperty(
        regex_match_statement=_WAF.RegexMatchStatementProperty(
            field_to_match=field,
            regex_string=regex,
            text_transformations=[_WAF.TextTransformationProperty(priority=0, type=transformation)],
        )
    )


def _payload_too_large_body() -> str:
    message = (
        f"The request body is too large: this service accepts at most {contract.BODY_MAX_BYTES} bytes, and "
        f"refuses any request declaring {contract.EDGE_BODY_LIMIT_BYTES} bytes or more before it is read."
    )
    return json.dumps(contract.error_body(PAYLOAD_TOO_LARGE, message))
