"""Log groups of a stage: encrypted with the stage key, kept for the stage's retention, removed with the
stack only where the stage allows it, or where the group is named (a retained group of a fixed name would
make the stack's next create fail with "already exists")."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk.compliance import cfn_resource
from infra_cdk.settings import StageSettings


def stage_log_group(
    scope: Construct, construct_id: str, *, settings: StageSettings, key: kms.IKey, name: str | None = None
) -> logs.LogGroup:
    removal = RemovalPolicy.DESTROY if name else removal_policy(settings)
    group = logs.LogGroup(
        scope, construct_id, log_group_name=name, encryption_key=key, removal_policy=removal
    )
    # In Python, RetentionDays members are named, not numbered: the days go straight into the resource
    # (settings.LOG_RETENTION_DAYS lists the values CloudWatch Logs accepts).
    cfn_resource(group).add_property_override("RetentionInDays", settings.log_retention_days)
    return group


def removal_policy(settings: StageSettings) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if settings.retain_data_on_delete else RemovalPolicy.DESTROY
