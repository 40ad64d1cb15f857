"""How the end-to-end suite picks its target (its client, the package's, signs exactly the protected routes:
tests/unit/model/test_client.py and tests/integration/test_client_signed_endpoint.py)."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.e2e.target import Target, configured_base_url

STAGING_URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/staging/"


@pytest.fixture
def aws(mocked_aws):
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiUrl": {"Value": STAGING_URL}},
    }
    boto3.client("cloudformation", region_name="eu-west-1").create_stack(
        StackName="Staging-Service", TemplateBody=json.dumps(template)
    )


def test_no_configuration_means_the_local_service():
    assert configured_base_url({}) is None


def test_an_explicit_base_url_wins():
    environ = {"E2E_BASE_URL": "https://api.example.com", "E2E_STACK_NAME": "Staging-Service"}
    assert configured_base_url(environ) == "https://api.example.com"


def test_a_stack_name_is_resolved_to_its_api_url_output(aws):
    environ = {"E2E_STACK_NAME": "Staging-Service", "AWS_REGION": "eu-west-1"}
    assert configured_base_url(environ) == STAGING_URL


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:3000", True),
        ("http://localhost:3000/", True),
        ("http://[::1]:3000", True),
        (STAGING_URL, False),
        ("https://api.example.com", False),
    ],
)
def test_only_loopback_targets_are_local(url, loopback):
    assert Target(url).is_loopback is loopback
