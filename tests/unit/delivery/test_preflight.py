"""The preflight against moto (STS, SSM, ECR, IAM, API Gateway, CloudFormation) and botocore's Stubber
where moto has no API (Lambda's account settings, Service Quotas) or for a stage's existing resources."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infra_cdk.settings import GITHUB_OIDC_HOST, LAMBDA_CONCURRENCY_QUOTA_CODE, stage_named
from scripts.release import ReleaseError, preflight
from scripts.release.preflight_checks import Problem

ACCOUNT = "123456789012"  # moto's
STAGING, PRODUCTION = (stage_named(name) for name in ("Staging", "Production"))
REGION = STAGING.region
REPOSITORY = "example-org@101/diabetes-progression@202"  # as GitHub's immutable OIDC subjects name it
OURS = f"arn:aws:iam::{ACCOUNT}:role/DeliveryAccess-ApiGatewayCloudWatchRole7D9A4E2B-Q1W2E3R4T5Y6"
OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"


def bootstrap(settings, version: str = "30", repository: bool = True) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=f"/cdk-bootstrap/{settings.bootstrap_qualifier}/version", Value=version, Type="String"
    )
    if repository:
        boto3.client("ecr", region_name=REGION).create_repository(
            repositoryName=settings.container_assets_repository(ACCOUNT)
        )


def delivery_role(settings, repository: str = REPOSITORY) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": OIDC},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC_HOST}:sub": f"repo:{repository}:environment:{settings.slug}",
                    }
                },
            }
        ],
    }
    boto3.client("iam").create_role(
        RoleName=settings.delivery_role_name, AssumeRolePolicyDocument=json.dumps(trust)
    )


def delivery_access(
    audiences: tuple[str, ...] = ("sts.amazonaws.com",),
    logging_role: str | None = OURS,
    repository: str = REPOSITORY,
) -> None:
    boto3.client("iam").create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=list(audiences),
        ThumbprintList=["a" * 40],
    )
    for settings in (STAGING, PRODUCTION):
        delivery_role(settings, repository)
    if logging_role:
        boto3.client("apigateway", region_name=REGION).update_account(
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": logging_role}]
        )


@pytest.fixture
def account(mocked_aws: None) -> None:
    """An account made ready as docs/deploy.md says: both bootstraps, then DeliveryAccess."""
    for settings in (STAGING, PRODUCTION):
        bootstrap(settings)
    delivery_access()


def lambda_quota(
    limit: int, unreserved: int, quota: float | None = None, stubbed: dict[str, Stubber] | None = None
) -> dict[str, Any]:
    """Lambda's and Service Quotas' answers, which moto does not implement."""
    lambda_ = boto3.client("lambda", region_name=REGION)
    quotas = boto3.client("service-quotas", region_name=REGION)
    stubbers = {"lambda": Stubber(lambda_), "service-quotas": Stubber(quotas)}
    stubbers["lambda"].add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": unreserved}},
    )
    stubbers["service-quotas"].add_response(
        "get_service_quota",
        {
            "Quota": {
                "QuotaCode": LAMBDA_CONCURRENCY_QUOTA_CODE,
                "Value": float(limit if quota is None else quota),
            }
        },
        {"ServiceCode": "lambda", "QuotaCode": LAMBDA_CONCURRENCY_QUOTA_CODE},
    )
    for stubber in stubbers.values():
        stubber.activate()
    if stubbed is not None:
        stubbed.update(stubbers)
    return {"lambda": lambda_, "service-quotas": quotas}


def clients(overrides: dict[str, Any] | None = None) -> Callable[[str], Any]:
    """A client per service: the given (stubbed) ones, else moto's."""
    made = dict(overrides or {})

    def client(service: str) -> Any:
        if service not in made:
            made[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return made[service]

    return client


def run(
    settings,
    client: Callable[[str], Any] | None = None,
    *,
    before_setup: bool = False,
    repository: str | None = REPOSITORY,
) -> list[Problem]:
    return preflight.preflight(
        settings, client or clients(), before_setup=before_setup, github_repository=repository
    )


# --- A ready account -------------------------------------------------------------------------------------
def test_a_ready_account_has_no_problem_for_either_stage(account):
    # Staging reserves nothing: no quota is read for it (the stubbed Lambda would refuse an unexpected call)
    assert run(STAGING, clients(lambda_quota(0, 0))) == []
    assert run(PRODUCTION, clients(lambda_quota(1_000, 1_000))) == []


# --- Lambda concurrency ----------------------------------------------------------------------------------
def test_a_new_account_with_a_quota_of_10_can_take_staging_but_not_productions_ceiling(account):
    # Given a new account: 10 concurrent executions, all of which must stay unreserved
    # Then Staging (no reservation) has nothing to check, and Production says what quota it needs and how
    assert run(STAGING, clients(lambda_quota(10, 10))) == []
    (problem,) = run(PRODUCTION, clients(lambda_quota(10, 10)))
    needed = PRODUCTION.reserved_concurrency_total + 100
    assert f"needs a Lambda concurrency quota of {needed} and has 10" in problem.what
    assert problem.fix == (
        f"aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 "
        f"--desired-value 1000 --region {REGION}"
    )


def test_what_other_functions_reserve_counts_against_the_quota(account):
    # Given a standard quota of which other functions already reserve 900
    (problem,) = run(PRODUCTION, clients(lambda_quota(1_000, 100)))
    needed = 900 + PRODUCTION.reserved_concurrency_total + 100
    assert "with 900 reserved by other functions" in problem.what
    assert f"--desired-value {needed} " in problem.fix


def test_the_lower_of_lambdas_limit_and_the_applied_quota_decides(account):
    # An increase applied in Service Quotas but not yet in Lambda (or the reverse) does not pass early
    (problem,) = run(PRODUCTION, clients(lambda_quota(10, 10, quota=1_000)))
    assert "has 10" in problem.what


def test_a_redeployment_counts_what_the_stage_reserves_already(account):
    # Given Production deployed: its function and hook reserve their share, other functions 48, quota 200
    stubbed: dict[str, Stubber] = {}
    overrides = lambda_quota(200, 200 - 48 - PRODUCTION.reserved_concurrency_total, stubbed=stubbed)
    functions = {
        "Production-Service-Function76856677-A": PRODUCTION.reserved_concurrency,
        "Production-Service-Hook-B": 2,
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cloudformation) as stack:
        stack.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        "LogicalResourceId": name.split("-")[2],
                        "PhysicalResourceId": name,
                        "ResourceType": "AWS::Lambda::Function",
                        "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
                        "ResourceStatus": "UPDATE_COMPLETE",
                    }
                    for name in functions
                ]
            },
            {"StackName": PRODUCTION.stack_name},
        )
        for name, reserved in functions.items():
            stubbed["lambda"].add_response(
                "get_function_concurrency", {"ReservedConcurrentExecutions": reserved}, {"FunctionName": name}
            )
        # Then its own reservation is not counted twice: 48 + 52 + 100 fits 200 exactly
        assert run(PRODUCTION, clients({**overrides, "cloudformation": cloudformation})) == []
    stubbed["lambda"].assert_no_pending_responses()


STAGING_BOOTSTRAP_FIX = (
    f"npx cdk bootstrap aws://{ACCOUNT}/{REGION} --qualifier dpstaging"
    " --toolkit-stack-name CDKToolkit-dpstaging"
)


# --- Bootstrap -------------------------------------------------------------------------------------------
def test_a_missing_bootstrap_says_how_to_bootstrap_the_stages_qualifier(mocked_aws):
    delivery_access()
    bootstrap(PRODUCTION)
    (problem,) = run(STAGING)
    assert "has no CDK bootstrap with qualifier dpstaging" in problem.what
    assert problem.fix == STAGING_BOOTSTRAP_FIX


def test_an_old_bootstrap_or_a_missing_image_repository_is_reported(mocked_aws):
    delivery_access()
    bootstrap(STAGING, version="14", repository=False)
    old, repository = run(STAGING)
    assert "is version 14; this project needs 23 or later" in old.what
    assert f"{STAGING.container_assets_repository(ACCOUNT)} does not exist" in repository.what
    assert old.fix == repository.fix == STAGING_BOOTSTRAP_FIX


# --- DeliveryAccess: OIDC provider and API Gateway's logging role ---------------------------------------
DELIVERY_ACCESS_FIX = f"npx cdk deploy DeliveryAccess -c github_repository={REPOSITORY}"


def test_an_account_without_delivery_access_is_told_to_deploy_it(mocked_aws):
    bootstrap(STAGING)
    problems = run(STAGING)
    assert [p.what.split(" ")[-1] for p in problems] == [
        "it.",
        f"{GITHUB_OIDC_HOST}.",
        f"{STAGING.delivery_role_name}.",
    ]
    assert {p.fix for p in problems} == {DELIVERY_ACCESS_FIX}


def test_an_api_gateway_logging_role_set_by_someone_else_is_reported(mocked_aws):
    bootstrap(STAGING)
    theirs = f"arn:aws:iam::{ACCOUNT}:role/other-app-apigateway-logs"
    delivery_access(logging_role=theirs)
    (problem,) = run(STAGING)
    assert f"is {theirs}, set by someone else" in problem.what
    assert problem.fix == DELIVERY_ACCESS_FIX


def test_an_oidc_provider_without_the_sts_audience_is_reported(mocked_aws):
    bootstrap(STAGING)
    delivery_access(audiences=("sigstore",))
    (problem,) = run(STAGING)
    assert problem.fix == (
        f"aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {OIDC} "
        "--client-id sts.amazonaws.com"
    )


def test_with_one_account_per_stage_the_stages_own_delivery_access_is_named(mocked_aws, monkeypatch):
    per_account = (
        dataclasses.replace(STAGING, account="111111111111"),
        dataclasses.replace(PRODUCTION, account=ACCOUNT),
    )
    monkeypatch.setattr(preflight, "STAGES", per_account)
    bootstrap(per_account[1])
    problems = run(per_account[1], clients(lambda_quota(1_000, 1_000)))
    assert len(problems) == 3  # no OIDC provider, no API Gateway logging role, no delivery role
    assert {p.fix for p in problems} == {
        f"npx cdk deploy DeliveryAccess-Production -c github_repository={REPOSITORY}"
    }


# --- Credentials, account, region ------------------------------------------------------------------------
def test_credentials_of_another_account_stop_the_checks(account):
    elsewhere = dataclasses.replace(PRODUCTION, account="222222222222")
    (problem,) = run(elsewhere)
    assert problem.what == f"the credentials are for account {ACCOUNT}, Production deploys to 222222222222."
    assert problem.fix == "export AWS_PROFILE=<a profile of account 222222222222>"


def test_no_usable_credentials_stop_the_checks(account):
    sts = boto3.client("sts", region_name=REGION)
    with Stubber(sts) as stubber:
        stubber.add_client_error(
            "get_caller_identity", "ExpiredToken", "The security token included in the request is expired"
        )
        (problem,) = run(STAGING, clients({"sts": sts}))
    assert "no usable AWS credentials" in problem.what
    assert "aws sso login" in problem.fix


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_the_region_is_the_stages_whatever_the_environment_or_profile_says(
    account, monkeypatch, capsys, variable
):
    # One region rule: every command of the project reads the stage's region from its settings
    monkeypatch.setenv(variable, "us-east-1")
    preflight.main(["--stage", "Staging", "--github-repository", REPOSITORY])
    assert capsys.readouterr().out == f"preflight Staging: ready (bootstrap dpstaging) in {REGION}\n"


# --- Before the setup: what the bootstrap and DeliveryAccess would take over or fail on --------------------
def test_an_untouched_account_is_ready_for_the_setup(mocked_aws):
    # Nothing bootstrapped, no DeliveryAccess yet: not problems before the setup, which makes them
    assert run(STAGING, before_setup=True) == []


def test_before_the_setup_a_logging_role_of_someone_else_is_reported_before_delivery_access_takes_it(
    mocked_aws,
):
    theirs = f"arn:aws:iam::{ACCOUNT}:role/other-app-apigateway-logs"
    boto3.client("apigateway", region_name=REGION).update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": theirs}]
    )
    (problem,) = run(STAGING, before_setup=True)
    assert f"is {theirs}, set by someone else" in problem.what


def test_before_the_setup_an_existing_oidc_provider_is_to_be_handed_to_delivery_access(mocked_aws):
    boto3.client("iam").create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
    )
    (problem,) = run(STAGING, before_setup=True)
    assert "has an OIDC provider for token.actions.githubusercontent.com already" in problem.what
    assert problem.fix == f"{DELIVERY_ACCESS_FIX} -c github_oidc_provider_arn={OIDC}"


def test_before_the_setup_productions_reservation_is_checked_against_the_quota(mocked_aws):
    (problem,) = run(PRODUCTION, clients(lambda_quota(10, 10)), before_setup=True)
    assert "needs a Lambda concurrency quota of 152 and has 10" in problem.what


# --- The delivery roles trust exactly the OIDC subject GitHub gives the repository ------------------------
def test_a_role_trusting_the_name_of_a_repository_with_immutable_subjects_is_reported(mocked_aws):
    bootstrap(STAGING)
    delivery_access(repository="example-org/diabetes-progression")  # the form before 15 July 2026
    (problem,) = run(STAGING)
    assert (
        "trusts the OIDC subjects ['repo:example-org/diabetes-progression:environment:staging']"
        in problem.what
    )
    assert f"names this stage's jobs repo:{REPOSITORY}:environment:staging" in problem.what
    assert problem.fix == DELIVERY_ACCESS_FIX


def test_a_repository_without_immutable_subjects_is_checked_by_its_name(mocked_aws):
    bootstrap(STAGING)
    delivery_access(repository="example-org/diabetes-progression")
    assert run(STAGING, repository="example-org/diabetes-progression") == []


def test_a_missing_delivery_role_is_reported_and_no_repository_means_no_trust_check(mocked_aws):
    bootstrap(STAGING)
    delivery_access()
    boto3.client("iam").delete_role(RoleName=STAGING.delivery_role_name)
    (problem,) = run(STAGING)
    assert f"has no delivery role {STAGING.delivery_role_name}" in problem.what
    assert run(STAGING, repository=None) == []  # the Release: its role assumption proved the trust


# --- WAF's account-wide log policy ----------------------------------------------------------------------
def waf_log_policy(document: str) -> None:
    boto3.client("logs", region_name=REGION).put_resource_policy(
        policyName="AWSWAF-LOGS", policyDocument=document
    )


def padded_policy(mention: str, length: int) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Resource": [mention],
    }
    text = json.dumps({"Version": "2012-10-17", "Statement": [statement], "Sid": ""})
    return text.replace('"Sid": ""', '"Sid": "' + "x" * (length - len(text)) + '"')


def test_a_nearly_full_waf_log_policy_is_reported_unless_it_lists_the_stages_group_already(account):
    waf_log_policy(padded_policy("arn:aws:logs:eu-west-1:123456789012:log-group:aws-waf-logs-other", 5_000))
    (problem,) = run(STAGING)
    assert f"has 120 of 5120 characters left, too few for {STAGING.waf_log_group_name}" in problem.what
    boto3.client("logs", region_name=REGION).delete_resource_policy(policyName="AWSWAF-LOGS")
    waf_log_policy(
        padded_policy(f"arn:aws:logs:eu-west-1:123456789012:log-group:{STAGING.waf_log_group_name}", 5_000)
    )
    assert run(STAGING) == []  # the stable name is listed already: a re-creation adds nothing


def test_a_stage_without_waf_does_not_read_the_log_policy(account):
    waf_log_policy(padded_policy("arn:aws:logs:eu-west-1:123456789012:log-group:aws-waf-logs-other", 5_000))
    assert run(dataclasses.replace(STAGING, waf_enabled=False)) == []


def test_a_check_that_may_not_read_says_so_and_the_others_still_run(account):
    apigateway = boto3.client("apigateway", region_name=REGION)
    with Stubber(apigateway) as stubber:
        stubber.add_client_error(
            "get_account", "AccessDeniedException", "not authorized to perform: apigateway:GET"
        )
        (problem,) = run(STAGING, clients({"apigateway": apigateway}))
    assert problem.what.startswith(f"api_gateway_logging could not read {ACCOUNT}/{REGION}: ")
    assert "AccessDeniedException" in problem.what
    assert DELIVERY_ACCESS_FIX in problem.fix


# --- Command line ----------------------------------------------------------------------------------------
def test_the_command_exits_0_on_a_ready_account(account, capsys):
    preflight.main(["--stage", "Staging", "--github-repository", REPOSITORY])
    assert capsys.readouterr().out == f"preflight Staging: ready (bootstrap dpstaging) in {REGION}\n"


def test_the_command_prints_one_line_per_problem_and_exits_1(mocked_aws, capsys):
    with pytest.raises(ReleaseError, match=r"^Staging: 4 problem\(s\)$"):
        preflight.main(["--stage", "Staging", "--github-repository", REPOSITORY])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    for line in lines:
        assert line.startswith("PROBLEM "), line
        assert " FIX: " in line, line


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--stage", "Prod"], "no stage 'Prod'"),
        (["--stage", "Staging", "--github-repository", "x"], "owner/name"),
        (["--stage", "Staging", "--github-repository", "a@1/b"], "owner/name"),
    ],
)
def test_bad_arguments_are_refused(capsys, arguments, message):
    with pytest.raises(SystemExit, match="2"):
        preflight.main(arguments)
    assert message in capsys.readouterr().err
