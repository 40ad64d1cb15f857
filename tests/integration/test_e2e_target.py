"""How the end-to-end suite picks its target, and that its client signs exactly the protected routes."""

from __future__ import annotations

import json
import threading

import boto3
import pytest
from botocore.credentials import ReadOnlyCredentials

from model import contract
from scripts.dev.server import DevServer
from tests.e2e.client import ApiClient
from tests.e2e.sigv4 import SigV4Auth
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


class HeaderRecorder:
    def __init__(self) -> None:
        self.headers: dict[str, list[dict[str, str]]] = {}

    def invoke(self, event, request_id):
        headers = {k.lower(): v for k, v in (event["headers"] or {}).items()}
        self.headers.setdefault(event["path"], []).append(headers)
        return {"statusCode": 200, "body": "{}"}

    def close(self) -> None:
        return None


def test_client_signs_protected_routes_and_only_those():
    recorder = HeaderRecorder()
    server = DevServer(("127.0.0.1", 0), recorder)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    client = ApiClient(
        server.url, protected_auth=SigV4Auth(ReadOnlyCredentials("AKID", "SECRET", None), "eu-west-1")
    )
    try:
        for route in contract.ROUTES:
            client.request(route.method, route.path, json={} if route.method == "POST" else None)
        client.get("/v1/model", signed=False)  # an explicitly unsigned call, as the access tests make
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    for route in contract.ROUTES:
        first = recorder.headers[route.path][0]
        if route.public:
            assert "authorization" not in first, route
        else:
            assert first["authorization"].startswith("AWS4-HMAC-SHA256 "), route
    assert "authorization" not in recorder.headers["/v1/model"][1]
