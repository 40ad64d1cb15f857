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


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_a_stages_stack_is_read_in_the_stages_region_whatever_the_environment_says(
    staging_stack, monkeypatch, variable
):
    # One region rule: a stack of this app is where its settings put it
    monkeypatch.setenv(variable, "us-east-1")
    assert stack_output(staging_stack, "ApiUrl") == API_URL


def test_a_stack_the_settings_do_not_know_needs_a_region(mocked_aws, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(ReleaseError, match="no region"):
        stack_output("Someone-Elses-Stack", "ApiUrl")
