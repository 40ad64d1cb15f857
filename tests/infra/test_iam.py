"""Least privilege everywhere, and the delivery roles GitHub Actions assumes."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App

from infra_cdk.delivery_access import DeliveryAccessStack, delivery_role_name
from infra_cdk.settings import STAGES
from tests.infra.cfn import as_list, one, policy_statements, props, resources
from tests.infra.conftest import GITHUB_REPOSITORY, Assembly


def test_no_identity_policy_anywhere_grants_a_wildcard_action(assembly: Assembly) -> None:
    for stack, template in assembly.templates.items():
        statements = policy_statements(template)
        assert statements, f"{stack}: no IAM statements found, the reader is broken"
        for logical_id, statement in statements:
            for action in as_list(statement.get("Action", [])):
                assert "*" not in action, f"{stack}/{logical_id} grants {action}"
            assert "NotAction" not in statement, f"{stack}/{logical_id} uses NotAction"


def test_key_policies_give_kms_star_only_to_the_account_root(assembly: Assembly) -> None:
    # The account-root statement is KMS's default key policy: it delegates to IAM (the key stays manageable).
    for template in assembly.templates.values():
        for key in resources(template, "AWS::KMS::Key").values():
            for statement in props(key)["KeyPolicy"]["Statement"]:
                for action in as_list(statement["Action"]):
                    if "*" in action and action != "kms:GenerateDataKey*":
                        assert action == "kms:*"
                        assert ":root" in json.dumps(statement["Principal"])


def test_the_oidc_provider_is_the_native_resource_for_github(assembly: Assembly) -> None:
    template = assembly.templates["DeliveryAccess"]
    _, provider = one(template, "AWS::IAM::OIDCProvider")
    assert props(provider)["Url"] == "https://token.actions.githubusercontent.com"
    assert props(provider)["ClientIdList"] == ["sts.amazonaws.com"]
    # GitHub's published thumbprints: IAM ignores them for GitHub, but the resource handler wants a list.
    assert props(provider)["ThumbprintList"] == [
        "6938fd4d98bab03faadb97b34396831e3780aea1",
        "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
    ]
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("Custom::")]
    assert not resources(template, "AWS::Lambda::Function")


@pytest.mark.parametrize("settings", STAGES, ids=[s.name for s in STAGES])
def test_each_environment_role_trusts_only_its_github_environment(assembly: Assembly, settings) -> None:
    template = assembly.templates["DeliveryAccess"]
    provider_id, _ = one(template, "AWS::IAM::OIDCProvider")
    (role,) = [
        r
        for r in resources(template, "AWS::IAM::Role").values()
        if props(r)["RoleName"] == delivery_role_name(settings)
    ]
    (trust,) = props(role)["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"] == {"Federated": {"Fn::GetAtt": [provider_id, "Arn"]}}
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": (
                f"repo:{GITHUB_REPOSITORY}:environment:{settings.slug}"
            ),
        }
    }
    assert props(role)["MaxSessionDuration"] == 3600


@pytest.mark.parametrize("settings", STAGES, ids=[s.name for s in STAGES])
def test_each_environment_role_may_only_assume_bootstrap_roles_invoke_its_stage_and_read_its_outputs(
    assembly: Assembly, settings
) -> None:
    template = assembly.templates["DeliveryAccess"]
    (role_id,) = [
        k
        for k, r in resources(template, "AWS::IAM::Role").items()
        if props(r)["RoleName"] == delivery_role_name(settings)
    ]
    statements = [
        s
        for logical_id, s in policy_statements(template)
        if {"Ref": role_id} in props(template["Resources"][logical_id])["Roles"]
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"AssumeCdkBootstrapRoles", "InvokeOwnStageApi", "ReadOwnStackOutputs"}
    assume = by_sid["AssumeCdkBootstrapRoles"]
    assert sorted(assume["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    roles = sorted(json.dumps(r) for r in assume["Resource"])
    assert len(roles) == 4
    for name in ("deploy", "file-publishing", "image-publishing", "lookup"):
        assert any(f"cdk-hnb659fds-{name}-role-" in r for r in roles)
    read = by_sid["ReadOwnStackOutputs"]
    assert read["Action"] == "cloudformation:DescribeStacks"
    assert json.dumps(read["Resource"]).endswith(f':stack/{settings.stack_name}/*"]]}}')
    invoke = by_sid["InvokeOwnStageApi"]
    assert invoke["Action"] == "execute-api:Invoke"
    assert json.dumps(invoke["Resource"]).endswith(f':*/{settings.slug}/*/*"]]}}')


def test_delivery_access_outputs_the_role_arns(assembly: Assembly) -> None:
    outputs = assembly.templates["DeliveryAccess"]["Outputs"]
    assert set(outputs) == {"StagingDeployRoleArn", "ProductionDeployRoleArn"}


EXISTING_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def test_an_existing_github_oidc_provider_is_trusted_instead_of_creating_a_second_one() -> None:
    # Given the context key github_oidc_provider_arn (the account already has GitHub's provider)
    app = App(context={"github_oidc_provider_arn": EXISTING_PROVIDER})
    stack = DeliveryAccessStack(
        app,
        "DeliveryAccess",
        github_repository=GITHUB_REPOSITORY,
        stages=STAGES,
        github_oidc_provider_arn=app.node.try_get_context("github_oidc_provider_arn"),
    )
    # When synthesized, Then no provider is created and both roles trust the existing one
    template = app.synth().get_stack_by_name(stack.stack_name).template
    assert not resources(template, "AWS::IAM::OIDCProvider")
    roles = resources(template, "AWS::IAM::Role").values()
    assert len(roles) == len(STAGES)
    for role in roles:
        (trust,) = props(role)["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Federated": EXISTING_PROVIDER}


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:oidc-provider/accounts.google.com",
        "arn:aws:iam::123456789012:role/token.actions.githubusercontent.com",
        "token.actions.githubusercontent.com",
    ],
)
def test_a_provider_arn_that_is_not_githubs_stops_synthesis(arn: str) -> None:
    with pytest.raises(ValueError, match="github_oidc_provider_arn"):
        DeliveryAccessStack(
            App(),
            "DeliveryAccess",
            github_repository=GITHUB_REPOSITORY,
            stages=STAGES,
            github_oidc_provider_arn=arn,
        )


@pytest.mark.parametrize("repository", ["example_org/diabetes", "example-org", "example-org/a b"])
def test_a_github_repository_that_is_not_owner_slash_name_stops_synthesis(repository: str) -> None:
    with pytest.raises(ValueError, match="github_repository"):
        DeliveryAccessStack(App(), "DeliveryAccess", github_repository=repository, stages=STAGES)
