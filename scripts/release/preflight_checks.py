"""The preflight's checks (scripts/release/preflight.py runs them): each reads one thing a stage's
deployment depends on in its account, with read-only calls, and yields a problem with the command that fixes
it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final, NamedTuple

from botocore.exceptions import ClientError

from infra_cdk.settings import (
    DELIVERY_ACCESS_STACK_ID,
    GITHUB_OIDC_HOST,
    HOOK_RESERVED_CONCURRENCY,
    LAMBDA_CONCURRENCY_QUOTA_CODE,
    OIDC_AUDIENCE,
    StageSettings,
)

# The first bootstrap whose deploy role may `cdk rollback` a stack stuck in UPDATE_ROLLBACK_FAILED (CDK's
# BOOTSTRAP_STACK_VERSION_FOR_ROLLBACK), so no administrator is needed; templates themselves require 6.
MIN_BOOTSTRAP_VERSION: Final = 23
# Lambda keeps this much of the account's concurrency unreserved (the whole quota when it is smaller, as
# on new accounts with a quota of 10: nothing can be reserved there).
MIN_UNRESERVED: Final = 100
STANDARD_QUOTA: Final = 1_000  # Lambda's usual quota: what an increase request normally asks for
WAF_LOG_POLICY: Final = "AWSWAF-LOGS"  # the account-wide resource policy WAF lists its log groups in
LOG_POLICY_MAX_CHARACTERS: Final = 5_120
LOG_POLICY_ROOM_PER_GROUP: Final = 300  # WAF adds about 200 for one more group: its ARN and the web ACL's


class Problem(NamedTuple):
    what: str
    fix: str  # the command that fixes it


class Target(NamedTuple):
    """What the checks look at (the stage, in the account of the credentials), and the fixes most share."""

    settings: StageSettings
    account: str
    partition: str
    client: Callable[[str], Any]  # a boto3 client of the stage's region, by service name
    where: str  # account/region
    bootstrap_command: str
    delivery_access_command: str
    before_setup: bool  # before the bootstrap and DeliveryAccess: what they need, not what they made
    github_repository: str | None  # as the delivery roles must trust it; None: not checked


def _unless_absent(code: str, call: Callable[[], Any]) -> Any:
    """The call's answer, or None when AWS answers with the error `code`: the thing does not exist."""
    try:
        return call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != code:
            raise
        return None


def bootstrap(t: Target) -> Iterator[Problem]:
    """The stage's CDK bootstrap (its qualifier) exists, recent enough, with its image repository."""
    qualifier = t.settings.bootstrap_qualifier
    parameter = f"/cdk-bootstrap/{qualifier}/version"
    found = _unless_absent("ParameterNotFound", lambda: t.client("ssm").get_parameter(Name=parameter))
    if found is None:
        yield Problem(
            f"{t.where} has no CDK bootstrap with qualifier {qualifier} (no {parameter}).",
            t.bootstrap_command,
        )
        return
    if (version := int(found["Parameter"]["Value"])) < MIN_BOOTSTRAP_VERSION:
        yield Problem(
            f"the CDK bootstrap {qualifier} in {t.where} is version {version}; this project needs "
            f"{MIN_BOOTSTRAP_VERSION} or later (its deploy role can then roll a stack back).",
            t.bootstrap_command,
        )
    repository = t.settings.container_assets_repository(t.account)
    ecr = t.client("ecr")
    if not _unless_absent(
        "RepositoryNotFoundException", lambda: ecr.describe_repositories(repositoryNames=[repository])
    ):
        yield Problem(
            f"the bootstrap image repository {repository} does not exist (the release pushes there).",
            t.bootstrap_command,
        )


def concurrency(t: Target) -> Iterator[Problem]:
    """What the stage reserves fits the account's Lambda concurrency quota, which must keep 100 (or, below
    100, all of it) unreserved."""
    s = t.settings
    if s.reserved_concurrency is None:
        return
    limit = t.client("lambda").get_account_settings()["AccountLimit"]
    quota = t.client("service-quotas").get_service_quota(
        ServiceCode="lambda", QuotaCode=LAMBDA_CONCURRENCY_QUOTA_CODE
    )["Quota"]["Value"]
    # A redeployment needs only the difference: what the stage's functions reserve already is not counted
    # twice (nothing before its first deployment: CloudFormation's ValidationError, no such stack).
    pages = t.client("cloudformation").get_paginator("list_stack_resources").paginate
    resources = _unless_absent(
        "ValidationError",
        lambda: [r for page in pages(StackName=s.stack_name) for r in page["StackResourceSummaries"]],
    )
    lambda_ = t.client("lambda")
    reserved_by_stage = sum(
        int(lambda_.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions", 0))
        for resource in resources or ()
        if resource["ResourceType"] == "AWS::Lambda::Function"
        and (name := resource.get("PhysicalResourceId"))
    )
    elsewhere = limit["ConcurrentExecutions"] - limit["UnreservedConcurrentExecutions"] - reserved_by_stage
    needed = elsewhere + s.reserved_concurrency_total + MIN_UNRESERVED
    available = min(limit["ConcurrentExecutions"], int(quota))
    if available < needed:
        yield Problem(
            f"{s.name} reserves {s.reserved_concurrency_total} concurrent executions (function "
            f"{s.reserved_concurrency}, pre-traffic hook {HOOK_RESERVED_CONCURRENCY}); with {elsewhere} "
            f"reserved by other functions and {MIN_UNRESERVED} that must stay unreserved, {t.where} needs a "
            f"Lambda concurrency quota of {needed} and has {available} (or set reserved_concurrency=None for "
            f"{s.name} in infra_cdk/settings.py).",
            "aws service-quotas request-service-quota-increase --service-code lambda --quota-code "
            f"{LAMBDA_CONCURRENCY_QUOTA_CODE} --desired-value {max(needed, STANDARD_QUOTA)} "
            f"--region {s.region}",
        )


def api_gateway_logging(t: Target) -> Iterator[Problem]:
    """API Gateway's account-level CloudWatch Logs role: the stage's execution logging needs it, and it is
    one setting per account and region, which the DeliveryAccess stack owns."""
    role = t.client("apigateway").get_account().get("cloudwatchRoleArn")
    if not role and not t.before_setup:
        yield Problem(
            f"API Gateway has no CloudWatch Logs role in {t.where}; the stage's logging needs it, and "
            "DeliveryAccess sets it.",
            t.delivery_access_command,
        )
    elif role and not role.rsplit("/", 1)[-1].startswith(DELIVERY_ACCESS_STACK_ID):
        yield Problem(
            f"API Gateway's CloudWatch Logs role in {t.where} is {role}, set by someone else (one setting "
            "per account and region: the last stack to set it wins). Deploying DeliveryAccess takes it over "
            "with a retained role of the same AWS-managed policy: first make sure no other stack manages it.",
            t.delivery_access_command,
        )


def github_oidc(t: Target) -> Iterator[Problem]:
    """GitHub's OIDC provider, which the delivery roles trust, accepts tokens for STS. Before the setup, an
    existing one (an account holds one per URL) must be handed to DeliveryAccess instead of a new one."""
    arn = f"arn:{t.partition}:iam::{t.account}:oidc-provider/{GITHUB_OIDC_HOST}"
    iam = t.client("iam")
    provider = _unless_absent(
        "NoSuchEntity", lambda: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    )
    if provider is None:
        if not t.before_setup:
            yield Problem(
                f"{t.account} has no OIDC provider for {GITHUB_OIDC_HOST}.", t.delivery_access_command
            )
        return
    if t.before_setup:
        yield Problem(
            f"{t.account} has an OIDC provider for {GITHUB_OIDC_HOST} already; DeliveryAccess must trust it "
            "rather than create a second one.",
            f"{t.delivery_access_command} -c github_oidc_provider_arn={arn}",
        )
    if OIDC_AUDIENCE not in (audiences := provider["ClientIDList"]):
        yield Problem(
            f"the OIDC provider {arn} does not accept the audience {OIDC_AUDIENCE} (it has {audiences}).",
            f"aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {arn} "
            f"--client-id {OIDC_AUDIENCE}",
        )


def delivery_trust(t: Target) -> Iterator[Problem]:
    """The stage's delivery role trusts exactly the OIDC subject GitHub gives this repository's jobs in the
    stage's environment: ``repo:OWNER@ID/NAME@ID:...`` for repositories with immutable subjects (created or
    renamed from 15 July 2026 on, or opted in), ``repo:OWNER/NAME:...`` for older ones."""
    if t.github_repository is None:
        return
    name = t.settings.delivery_role_name
    role = _unless_absent("NoSuchEntity", lambda: t.client("iam").get_role(RoleName=name))
    if role is None:
        yield Problem(f"{t.account} has no delivery role {name}.", t.delivery_access_command)
        return
    expected = f"repo:{t.github_repository}:environment:{t.settings.slug}"
    trusted = sorted(
        str(subject)
        for statement in role["Role"]["AssumeRolePolicyDocument"].get("Statement", [])
        for operator in statement.get("Condition", {}).values()
        for key, subjects in operator.items()
        if key == f"{GITHUB_OIDC_HOST}:sub"
        for subject in (subjects if isinstance(subjects, list) else [subjects])
    )
    if trusted != [expected]:
        yield Problem(
            f"the delivery role {name} trusts the OIDC subjects {trusted}, but GitHub names this stage's "
            f"jobs {expected}: the Release would be denied AssumeRoleWithWebIdentity.",
            t.delivery_access_command,
        )


def waf_log_policy(t: Target) -> Iterator[Problem]:
    """WAF lists every log group it logs to in one account-wide CloudWatch Logs resource policy of at most
    5 120 characters: a stage adds its (stable-named) group once; without room, WAF logging fails."""
    if not t.settings.waf_enabled:
        return
    group = t.settings.waf_log_group_name
    policies = t.client("logs").describe_resource_policies()["resourcePolicies"]
    document = next((p["policyDocument"] for p in policies if p["policyName"] == WAF_LOG_POLICY), "")
    if group not in document and len(document) > LOG_POLICY_MAX_CHARACTERS - LOG_POLICY_ROOM_PER_GROUP:
        yield Problem(
            f"the CloudWatch Logs resource policy {WAF_LOG_POLICY} in {t.where} has "
            f"{LOG_POLICY_MAX_CHARACTERS - len(document)} of {LOG_POLICY_MAX_CHARACTERS} characters left, "
            f"too few for {group}: enabling WAF logging would fail.",
            f"aws logs describe-resource-policies --region {t.settings.region}; then remove the entries of "
            "log groups that no longer exist (aws logs put-resource-policy --policy-name AWSWAF-LOGS ...)",
        )


CHECKS: Final = (bootstrap, concurrency, api_gateway_logging, github_oidc, delivery_trust, waf_log_policy)
# What the setup (bootstrap, DeliveryAccess) changes or creates is not checked before it.
BEFORE_SETUP: Final = (concurrency, api_gateway_logging, github_oidc, waf_log_policy)
