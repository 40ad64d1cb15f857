"""Preflight: what a stage's deployment depends on in its AWS account, checked with read-only calls.

Prints one line per problem with the command that fixes it. Run it with the credentials that will deploy:
an administrator's, ``--before-setup``, before the first bootstrap and DeliveryAccess change the account
(what they would take over or fail on: API Gateway's logging role, an existing GitHub OIDC provider, the
concurrency quota, WAF's log policy), then again after them (docs/deploy.md); the stage's delivery role in
the Release, before every deployment. The stage's region is always its settings' (one region rule: the
CLI's default region and AWS_REGION do not matter to the project's commands).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Iterator
from typing import Any, Final, NamedTuple

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra_cdk.settings import (
    DELIVERY_ACCESS_STACK_ID,
    GITHUB_OIDC_HOST,
    HOOK_RESERVED_CONCURRENCY,
    LAMBDA_CONCURRENCY_QUOTA_CODE,
    LOG_POLICY_MAX_CHARACTERS,
    OIDC_AUDIENCE,
    STAGES,
    WAF_LOG_POLICY,
    StageSettings,
    delivery_access_stacks,
)
from scripts.release import ReleaseError, parse_github_repository, parse_stage, run

# The first bootstrap whose deploy role may `cdk rollback` a stack stuck in UPDATE_ROLLBACK_FAILED (CDK's
# BOOTSTRAP_STACK_VERSION_FOR_ROLLBACK), so no administrator is needed; templates themselves require 6.
MIN_BOOTSTRAP_VERSION: Final = 23
# Lambda keeps this much of the account's concurrency unreserved (the whole quota when it is smaller, as
# on new accounts with a quota of 10: nothing can be reserved there).
MIN_UNRESERVED: Final = 100
STANDARD_QUOTA: Final = 1_000  # Lambda's usual quota: what an increase request normally asks for
# What WAF adds to its log policy for one more log group: the group's ARN and the web ACL's, about 200.
LOG_POLICY_ROOM_PER_GROUP: Final = 300


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


# --- The checks: each yields its problems ---------------------------------------------------------------
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
    if t.before_setup or t.github_repository is None:
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


# --- Running them ---------------------------------------------------------------------------------------
def preflight(
    settings: StageSettings,
    client: Callable[[str], Any],
    *,
    before_setup: bool = False,
    github_repository: str | None = None,
) -> list[Problem]:
    """Every problem the stage's deployment would meet; [] when it is ready."""
    try:
        identity = client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:  # no credentials at all, expired ones, a broken profile
        fix = "aws sso login --profile <name> && export AWS_PROFILE=<name>  (once: aws configure sso)"
        return [Problem(f"no usable AWS credentials ({error}).", fix)]
    account, where = identity["Account"], f"{identity['Account']}/{settings.region}"
    if settings.account not in (None, account):
        what = f"the credentials are for account {account}, {settings.name} deploys to {settings.account}."
        return [Problem(what, f"export AWS_PROFILE=<a profile of account {settings.account}>")]
    access_stack = next(
        name
        for name, group in delivery_access_stacks(STAGES).items()
        if settings.name in {s.name for s in group}
    )
    bootstrap_command = (
        f"npx cdk bootstrap aws://{where} --qualifier {settings.bootstrap_qualifier} "
        f"--toolkit-stack-name {settings.toolkit_stack_name}"
    )
    access_command = (
        f"npx cdk deploy {access_stack} -c github_repository={github_repository or 'OWNER@ID/NAME@ID'}"
    )
    partition = identity["Arn"].split(":")[1]
    target = Target(
        settings, account, partition, client, where, bootstrap_command, access_command, before_setup,
        github_repository,
    )  # fmt: skip
    problems: list[Problem] = []
    for check in BEFORE_SETUP if before_setup else CHECKS:
        try:
            problems += check(target)
        except (BotoCoreError, ClientError) as error:  # AccessDenied and the like: say which check
            fix = "run with credentials that may (an administrator's), or redeploy DeliveryAccess, which "
            fix += f"grants the delivery role these reads: {access_command}"
            problems.append(Problem(f"{check.__name__} could not read {where}: {error}.", fix))
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=parse_stage, required=True, help="a stage of infra_cdk/settings.py")
    parser.add_argument(
        "--github-repository",
        type=parse_github_repository,
        help="as GitHub's OIDC subject names it, OWNER@<owner id>/NAME@<repository id> (or OWNER/NAME for a "
        "repository without immutable subjects): the delivery role must trust exactly it",
    )
    parser.add_argument(
        "--before-setup", action="store_true", help="before the bootstrap and DeliveryAccess (docs/deploy.md)"
    )
    args = parser.parse_args(argv)
    settings: StageSettings = args.stage
    try:
        session = boto3.Session()
    except BotoCoreError as error:  # AWS_PROFILE names a profile that does not exist
        fix = "export AWS_PROFILE=<a profile of aws configure list-profiles>"
        problems = [Problem(f"no usable AWS credentials ({error}).", fix)]
    else:
        problems = preflight(
            settings,
            functools.partial(session.client, region_name=settings.region),
            before_setup=args.before_setup,
            github_repository=args.github_repository,
        )
    for problem in problems:
        print(f"PROBLEM {problem.what} FIX: {problem.fix}")
    if problems:
        raise ReleaseError(f"{settings.name}: {len(problems)} problem(s)")
    phase = "for the setup" if args.before_setup else f"(bootstrap {settings.bootstrap_qualifier})"
    print(f"preflight {settings.name}: ready {phase} in {settings.region}")


if __name__ == "__main__":
    run(main)
