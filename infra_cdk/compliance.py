"""Why a finding is accepted, recorded on the one resource it concerns with a specific reason, for cdk-nag
(AwsSolutions, at synthesis) and checkov (over the synthesized templates); nothing is accepted stack-wide."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct


def acknowledge_nag(resource: IConstruct, rule: str, reason: str, *, applies_to: str | None = None) -> None:
    """Accepts one AwsSolutions finding on one resource, e.g. ``("IAM5", why, applies_to="Resource::*")``."""
    rule_id = f"AwsSolutions-{rule}" + (f"[{applies_to}]" if applies_to else "")
    Validations.of(cfn_resource(resource)).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def skip_checkov(resource: IConstruct, **reasons: str) -> None:
    """Adds ``checkov: skip`` entries (check id=reason) to the resource's CloudFormation Metadata."""
    cfn = cfn_resource(resource)
    metadata: dict[str, Any] = cfn.get_metadata("checkov") or {}
    skips = [*metadata.get("skip", []), *({"id": check, "comment": why} for check, why in reasons.items())]
    cfn.add_metadata("checkov", {**metadata, "skip": skips})


def cfn_resource(resource: IConstruct) -> CfnResource:
    """The one CloudFormation resource behind ``resource``, which acknowledgements and overrides go on."""
    if isinstance(resource, CfnResource):
        return resource
    child = resource.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{resource.node.path} has no single CloudFormation resource")
    return child
