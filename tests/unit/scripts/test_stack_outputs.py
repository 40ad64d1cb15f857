"""Reading a stage's CloudFormation outputs, against moto's CloudFormation."""

from __future__ import annotations

import json

import boto3
import pytest

from scripts.release import ReleaseError, stack_outputs
from scripts.release.stack_outputs import stack_output

REGION = "eu-west-1"
API_URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/staging/"
TEMPLATE = {
    "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "ApiUrl": {"Value": API_URL},
        "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
    },
}


@pytest.fixture
def staging_stack(mocked_aws):
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="Staging-Service", TemplateBody=json.dumps(TEMPLATE))
    return "Staging-Service"


def test_reads_a_literal_output(staging_stack):
    assert stack_output(staging_stack, "ApiUrl", region=REGION) == API_URL


def test_reads_an_output_resolved_from_a_resource(staging_stack):
    arn = stack_output(staging_stack, "AlarmTopicArn", region=REGION)
    assert arn.startswith(f"arn:aws:sns:{REGION}:")
    assert "AlarmTopic" in arn


def test_missing_output_names_the_outputs_that_exist(staging_stack):
    with pytest.raises(ReleaseError, match=r"no output 'DashboardUrl' \(outputs: AlarmTopicArn, ApiUrl\)"):
        stack_output(staging_stack, "DashboardUrl", region=REGION)


def test_missing_stack_is_a_clear_error(mocked_aws):
    with pytest.raises(ReleaseError, match="Production-Service"):
        stack_output("Production-Service", "ApiUrl", region=REGION)


def test_stack_in_another_region_is_not_found(staging_stack):
    with pytest.raises(ReleaseError):
        stack_output(staging_stack, "ApiUrl", region="us-east-1")


def test_cli_prints_only_the_value(staging_stack, capsys):
    stack_outputs.main(["--stack", staging_stack, "--output", "ApiUrl", "--region", REGION])
    assert capsys.readouterr().out == f"{API_URL}\n"


def test_cli_prints_nothing_for_a_missing_output(staging_stack, capsys):
    with pytest.raises(ReleaseError, match="no output 'Nope'"):
        stack_outputs.main(["--stack", staging_stack, "--output", "Nope", "--region", REGION])
    assert capsys.readouterr().out == ""


def test_no_region_anywhere_is_a_clear_error(mocked_aws):
    with pytest.raises(ReleaseError, match="region"):
        stack_output("Staging-Service", "ApiUrl")


def test_the_region_comes_from_aws_region_as_the_aws_cli_reads_it(staging_stack, monkeypatch):
    # boto3 alone reads only AWS_DEFAULT_REGION; a shell with AWS_REGION (the CLI's, GitHub's) must work too
    monkeypatch.setenv("AWS_REGION", REGION)
    assert stack_output(staging_stack, "ApiUrl") == API_URL
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert stack_output(staging_stack, "ApiUrl") == API_URL, "AWS_REGION wins, as in the AWS CLI"
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ReleaseError):
        stack_output(staging_stack, "ApiUrl")  # AWS_DEFAULT_REGION alone: the other region, no such stack
