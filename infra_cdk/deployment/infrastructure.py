"""Safe deployment: CodeDeploy shifts the ``live`` alias to each new version behind a pre-traffic hook, and
rolls back when a rollback alarm fires; Production by canary (10% for 5 minutes), Staging all at once. A
stage's first deployment creates the alias on the first version (docs/architecture.md, "Canary")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra_cdk.compliance import acknowledge_nag, cfn_resource, skip_checkov
from infra_cdk.function import acknowledge_common_findings, logs_and_role
from infra_cdk.settings import HOOK_RESERVED_CONCURRENCY, StageSettings
from model.core import contract

HOOK_RUNTIME_DIR = Path(__file__).resolve().parent / "pre_traffic_hook"


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
        hook = self._build_pre_traffic_hook(settings, alias.version, checks, key)
        group = codedeploy.LambdaDeploymentGroup(
            self,
            "DeploymentGroup",
            alias=alias,
            # The strategies are named after CDK's predefined configurations, in lower case.
            deployment_config=getattr(
                codedeploy.LambdaDeploymentConfig, settings.deployment_strategy.upper()
            ),
            alarms=list(rollback_alarms),
            pre_hook=hook,
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
        hook_arn = Stack.of(self).resolve(Stack.of(self).get_logical_id(cfn_resource(hook)))
        acknowledge_nag(
            group.role.node.find_child("DefaultPolicy"),
            "IAM5",
            "CodeDeploy invokes only the pre-traffic hook; the ':*' suffix added by grantInvoke covers that "
            "one function's versions and aliases",
            applies_to=f"Resource::<{hook_arn}.Arn>:*",
        )
        # The alias names both only inside its UpdatePolicy; make CloudFormation update them first, so the
        # shift of a new version is checked by a hook that already knows that version.
        cfn_resource(alias).add_resource_dependency(cfn_resource(hook))
        cfn_resource(alias).add_resource_dependency(cfn_resource(group))

    def _build_pre_traffic_hook(
        self, settings: StageSettings, version: lambda_.IVersion, checks: list[dict[str, Any]], key: kms.IKey
    ) -> lambda_.Function:
        log_group, role = logs_and_role(self, "Hook", settings=settings, key=key, what="pre-traffic hook")
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
                None if settings.reserved_concurrency is None else HOOK_RESERVED_CONCURRENCY
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
        acknowledge_common_findings(hook, role, settings)
        return hook
