"""Delivery access, deployed once per account in the stages' region: GitHub's OIDC provider, one role per
GitHub environment, and API Gateway's account-level CloudWatch Logs role.

A workflow job running in the GitHub environment ``staging`` (or ``production``) of this repository, and
nothing else, can exchange its OIDC token for its environment's role. The role may only assume its own
stage's CDK bootstrap roles (which do the actual publishing and deploying), invoke its own stage's API for
the end-to-end tests, read its own stage's stack, and make the read-only calls of the preflight
(scripts/release/preflight.py). No long-lived AWS keys exist anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra_cdk.compliance import acknowledge_nag
from infra_cdk.identifiers import GITHUB_REPOSITORY
from infra_cdk.settings import (
    GITHUB_OIDC_HOST,
    LAMBDA_CONCURRENCY_QUOTA_CODE,
    MAX_RELEASE_JOB_MINUTES,
    OIDC_AUDIENCE,
    StageSettings,
)

GITHUB_OIDC_THUMBPRINTS = (
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
)
_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
_PROVIDER_ARN = re.compile(rf"^arn:aws[a-z-]*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)}$")
# A job's credentials come from one AssumeRoleWithWebIdentity at its start and cannot be refreshed inside
# it; the CDK CLI re-assumes its bootstrap roles (sessions capped at 1 h, being chained) from them. So the
# delivery session must outlive the longest job: every stage's release_timeout_minutes is at most this.
DELIVERY_SESSION = Duration.minutes(MAX_RELEASE_JOB_MINUTES)


def delivery_role_arn(settings: StageSettings) -> str:
    """The stage's delivery role in the account the referencing stack deploys to."""
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{settings.delivery_role_name}"


class DeliveryAccessStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        github_repository: str,
        stages: Sequence[StageSettings],
        github_oidc_provider_arn: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        if not GITHUB_REPOSITORY.match(github_repository):
            raise ValueError(
                f"context github_repository {github_repository!r} must look like owner/name, or "
                "owner@<owner id>/name@<repository id> for a repository with immutable OIDC subjects"
            )
        if github_oidc_provider_arn is not None and not _PROVIDER_ARN.match(github_oidc_provider_arn):
            raise ValueError(
                f"context github_oidc_provider_arn {github_oidc_provider_arn!r} must be the ARN of an IAM "
                f"OIDC provider for {GITHUB_OIDC_HOST}"
            )
        self._repository = github_repository
        # An account holds one OIDC provider per URL: where GitHub's exists already, trust that one.
        provider = github_oidc_provider_arn or self._build_oidc_provider().attr_arn
        self._build_api_gateway_logging_role()
        for settings in stages:
            role = self._build_delivery_role(settings, provider)
            CfnOutput(
                self,
                f"{settings.name}DeployRoleArn",
                value=role.role_arn,
                description=f"Role the GitHub environment {settings.slug!r} assumes",
            )

    def _build_oidc_provider(self) -> iam.CfnOIDCProvider:
        # The native CloudFormation resource: no custom-resource Lambda to run, patch and trust.
        return iam.CfnOIDCProvider(
            self,
            "GitHubOidcProvider",
            url=f"https://{GITHUB_OIDC_HOST}",
            client_id_list=[OIDC_AUDIENCE],
            # IAM ignores these for GitHub: it validates GitHub's certificate against its trusted CAs. The
            # list is only there because the resource handler has been reported to fail without one
            # (aws-cloudformation/cloudformation-coverage-roadmap#2092); these are GitHub's published ones.
            thumbprint_list=list(GITHUB_OIDC_THUMBPRINTS),
        )

    def _build_api_gateway_logging_role(self) -> None:
        # Execution logging of any REST API needs this one setting per account and region; the last stack to
        # set it wins. Set here, once per account, and not by each stage's stack, which in one account would
        # take it from each other. Retained: every REST API of the account and region logs through it.
        role = iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway's account-level role for CloudWatch Logs (execution and access logs)",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.node.add_dependency(role)
        acknowledge_nag(
            role,
            "IAM4",
            "AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy of the account-level API "
            "Gateway logging role; AWS maintains it as the service's logging needs change",
            applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs",
        )

    def _build_delivery_role(self, settings: StageSettings, provider_arn: str) -> iam.Role:
        """The stage's role, trusted by GitHub's OIDC provider for this repository's environment only."""
        role = iam.Role(
            self,
            f"{settings.name}DeliveryRole",
            role_name=settings.delivery_role_name,
            description=f"GitHub Actions, environment {settings.slug} of {self._repository}",
            max_session_duration=DELIVERY_SESSION,
            assumed_by=iam.WebIdentityPrincipal(
                provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": OIDC_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": f"repo:{self._repository}:environment:{settings.slug}",
                    }
                },
            ),
        )
        for statement in _delivery_policy(settings):
            role.add_to_policy(statement)
        self._acknowledge_open_ids(role, settings)
        return role

    @staticmethod
    def _acknowledge_open_ids(role: iam.Role, settings: StageSettings) -> None:
        policy = role.node.find_child("DefaultPolicy")
        arn = "Resource::arn:<AWS::Partition>:"
        for applies_to, reason in (
            (
                f"{arn}cloudformation:<AWS::Region>:<AWS::AccountId>:stack/{settings.stack_name}/*",
                "a stack ARN ends in an id generated at creation; the name fixes the stack, '/*' only its id",
            ),
            (
                f"{arn}execute-api:<AWS::Region>:<AWS::AccountId>:*/{settings.slug}/*/*",
                f"the REST API id is generated by the {settings.name} stage's stack and cannot be referenced "
                "across stages; the resource is limited to this account, region and API stage "
                f"{settings.slug}",
            ),
            (
                f"{arn}lambda:<AWS::Region>:<AWS::AccountId>:function:{settings.stack_name}-*",
                f"function names are generated by CloudFormation with the prefix {settings.stack_name}-; "
                "only GetFunctionConcurrency (read-only) applies to them",
            ),
            (
                "Resource::*",
                "lambda:GetAccountSettings and logs:DescribeResourcePolicies (read-only: the account's "
                "concurrency quota, WAF's log policy) have no resource type",
            ),
        ):
            acknowledge_nag(policy, "IAM5", reason, applies_to=applies_to)


def _delivery_policy(settings: StageSettings) -> list[iam.PolicyStatement]:
    """What the stage's role may do: use its own stage's bootstrap roles, API and stack, and make the
    read-only calls of the preflight (scripts/release/preflight.py), which the Release runs as the role
    before every deployment."""
    partition, account, region = Aws.PARTITION, Aws.ACCOUNT_ID, Aws.REGION
    bootstrap_roles = [settings.bootstrap_role_name(name, account, region) for name in _BOOTSTRAP_ROLES]
    qualifier = settings.bootstrap_qualifier
    return [
        # Only this stage's bootstrap: another stage's deploy role (and its AdministratorAccess execution
        # role) stays out of reach. The CDK CLI tags the sessions it opens with them: sts:TagSession.
        iam.PolicyStatement(
            sid="AssumeOwnStageBootstrapRoles",
            actions=["sts:AssumeRole", "sts:TagSession"],
            resources=[f"arn:{partition}:iam::{account}:role/{name}" for name in bootstrap_roles],
        ),
        # The API's id is generated in another stack (another Stage: no cross-references), so the
        # statement names the account, region and API stage, and leaves the API id open.
        iam.PolicyStatement(
            sid="InvokeOwnStageApi",
            actions=["execute-api:Invoke"],
            resources=[f"arn:{partition}:execute-api:{region}:{account}:*/{settings.slug}/*/*"],
        ),
        # Read-only, one stack: workflows and the end-to-end suite find the API URL in the stack's outputs
        # (scripts/release/stack_outputs.py); the preflight counts the concurrency its functions reserve.
        iam.PolicyStatement(
            sid="ReadOwnStack",
            actions=["cloudformation:DescribeStacks", "cloudformation:ListStackResources"],
            resources=[f"arn:{partition}:cloudformation:{region}:{account}:stack/{settings.stack_name}/*"],
        ),
        iam.PolicyStatement(
            sid="PreflightReads",
            actions=[
                "ssm:GetParameter",
                "ecr:DescribeRepositories",
                "servicequotas:GetServiceQuota",
                "lambda:GetFunctionConcurrency",
                "apigateway:GET",
                "iam:GetOpenIDConnectProvider",
                "iam:GetRole",
            ],
            resources=[
                f"arn:{partition}:ssm:{region}:{account}:parameter/cdk-bootstrap/{qualifier}/version",
                f"arn:{partition}:ecr:{region}:{account}:repository/"
                f"{settings.container_assets_repository(account)}",
                f"arn:{partition}:servicequotas:{region}:{account}:lambda/{LAMBDA_CONCURRENCY_QUOTA_CODE}",
                f"arn:{partition}:lambda:{region}:{account}:function:{settings.stack_name}-*",
                f"arn:{partition}:apigateway:{region}::/account",
                f"arn:{partition}:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}",
                delivery_role_arn(settings),  # its own trust
            ],
        ),
        iam.PolicyStatement(  # no resource type: acknowledged with its reason in _acknowledge_open_ids
            sid="PreflightAccountSettings",
            actions=["lambda:GetAccountSettings", "logs:DescribeResourcePolicies"],
            resources=["*"],
        ),
    ]
