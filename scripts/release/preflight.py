"""Preflight: what a stage's deployment depends on in its AWS account, checked with read-only calls.

    python -m scripts.release.preflight --stage Staging [--github-repository owner/name]

Prints one line per problem with the command that fixes it, and exits 1 if there is any. Run it with the
credentials that will deploy: an administrator's before the first deployment (docs/deploy.md), the stage's
delivery role in the Release, which runs it before every deployment. It checks the credentials and their
account, the region the stage will use, the CDK bootstrap of the stage's qualifier and its version, the
Lambda concurrency quota against what the stage reserves, API Gateway's account-level CloudWatch Logs role,
GitHub's OIDC provider, and the bootstrap image repository.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from infra_cdk.settings import (
    DELIVERY_ACCESS_STACK_ID,
    GITHUB_OIDC_HOST,
    GITHUB_REPOSITORY,
    HOOK_RESERVED_CONCURRENCY,
    LAMBDA_CONCURRENCY_QUOTA_CODE,
    OIDC_AUDIENCE,
    STAGES,
    SettingsError,
    StageSettings,
    delivery_access_stacks,
    stage_named,
)

# The bootstrap version whose deploy role may roll back a stack stuck in UPDATE_ROLLBACK_FAILED
# (`cdk rollback`, CDK's BOOTSTRAP_STACK_VERSION_FOR_ROLLBACK): a release can then be recovered without an
# administrator. Templates synthesised by this CDK check only for 6 or more.
MIN_BOOTSTRAP_VERSION: Final = 23
# Lambda keeps this much of the account's concurrency unreserved (the whole quota when it is smaller, as
# on new accounts with a quota of 10: nothing can be reserved there).
MIN_UNRESERVED: Final = 100
STANDARD_QUOTA: Final = 1_000  # Lambda's usual quota: what an increase request normally asks for


@dataclass(frozen=True, slots=True)
class Problem:
    what: str
    fix: str

    def __str__(self) -> str:
        return f"PROBLEM {self.what} FIX: {self.fix}"


@dataclass(frozen=True, slots=True)
class Target:
    """What the checks look at: the stage, where its credentials are, and how to reach AWS from there."""

    settings: StageSettings
    account: str
    partition: str
    client: Callable[[str], Any]  # a boto3 client of the stage's region, by service name
    github_repository: str

    @property
    def where(self) -> str:
        return f"{self.account}/{self.settings.region}"

    @property
    def bootstrap_command(self) -> str:
        s = self.settings
        return (
            f"npx cdk bootstrap aws://{self.where} --qualifier {s.bootstrap_qualifier} "
            f"--toolkit-stack-name {s.toolkit_stack_name}"
        )

    @property
    def delivery_access_command(self) -> str:
        (name,) = [
            n
            for n, group in delivery_access_stacks(STAGES).items()
            if self.settings.name in {s.name for s in group}
        ]
        return f"npx cdk deploy {name} -c github_repository={self.github_repository}"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# --- The checks: each yields its problems ---------------------------------------------------------------
def region(
    settings: StageSettings, environ: Mapping[str, str], profile_region: str | None
) -> Iterator[Problem]:
    """The stage deploys to its settings' region whatever the CLI's default; the scripts, the end-to-end
    suite and the Release's AWS_REGION variable must point there too, or they look for it elsewhere."""
    for source, value in (
        ("AWS_REGION", environ.get("AWS_REGION")),
        ("AWS_DEFAULT_REGION", environ.get("AWS_DEFAULT_REGION")),
        ("the profile's region", profile_region),
    ):
        if value:
            if value != settings.region:
                yield Problem(
                    f"the region is {value} ({source}), but {settings.name} deploys to {settings.region} "
                    "(infra_cdk/settings.py): the stage's outputs and API would be looked for elsewhere.",
                    f"export AWS_REGION={settings.region}  (in GitHub: gh variable set AWS_REGION --body "
                    f"{settings.region})",
                )
            return


def bootstrap(t: Target) -> Iterator[Problem]:
    """The stage's CDK bootstrap (its qualifier) exists, recent enough, with its image repository."""
    parameter = f"/cdk-bootstrap/{t.settings.bootstrap_qualifier}/version"
    try:
        version = int(t.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"])
    except ClientError as error:
        if _code(error) != "ParameterNotFound":
            raise
        yield Problem(
            f"{t.where} has no CDK bootstrap with qualifier {t.settings.bootstrap_qualifier} "
            f"(no {parameter}).",
            t.bootstrap_command,
        )
        return
    if version < MIN_BOOTSTRAP_VERSION:
        yield Problem(
            f"the CDK bootstrap {t.settings.bootstrap_qualifier} in {t.where} is version {version}; this "
            f"project needs {MIN_BOOTSTRAP_VERSION} or later (its deploy role can then roll a stack back).",
            t.bootstrap_command,
        )
    repository = t.settings.container_assets_repository(t.account)
    try:
        t.client("ecr").describe_repositories(repositoryNames=[repository])
    except ClientError as error:
        if _code(error) != "RepositoryNotFoundException":
            raise
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
    reserved_now = limit["ConcurrentExecutions"] - limit["UnreservedConcurrentExecutions"]
    elsewhere = reserved_now - _reserved_by_stage(t)
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


def _reserved_by_stage(t: Target) -> int:
    """What the stage's functions reserve already (0 before its first deployment): a redeployment only
    needs the difference."""
    try:
        pages = t.client("cloudformation").get_paginator("list_stack_resources")
        functions = [
            resource["PhysicalResourceId"]
            for page in pages.paginate(StackName=t.settings.stack_name)
            for resource in page["StackResourceSummaries"]
            if resource["ResourceType"] == "AWS::Lambda::Function" and resource.get("PhysicalResourceId")
        ]
    except ClientError as error:
        if _code(error) != "ValidationError":  # "Stack with id ... does not exist"
            raise
        return 0
    lambda_ = t.client("lambda")
    return sum(
        int(lambda_.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions", 0))
        for name in functions
    )


def api_gateway_logging(t: Target) -> Iterator[Problem]:
    """API Gateway's account-level CloudWatch Logs role: the stage's execution logging needs it, and it is
    one setting per account and region, which the DeliveryAccess stack owns."""
    role = t.client("apigateway").get_account().get("cloudwatchRoleArn")
    if not role:
        yield Problem(
            f"API Gateway has no CloudWatch Logs role in {t.where}; the stage's logging needs it, and "
            "DeliveryAccess sets it.",
            t.delivery_access_command,
        )
    elif not role.rsplit("/", 1)[-1].startswith(DELIVERY_ACCESS_STACK_ID):
        yield Problem(
            f"API Gateway's CloudWatch Logs role in {t.where} is {role}, set by someone else (one setting "
            "per account and region: the last stack to set it wins). Deploying DeliveryAccess takes it over "
            "with a retained role of the same AWS-managed policy: first make sure no other stack manages it.",
            t.delivery_access_command,
        )


def github_oidc(t: Target) -> Iterator[Problem]:
    """GitHub's OIDC provider, which the delivery roles trust, accepts tokens for STS."""
    arn = f"arn:{t.partition}:iam::{t.account}:oidc-provider/{GITHUB_OIDC_HOST}"
    try:
        audiences = t.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"]
    except ClientError as error:
        if _code(error) != "NoSuchEntity":
            raise
        yield Problem(f"{t.account} has no OIDC provider for {GITHUB_OIDC_HOST}.", t.delivery_access_command)
        return
    if OIDC_AUDIENCE not in audiences:
        yield Problem(
            f"the OIDC provider {arn} does not accept the audience {OIDC_AUDIENCE} (it has {audiences}).",
            f"aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {arn} "
            f"--client-id {OIDC_AUDIENCE}",
        )


CHECKS: Final = (bootstrap, concurrency, api_gateway_logging, github_oidc)


# --- Running them ---------------------------------------------------------------------------------------
def preflight(
    settings: StageSettings,
    client: Callable[[str], Any],
    *,
    environ: Mapping[str, str],
    profile_region: str | None = None,
    github_repository: str = "OWNER/NAME",
) -> list[Problem]:
    """Every problem the stage's deployment would meet; [] when it is ready."""
    problems = list(region(settings, environ, profile_region))
    try:
        identity = client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:  # no credentials at all, expired ones, a broken profile
        problems.append(
            Problem(
                f"no usable AWS credentials ({error}).",
                "aws sso login --profile <name> && export AWS_PROFILE=<name>  (once: aws configure sso)",
            )
        )
        return problems
    account = identity["Account"]
    if settings.account is not None and account != settings.account:
        problems.append(
            Problem(
                f"the credentials are for account {account}, {settings.name} deploys to {settings.account}.",
                f"export AWS_PROFILE=<a profile of account {settings.account}>",
            )
        )
        return problems
    target = Target(settings, account, identity["Arn"].split(":")[1], client, github_repository)
    for check in CHECKS:
        try:
            problems += check(target)
        except (BotoCoreError, ClientError) as error:  # AccessDenied and the like: say which check
            problems.append(
                Problem(
                    f"{check.__name__} could not read {target.where}: {error}.",
                    "run with credentials that may (an administrator's), or redeploy DeliveryAccess, which "
                    f"grants the delivery role these reads: {target.delivery_access_command}",
                )
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", required=True, help="Staging or Production (infra_cdk/settings.py)")
    parser.add_argument(
        "--github-repository",
        default=os.environ.get("GITHUB_REPOSITORY", "OWNER/NAME"),
        help="owner/name, for the DeliveryAccess command (default: $GITHUB_REPOSITORY)",
    )
    args = parser.parse_args(argv)
    try:
        settings = stage_named(args.stage)
    except SettingsError as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 2
    if args.github_repository != "OWNER/NAME" and not GITHUB_REPOSITORY.match(args.github_repository):
        print(f"preflight: {args.github_repository!r} is not owner/name", file=sys.stderr)
        return 2

    import boto3

    try:
        session = boto3.Session()
    except BotoCoreError as error:  # AWS_PROFILE names a profile that does not exist
        print(
            Problem(
                f"no usable AWS credentials ({error}).",
                "export AWS_PROFILE=<a profile of aws configure list-profiles>",
            )
        )
        return 1
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, region_name=settings.region)  # type: ignore[call-overload]
        return clients[service]

    problems = preflight(
        settings,
        client,
        environ=os.environ,
        profile_region=session.region_name,
        github_repository=args.github_repository,
    )
    for problem in problems:
        print(problem)
    if problems:
        print(f"preflight {settings.name}: {len(problems)} problem(s)")
        return 1
    print(f"preflight {settings.name}: ready ({settings.region}, bootstrap {settings.bootstrap_qualifier})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
