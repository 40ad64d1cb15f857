"""Least privilege everywhere, and the delivery roles GitHub Actions assumes."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest
from aws_cdk import App

from infra_cdk.delivery_access import DeliveryAccessStack
from infra_cdk.settings import STAGES, StageSettings, stage_named
from scripts.release import plan as release_plan
from scripts.release.assembly import render
from tests.infra.cfn import as_list, one, policy_statements, props, resources
from tests.infra.conftest import (
    GITHUB_REPOSITORY,
    IMMUTABLE_GITHUB_REPOSITORY,
    PER_ACCOUNT_STAGES,
    STACK_NAMES,
    Assembly,
)


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
    # IAM ignores thumbprints for GitHub, but the resource handler has been reported to fail without any.
    assert props(provider)["ThumbprintList"]
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("Custom::")]
    assert not resources(template, "AWS::Lambda::Function")


def delivery_role(template: dict, settings: StageSettings) -> tuple[str, dict]:
    ((role_id, role),) = [
        (k, r)
        for k, r in resources(template, "AWS::IAM::Role").items()
        if props(r).get("RoleName") == settings.delivery_role_name
    ]
    return role_id, role


def role_statements(template: dict, role_id: str) -> list[dict]:
    return [
        s
        for logical_id, s in policy_statements(template)
        if {"Ref": role_id} in props(template["Resources"][logical_id]).get("Roles", [])
    ]


@pytest.mark.parametrize("settings", STAGES, ids=[s.name for s in STAGES])
def test_each_environment_role_trusts_only_its_github_environment(assembly: Assembly, settings) -> None:
    template = assembly.templates["DeliveryAccess"]
    provider_id, _ = one(template, "AWS::IAM::OIDCProvider")
    _, role = delivery_role(template, settings)
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


@pytest.mark.parametrize("settings", STAGES, ids=[s.name for s in STAGES])
def test_each_environment_role_assumes_its_own_bootstrap_invokes_its_stage_and_only_reads_otherwise(
    assembly: Assembly, settings
) -> None:
    template = assembly.templates["DeliveryAccess"]
    role_id, _ = delivery_role(template, settings)
    by_sid = {s["Sid"]: s for s in role_statements(template, role_id)}
    assert set(by_sid) == {
        "AssumeOwnStageBootstrapRoles",
        "InvokeOwnStageApi",
        "ReadOwnStack",
        "PreflightReads",
        "PreflightAccountSettings",
    }
    assume = by_sid["AssumeOwnStageBootstrapRoles"]
    assert sorted(assume["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    roles = sorted(render(r) for r in assume["Resource"])
    assert roles == sorted(
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/cdk-{settings.bootstrap_qualifier}-{name}-role-"
        "${AWS::AccountId}-${AWS::Region}"
        for name in ("deploy", "file-publishing", "image-publishing", "lookup")
    )
    assert render(by_sid["ReadOwnStack"]["Resource"]).endswith(f":stack/{settings.stack_name}/*")
    invoke = by_sid["InvokeOwnStageApi"]
    assert invoke["Action"] == "execute-api:Invoke"
    assert render(invoke["Resource"]).endswith(f":*/{settings.slug}/*/*")
    # Everything else is a read: the stack's outputs and resources, and what the preflight looks at.
    reads = [
        action
        for sid in ("ReadOwnStack", "PreflightReads", "PreflightAccountSettings")
        for action in as_list(by_sid[sid]["Action"])
    ]
    assert all(re.match(r"^[a-z-]+:(Get|Describe|List)[A-Za-z]+$|^apigateway:GET$", a) for a in reads), reads


# --- Stages cannot touch each other ---------------------------------------------------------------------
ROLES_A_DEPLOYMENT_USES = ("deploy", "cfn-exec", "file-publishing", "image-publishing", "lookup")


def bootstrap_roles(settings: StageSettings, account: str) -> list[str]:
    """Every role a deployment of the stage runs as: the CLI's four, and CloudFormation's execution role."""
    return [
        f"arn:aws:iam::{account}:role/cdk-{settings.bootstrap_qualifier}-{name}-role-{account}-{settings.region}"
        for name in ROLES_A_DEPLOYMENT_USES
    ]


def assumable(statements: list[dict], role_arn: str, *, account: str, region: str) -> bool:
    """Whether any Allow statement lets its holder call sts:AssumeRole on `role_arn` (IAM wildcards)."""
    for statement in statements:
        actions = as_list(statement.get("Action", []))
        if statement.get("Effect") != "Allow" or not any(
            fnmatch.fnmatchcase("sts:AssumeRole", a) for a in actions
        ):
            continue
        for resource in as_list(statement["Resource"]):
            pattern = (
                render(resource)
                .replace("${AWS::Partition}", "aws")
                .replace("${AWS::AccountId}", account)
                .replace("${AWS::Region}", region)
            )
            if fnmatch.fnmatchcase(role_arn, pattern):
                return True
    return False


def test_the_assumable_check_sees_wildcards() -> None:
    role = "arn:aws:iam::111111111111:role/cdk-dpprod-deploy-role-111111111111-eu-west-1"
    wide = [{"Effect": "Allow", "Action": "sts:*", "Resource": "arn:aws:iam::*:role/cdk-*"}]
    assert assumable(wide, role, account="111111111111", region="eu-west-1")
    assert not assumable([{**wide[0], "Effect": "Deny"}], role, account="111111111111", region="eu-west-1")


@pytest.mark.parametrize("layout", ["one account", "one account per stage"])
def test_no_policy_of_the_staging_role_allows_assuming_a_role_production_deploys_with(
    layout: str, assembly: Assembly, per_account_assembly: Assembly
) -> None:
    built, stages = (
        (assembly, STAGES) if layout == "one account" else (per_account_assembly, PER_ACCOUNT_STAGES)
    )
    staging, production = (stage_named(name, stages) for name in ("Staging", "Production"))
    # The account a stack without one in the settings would deploy to: the same one for every stage.
    account_of = {s.name: s.account or "123456789012" for s in stages}
    (stack,) = [
        n for n, t in built.templates.items() if n.startswith("DeliveryAccess") and has_role(t, staging)
    ]
    role_id, _ = delivery_role(built.templates[stack], staging)
    statements = role_statements(built.templates[stack], role_id)
    assert any(
        assumable(statements, arn, account=account_of["Staging"], region=staging.region)
        for arn in bootstrap_roles(staging, account_of["Staging"])
    ), "the check must see the staging role's own bootstrap roles, or it proves nothing"
    for arn in bootstrap_roles(production, account_of["Production"]):
        assert not assumable(statements, arn, account=account_of["Staging"], region=staging.region), arn


def has_role(template: dict, settings: StageSettings) -> bool:
    return any(
        props(r).get("RoleName") == settings.delivery_role_name
        for r in resources(template, "AWS::IAM::Role").values()
    )


def test_with_one_account_per_stage_each_account_gets_its_own_delivery_access_in_the_stages_region(
    per_account_assembly: Assembly,
) -> None:
    # Given one account per stage, When synthesized, Then each account gets a DeliveryAccess stack of its
    # own (deployed with that account's credentials) holding the OIDC provider, API Gateway's logging role
    # and only that stage's delivery role, in the stage's region
    for settings in PER_ACCOUNT_STAGES:
        name = f"DeliveryAccess-{settings.name}"
        template = per_account_assembly.templates[name]
        assert per_account_assembly.environments[name] == (settings.account, settings.region)
        assert [s.name for s in PER_ACCOUNT_STAGES if has_role(template, s)] == [settings.name]
        one(template, "AWS::IAM::OIDCProvider")
        one(template, "AWS::ApiGateway::Account")
        assert set(template["Outputs"]) == {f"{settings.name}DeployRoleArn"}
    assert "DeliveryAccess" not in per_account_assembly.templates


def test_a_repository_with_immutable_oidc_subjects_is_trusted_by_its_ids(
    per_account_assembly: Assembly,
) -> None:
    # GitHub names repositories created after 15 July 2026 "owner@id/name@id" in the token's subject
    for settings in PER_ACCOUNT_STAGES:
        template = per_account_assembly.templates[f"DeliveryAccess-{settings.name}"]
        _, role = delivery_role(template, settings)
        (trust,) = props(role)["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] == (
            f"repo:{IMMUTABLE_GITHUB_REPOSITORY}:environment:{settings.slug}"
        )


def test_with_one_account_delivery_access_serves_every_stage_in_their_region(assembly: Assembly) -> None:
    # The region is the stages', never the CLI's default: the roles' permissions name it.
    (region,) = {s.region for s in STAGES}
    assert assembly.environments["DeliveryAccess"][1] == region
    assert all(has_role(assembly.templates["DeliveryAccess"], s) for s in STAGES)


def test_delivery_sessions_outlast_every_stages_release_job(assembly: Assembly) -> None:
    # A job's OIDC session cannot be renewed inside the job, and the CDK CLI re-assumes its (chained, 1 h)
    # bootstrap-role sessions from it: each stage's job asks for a session as long as its timeout
    # (deploy-stage.yml, tests/unit/delivery), and its delivery role must allow that long.
    for settings in STAGES:
        planned = release_plan.plan(settings)
        assert int(planned["session_seconds"]) >= int(planned["timeout_minutes"]) * 60
        _, role = delivery_role(assembly.templates["DeliveryAccess"], settings)
        assert props(role)["MaxSessionDuration"] >= int(planned["session_seconds"]), settings.name


def test_api_gateway_logging_is_set_once_per_account_by_delivery_access_not_by_the_stages(
    assembly: Assembly,
) -> None:
    template = assembly.templates["DeliveryAccess"]
    _, account = one(template, "AWS::ApiGateway::Account")
    role_id = props(account)["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]
    assert role["DeletionPolicy"] == "Retain"  # every REST API of the account and region logs through it
    assert json.dumps(props(role)["ManagedPolicyArns"]).endswith('AmazonAPIGatewayPushToCloudWatchLogs"]]}]')
    for stack in STACK_NAMES.values():
        assert not resources(assembly.templates[stack], "AWS::ApiGateway::Account")


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
    roles = [r for r in resources(template, "AWS::IAM::Role").values() if "RoleName" in props(r)]
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
