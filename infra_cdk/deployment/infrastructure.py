"""Safe deployment: CodeDeploy shifts the ``live`` alias to each new version, guarded by a pre-traffic hook
and rolled back automatically when a rollback alarm fires.

Production shifts by canary (10% for 5 minutes), Staging all at once (it has no users to protect, and its
end-to-end suite runs right after). Either way the hook must pass before the first request moves.

Except on a stage's first deployment: the alias's CodeDeploy UpdatePolicy applies only when CloudFormation
*updates* the alias, and the stack's first create *creates* it, pointing straight at the first version, so
neither the hook nor the canary runs then. Only later releases are gated; the first version of Production is
vouched for by Staging's end-to-end suite, which runs against the same image before Production exists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk.compliance import acknowledge_nag, acknowledge_tracing_policy, cfn_resource, skip_checkov
from infra_cdk.function import NO_RESERVATION_REASON
from infra_cdk.log_groups import stage_log_group
from infra_cdk.settings import HOOK_RESERVED_CONCURRENCY, DeploymentStrategy, StageSettings
from lambda_fn import contract

HOOK_RUNTIME_DIR = Path(__file__).resolve().parent / "pre_traffic_hook"

DEPLOYMENT_CONFIGS: dict[DeploymentStrategy, codedeploy.ILambdaDeploymentConfig] = {
    "all_at_once": codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE,
    "canary_10_percent_5_minutes": codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
    "linear_10_percent_every_1_minute": codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE,
}


class SafeDeployment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        alias: lambda_.Alias,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
        checks: list[dict[str, Any]],
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.hook = self._build_pre_traffic_hook(alias.version, checks, key)
        self.deployment_group = self._build_deployment_group(alias, rollback_alarms)
        # The alias names both only inside its UpdatePolicy; make CloudFormation update them first, so the
        # shift of a new version is checked by a hook that already knows that version.
        cfn_resource(alias).add_resource_dependency(cfn_resource(self.hook))
        cfn_resource(alias).add_resource_dependency(cfn_resource(self.deployment_group))

    def _build_pre_traffic_hook(
        self, version: lambda_.IVersion, checks: list[dict[str, Any]], key: kms.IKey
    ) -> lambda_.Function:
        log_group = stage_log_group(self, "HookLogs", settings=self._settings, key=key)
        role = iam.Role(
            self,
            "HookRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{contract.SERVICE_NAME} {self._settings.slug} pre-traffic hook",
        )
        log_group.grant_write(role)
        hook = lambda_.Function(
            self,
            "PreTrafficHook",
            description=f"Checks a new {contract.SERVICE_NAME} version before traffic moves to it",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler="hook.handler",
            code=lambda_.Code.from_asset(str(HOOK_RUNTIME_DIR), exclude=["__pycache__", "__init__.py"]),
            memory_size=256,
            timeout=Duration.minutes(1),
            # Reserved only where the stage reserves (see HOOK_RESERVED_CONCURRENCY).
            reserved_concurrent_executions=(
                None if self._settings.reserved_concurrency is None else HOOK_RESERVED_CONCURRENCY
            ),
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            environment={"TARGET_VERSION_ARN": version.function_arn, "CHECKS": json.dumps(checks)},
        )
        version.grant_invoke(hook)
        acknowledge_nag(
            hook,
            "L1",
            "Python 3.13 is the repository's toolchain (the function image, and the venv the hook is "
            "unit-tested in); the hook moves with them, not ahead of them",
        )
        skip_checkov(
            hook,
            CKV_AWS_116="invoked synchronously by CodeDeploy, which records the outcome",
            CKV_AWS_117="calls only the Lambda and CodeDeploy APIs; no private network to reach",
            CKV_AWS_173="environment holds the version ARN and public test inputs, no secrets",
        )
        if self._settings.reserved_concurrency is None:
            skip_checkov(hook, CKV_AWS_115=NO_RESERVATION_REASON)
        acknowledge_tracing_policy(role)
        return hook

    def _build_deployment_group(
        self, alias: lambda_.Alias, rollback_alarms: Sequence[cloudwatch.IAlarm]
    ) -> codedeploy.LambdaDeploymentGroup:
        group = codedeploy.LambdaDeploymentGroup(
            self,
            "DeploymentGroup",
            alias=alias,
            deployment_config=DEPLOYMENT_CONFIGS[self._settings.deployment_strategy],
            alarms=list(rollback_alarms),
            pre_hook=self.hook,
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
        acknowledge_nag(
            group.role,
            "IAM4",
            "AWSCodeDeployRoleForLambdaLimited is the AWS-managed policy for CodeDeploy's Lambda "
            "deployments, limited to alias updates and CodeDeployHook_* invocations",
            applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSCodeDeployRoleForLambdaLimited",
        )
        hook_arn = Stack.of(self).resolve(Stack.of(self).get_logical_id(cfn_resource(self.hook)))
        acknowledge_nag(
            group.role.node.find_child("DefaultPolicy"),
            "IAM5",
            "CodeDeploy invokes only the pre-traffic hook; the ':*' suffix added by grantInvoke covers that "
            "one function's versions and aliases",
            applies_to=f"Resource::<{hook_arn}.Arn>:*",
        )
        return group
