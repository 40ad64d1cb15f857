"""Delivery access, deployed once per account: GitHub's OIDC provider and one role per GitHub environment.

A workflow job running in the GitHub environment ``staging`` (or ``production``) of this repository, and
nothing else, can exchange its OIDC token for its environment's role. The role may only assume the CDK
bootstrap roles (which do the actual publishing and deploying), invoke its own stage's API for the
end-to-end tests, and read its own stage's stack outputs (where those tests find the API). No long-lived
AWS keys exist anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra_cdk.compliance import acknowledge_nag
from infra_cdk.settings import CDK_BOOTSTRAP_QUALIFIER, GITHUB_REPOSITORY, StageSettings
from lambda_fn import contract

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
OIDC_AUDIENCE = "sts.amazonaws.com"
GITHUB_OIDC_THUMBPRINTS = (
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
)
_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
_PROVIDER_ARN = re.compile(rf"^arn:aws[a-z-]*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)}$")


def delivery_role_name(settings: StageSettings) -> str:
    """Fixed, so each stage can name its delivery role in the API's resource policy without a reference."""
    return f"{contract.SERVICE_NAME}-delivery-{settings.slug}"


def delivery_role_arn(settings: StageSettings) -> str:
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{delivery_role_name(settings)}"


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
            raise ValueError(f"context github_repository {github_repository!r} must look like owner/name")
        if github_oidc_provider_arn is not None and not _PROVIDER_ARN.match(github_oidc_provider_arn):
            raise ValueError(
                f"context github_oidc_provider_arn {github_oidc_provider_arn!r} must be the ARN of an IAM "
                f"OIDC provider for {GITHUB_OIDC_HOST}"
            )
        self._repository = github_repository
        # An account holds one OIDC provider per URL: where GitHub's exists already, trust that one.
        provider = github_oidc_provider_arn or self._build_oidc_provider().attr_arn
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

    def _build_delivery_role(self, settings: StageSettings, provider_arn: str) -> iam.Role:
        role = iam.Role(
            self,
            f"{settings.name}DeliveryRole",
            role_name=delivery_role_name(settings),
            description=f"GitHub Actions, environment {settings.slug} of {self._repository}",
            max_session_duration=Duration.hours(1),
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
        bootstrap_roles = [
            f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/"
            f"cdk-{CDK_BOOTSTRAP_QUALIFIER}-{name}-role-{Aws.ACCOUNT_ID}-{Aws.REGION}"
            for name in _BOOTSTRAP_ROLES
        ]
        # The CDK CLI passes session tags when it assumes the bootstrap roles, hence sts:TagSession.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=bootstrap_roles,
            )
        )
        # The API's id is generated in another stack (another Stage: no cross-references), so the statement
        # names the account, region and API stage, and leaves the API id open.
        invoke = f"arn:{Aws.PARTITION}:execute-api:{Aws.REGION}:{Aws.ACCOUNT_ID}:*/{settings.slug}/*/*"
        role.add_to_policy(
            iam.PolicyStatement(sid="InvokeOwnStageApi", actions=["execute-api:Invoke"], resources=[invoke])
        )
        # Read-only, one stack: workflows and the end-to-end suite find the API URL in the stack's outputs
        # (scripts/stack_outputs.py). Outputs are not secret; everything that changes anything goes
        # through the bootstrap roles.
        stack = (
            f"arn:{Aws.PARTITION}:cloudformation:{Aws.REGION}:{Aws.ACCOUNT_ID}:stack/{settings.stack_name}/*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadOwnStackOutputs", actions=["cloudformation:DescribeStacks"], resources=[stack]
            )
        )
        acknowledge_nag(
            role.node.find_child("DefaultPolicy"),
            "IAM5",
            "a stack ARN ends in an id generated at creation; the name fixes the stack, '/*' only its id",
            applies_to="Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:"
            f"stack/{settings.stack_name}/*",
        )
        acknowledge_nag(
            role.node.find_child("DefaultPolicy"),
            "IAM5",
            f"the REST API id is generated by the {settings.name} stage's stack and cannot be referenced "
            f"across stages; the resource is limited to this account, region and API stage {settings.slug}",
            applies_to="Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
            f"*/{settings.slug}/*/*",
        )
        return role
