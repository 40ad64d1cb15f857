"""The web application firewall in front of the API stage: per-IP rate limiting, oversized bodies, AWS managed
rules.

AWSManagedRulesCommonRuleSet's ``SizeRestrictions_BODY`` blocks any body over 8 KB. A legitimate batch of
10 000 BMI values (contract.BATCH_MAX) is ~100-200 KB of JSON, so that one rule is overridden to COUNT: it
still shows in metrics and logs, and the function enforces the real limit (contract.BODY_MAX_BYTES -> 413).

The function can only enforce that limit on bodies it receives, though. A REST API accepts up to 10 MB, but a
synchronous Lambda invocation carries at most 6 MB, so API Gateway itself would answer a body of ~6-10 MB
with a 5XX (which also counts toward the 5XX rollback alarm). WAF blocks those first with a 413 in the
service's error shape, by the ``Content-Length`` header (WAF inspects only the first kilobytes of a body).
"""

from __future__ import annotations

import json
from typing import Final

from aws_cdk import ArnFormat, Aws, Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra_cdk.log_groups import stage_log_group
from infra_cdk.settings import StageSettings
from lambda_fn import contract

BODY_SIZE_RULE = "SizeRestrictions_BODY"
OVERSIZED_BODY_RULE = "BlockBodiesLambdaCannotReceive"

# A synchronous Lambda invocation carries at most 6 MB of event; API Gateway base64-encodes a binary body
# (x 4/3) and wraps it in a JSON event with the headers, so only bodies well under 6 MB / (4/3) = 4.5 MB are
# certain to reach the function.
LAMBDA_SYNC_PAYLOAD_MAX_BYTES: Final = 6 * 1024 * 1024
_BASE64_GROWTH: Final = 4 / 3


def oversized_body_threshold(body_max_bytes: int = contract.BODY_MAX_BYTES) -> int:
    """The smallest ``d x 10^k`` above the function's own limit: the function still answers everything up to
    and a little past its limit (its own 413), and the threshold has a short, exact decimal regex."""
    unit = int("1" + "0" * (len(str(body_max_bytes)) - 1))  # the place value of its leading digit
    threshold = (body_max_bytes // unit + 1) * unit
    if threshold * _BASE64_GROWTH >= LAMBDA_SYNC_PAYLOAD_MAX_BYTES:
        raise ValueError(f"a {threshold}-byte body may not fit a synchronous Lambda invocation")
    return threshold


def decimal_at_least_pattern(threshold: int) -> str:
    """A regex matching the decimal integers >= ``threshold``, which must be of the form ``d x 10^k``."""
    digits = str(threshold)
    lead, rest = digits[0], digits[1:]
    if lead == "0" or rest.strip("0"):
        raise ValueError(f"{threshold} is not a single digit followed by zeros")
    k = len(rest)
    return f"^0*([{lead}-9][0-9]{{{k}}}|[1-9][0-9]{{{k + 1},}})$"


PAYLOAD_TOO_LARGE: Final = "payload_too_large"


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
        self.web_acl = self._build_web_acl()
        self._build_association(stage)
        self._build_logging(key)

    def _build_web_acl(self) -> wafv2.CfnWebACL:
        return wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=self._visibility("WebAcl"),
            rules=[
                self._rate_rule(),
                self._public_rate_rule(),
                self._oversized_body_rule(),
                *self._managed_rules(),
            ],
            custom_response_bodies={
                PAYLOAD_TOO_LARGE: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=_payload_too_large_body()
                )
            },
        )

    def _rate_rule(self) -> wafv2.CfnWebACL.RuleProperty:
        return self._per_ip_rate_rule(
            "RateLimitPerIp", priority=0, limit=self._settings.waf_rate_limit_per_5_minutes_per_ip
        )

    def _public_rate_rule(self) -> wafv2.CfnWebACL.RuleProperty:
        # The routes anyone may call without a signature get a tighter per-IP budget of their own, so
        # unauthenticated traffic cannot use up the stage's throttle at the expense of signed callers.
        public_paths = [
            wafv2.CfnWebACL.StatementProperty(
                byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                    positional_constraint="ENDS_WITH",  # the path WAF sees starts with the API stage
                    search_string=path,
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                    ],
                )
            )
            for path in contract.PUBLIC_PATHS
        ]
        return self._per_ip_rate_rule(
            "RateLimitPublicRoutesPerIp",
            priority=1,
            limit=self._settings.waf_public_rate_limit_per_5_minutes_per_ip,
            scope_down=wafv2.CfnWebACL.StatementProperty(
                or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=public_paths)
            ),
        )

    def _per_ip_rate_rule(
        self,
        name: str,
        *,
        priority: int,
        limit: int,
        scope_down: wafv2.CfnWebACL.StatementProperty | None = None,
    ) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name=name,
            priority=priority,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=limit,
                    evaluation_window_sec=300,
                    scope_down_statement=scope_down,
                )
            ),
            visibility_config=self._visibility(name),
        )

    def _oversized_body_rule(self) -> wafv2.CfnWebACL.RuleProperty:
        # By the declared length: with a Content-Length, the body is never longer than it says (any further
        # bytes would be the next request). A request without one (chunked, or HTTP/2 without the header)
        # is not matched and meets API Gateway's own limits, as before this rule.
        return wafv2.CfnWebACL.RuleProperty(
            name=OVERSIZED_BODY_RULE,
            priority=2,
            action=wafv2.CfnWebACL.RuleActionProperty(
                block=wafv2.CfnWebACL.BlockActionProperty(
                    custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                        response_code=contract.ERRORS[PAYLOAD_TOO_LARGE].status,
                        custom_response_body_key=PAYLOAD_TOO_LARGE,
                    )
                )
            ),
            statement=wafv2.CfnWebACL.StatementProperty(
                regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                        single_header={"Name": "content-length"}
                    ),
                    regex_string=decimal_at_least_pattern(oversized_body_threshold()),
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                    ],
                )
            ),
            visibility_config=self._visibility(OVERSIZED_BODY_RULE),
        )

    def _managed_rules(self) -> list[wafv2.CfnWebACL.RuleProperty]:
        common = self._managed(
            "AWSManagedRulesCommonRuleSet",
            priority=3,
            # COUNT, not BLOCK: legitimate batches are far larger than this rule's 8 KB (see module doc).
            overrides=[
                wafv2.CfnWebACL.RuleActionOverrideProperty(
                    name=BODY_SIZE_RULE, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                )
            ],
        )
        # Known bad inputs (Log4Shell and friends): cheap, and what checkov's CKV_AWS_192 asks for.
        known_bad = self._managed("AWSManagedRulesKnownBadInputsRuleSet", priority=4)
        return [common, known_bad]

    def _managed(
        self,
        name: str,
        *,
        priority: int,
        overrides: list[wafv2.CfnWebACL.RuleActionOverrideProperty] | None = None,
    ) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name=name,
            priority=priority,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS", name=name, rule_action_overrides=overrides
                )
            ),
            visibility_config=self._visibility(name),
        )

    def _visibility(self, name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True,
            metric_name=f"{self._metric_prefix}-{name}",
            sampled_requests_enabled=True,
        )

    def _build_association(self, stage: apigw.Stage) -> None:
        wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )

    def _build_logging(self, key: kms.IKey) -> None:
        # WAF logs only to log groups named aws-waf-logs-*, addressed by an ARN without the ":*" suffix. The
        # stack's id ends the name: a group retained from a failed or deleted stack (Production retains its
        # log groups) would otherwise make every later create of the stack fail with "already exists".
        stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
        name = f"aws-waf-logs-{contract.SERVICE_NAME}-{self._settings.slug}-{stack_uuid}"
        group = stage_log_group(self, "Logs", settings=self._settings, key=key, name=name)
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
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"}),
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "x-amz-security-token"}
                ),
            ],
        )
        logging.node.add_dependency(group)


def _payload_too_large_body() -> str:
    limit = oversized_body_threshold()
    message = (
        f"The request body is too large: this service accepts at most {contract.BODY_MAX_BYTES} bytes, and "
        f"refuses any request declaring {limit} bytes or more before it is read."
    )
    return json.dumps(contract.error_body(PAYLOAD_TOO_LARGE, message))
