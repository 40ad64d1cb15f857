"""The web application firewall in front of the API stage: per-IP rate limiting and AWS managed rules.

AWSManagedRulesCommonRuleSet's ``SizeRestrictions_BODY`` blocks any body over 8 KB. A legitimate batch of
10 000 BMI values (contract.BATCH_MAX) is ~100-200 KB of JSON, so that one rule is overridden to COUNT: it
still shows in metrics and logs, and the function enforces the real limit (contract.BODY_MAX_BYTES -> 413).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra_cdk.log_groups import stage_log_group
from infra_cdk.settings import StageSettings
from lambda_fn import contract

BODY_SIZE_RULE = "SizeRestrictions_BODY"


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
            rules=[self._rate_rule(), self._public_rate_rule(), *self._managed_rules()],
        )

    def _rate_rule(self) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp",
            priority=0,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=self._settings.waf_rate_limit_per_5_minutes_per_ip,
                    evaluation_window_sec=300,
                )
            ),
            visibility_config=self._visibility("RateLimitPerIp"),
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
        return wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPublicRoutesPerIp",
            priority=1,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=self._settings.waf_public_rate_limit_per_5_minutes_per_ip,
                    evaluation_window_sec=300,
                    scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                        or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=public_paths)
                    ),
                )
            ),
            visibility_config=self._visibility("RateLimitPublicRoutesPerIp"),
        )

    def _managed_rules(self) -> list[wafv2.CfnWebACL.RuleProperty]:
        common = self._managed(
            "AWSManagedRulesCommonRuleSet",
            priority=2,
            # COUNT, not BLOCK: legitimate batches are far larger than this rule's 8 KB (see module doc).
            overrides=[
                wafv2.CfnWebACL.RuleActionOverrideProperty(
                    name=BODY_SIZE_RULE, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                )
            ],
        )
        # Known bad inputs (Log4Shell and friends): cheap, and what checkov's CKV_AWS_192 asks for.
        known_bad = self._managed("AWSManagedRulesKnownBadInputsRuleSet", priority=3)
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
        # WAF logs only to log groups named aws-waf-logs-*, addressed by an ARN without the ":*" suffix.
        name = f"aws-waf-logs-{contract.SERVICE_NAME}-{self._settings.slug}"
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
