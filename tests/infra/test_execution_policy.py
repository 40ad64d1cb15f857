"""docs/cfn-execution-policy.json, the narrowed CloudFormation execution policy docs/deploy.md offers for
`cdk bootstrap --cloudformation-execution-policies`, allows what every synthesised stack creates: a stack
that gains a resource of a new service fails here, not in a first deployment."""

from __future__ import annotations

import json

from scripts import REPO_ROOT
from tests.infra.conftest import Assembly

POLICY = json.loads((REPO_ROOT / "docs" / "cfn-execution-policy.json").read_text(encoding="utf-8"))
ACTIONS = {action for statement in POLICY["Statement"] for action in statement["Action"]}


def test_every_resource_type_of_every_stack_has_its_service_allowed(assembly: Assembly) -> None:
    types = {
        resource["Type"]
        for template in assembly.templates.values()
        for resource in template["Resources"].values()
        if resource["Type"] != "AWS::CDK::Metadata"
    }
    assert {"AWS::WAFv2::WebACL", "AWS::IAM::OIDCProvider", "AWS::Lambda::Function"} <= types
    prefixes = {action.split(":")[0] for action in ACTIONS}
    assert {t.split("::")[1].lower() for t in types} <= prefixes
    iam = {t for t in types if t.startswith("AWS::IAM::")}
    assert iam == {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::OIDCProvider"}, "IAM is granted per type"


def test_what_is_easy_to_forget_is_allowed() -> None:
    # WAF's log delivery (it writes the account's log resource policy) and Lambda's pull of the image
    assert {
        "logs:CreateLogDelivery",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "iam:CreateRole",
        "iam:PassRole",
        "iam:PutRolePolicy",
        "iam:CreateOpenIDConnectProvider",
        "ssm:GetParameters",
    } <= ACTIONS
    assert "iam:*" not in ACTIONS, "IAM only on this project's role names: no way to mint an administrator"
