"""The pre-traffic hook's logic: what it sends to the new version, how it judges the answers, and that it
always reports a verdict to CodeDeploy. AWS calls go through botocore clients with Stubber, so request and
response shapes are checked against the real service models."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from infra_cdk.deployment.pre_traffic_hook import hook

TARGET = "arn:aws:lambda:eu-west-1:123456789012:function:diabetes-progression-staging:7"
EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "hook-execution-id-1"}
CHECK: dict[str, Any] = {
    "name": "batch prediction",
    "method": "POST",
    "path": "/v1/predict/batch",
    "body": {"bmi": [20.0, 30.0]},
    "status": 200,
    "expect": {"predictions": [88.4, 189.5], "extrapolated": [False, False], "model_version": "bmi-linear-x"},
}
GOOD_BODY = {"predictions": [88.4, 189.5], "extrapolated": [False, False], "model_version": "bmi-linear-x"}


def client(service: str) -> Any:
    return botocore.session.get_session().create_client(
        service, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def proxy_payload(status: int, body: Any) -> dict[str, Any]:
    data = json.dumps({"statusCode": status, "headers": {}, "body": json.dumps(body)}).encode()
    return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data))}


def raw_payload(data: bytes, **extra: Any) -> dict[str, Any]:
    return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data)), **extra}


class Hook:
    """The hook wired to stubbed Lambda and CodeDeploy clients."""

    def __init__(self, checks: list[dict[str, Any]]) -> None:
        self.lambda_client, self.codedeploy_client = client("lambda"), client("codedeploy")
        self.lambda_stub, self.codedeploy_stub = Stubber(self.lambda_client), Stubber(self.codedeploy_client)
        self.environ = {"TARGET_VERSION_ARN": TARGET, "CHECKS": json.dumps(checks)}

    def invoked_with(self, response: dict[str, Any]) -> None:
        self.lambda_stub.add_response(
            "invoke", response, {"FunctionName": TARGET, "InvocationType": "RequestResponse", "Payload": ANY}
        )

    def expect_verdict(self, status: str) -> None:
        self.codedeploy_stub.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"]},
            {
                "deploymentId": EVENT["DeploymentId"],
                "lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"],
                "status": status,
            },
        )

    def run(self) -> dict[str, str]:
        with self.lambda_stub, self.codedeploy_stub:
            verdict = hook.run(
                EVENT,
                lambda_client=self.lambda_client,
                codedeploy_client=self.codedeploy_client,
                environ=self.environ,
            )
            self.lambda_stub.assert_no_pending_responses()
            self.codedeploy_stub.assert_no_pending_responses()
        return verdict


def test_matching_answers_let_the_deployment_proceed() -> None:
    # Given a new version that answers the check as expected
    h = Hook([CHECK])
    h.invoked_with(proxy_payload(200, GOOD_BODY))
    h.expect_verdict("Succeeded")
    # When / Then: CodeDeploy hears "Succeeded"
    assert h.run() == {"status": "Succeeded"}


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (proxy_payload(200, {**GOOD_BODY, "predictions": [88.4, 189.6]}), "predictions"),
        (proxy_payload(200, {**GOOD_BODY, "extrapolated": [False, True]}), "extrapolated"),
        (proxy_payload(200, {**GOOD_BODY, "model_version": "bmi-linear-old"}), "model_version"),
        (proxy_payload(200, {"predictions": [88.4, 189.5]}), "extrapolated"),
        (proxy_payload(500, {"error": {"code": "internal_error"}}), "status 500"),
        (proxy_payload(200, ["not", "an", "object"]), "not a JSON object"),
        (raw_payload(b'{"errorMessage": "boom"}', FunctionError="Unhandled"), "raised Unhandled"),
        (raw_payload(b"not json"), "not an API Gateway proxy response"),
    ],
    ids=["wrong-number", "wrong-flag", "old-model", "missing-field", "5xx", "array-body", "crash", "garbage"],
)
def test_any_wrong_answer_fails_the_deployment(
    response: dict[str, Any], problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = Hook([CHECK])
    h.invoked_with(response)
    h.expect_verdict("Failed")
    with caplog.at_level(logging.ERROR):
        assert h.run() == {"status": "Failed"}
    assert problem in caplog.text


def test_a_failing_invoke_still_reports_failed_instead_of_leaving_codedeploy_waiting() -> None:
    # Given Lambda refuses the invocation (e.g. the hook lacks permission on the version)
    h = Hook([CHECK])
    h.lambda_stub.add_client_error("invoke", service_error_code="AccessDeniedException", http_status_code=403)
    h.expect_verdict("Failed")
    # Then the verdict is still delivered: CodeDeploy would otherwise wait for the hook's timeout
    assert h.run() == {"status": "Failed"}


def test_no_checks_is_a_failure_not_a_pass() -> None:
    h = Hook([])
    h.expect_verdict("Failed")
    assert h.run() == {"status": "Failed"}


def test_every_check_runs_and_each_failure_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    second = {**CHECK, "name": "health", "method": "GET", "path": "/health", "body": None, "expect": {}}
    h = Hook([CHECK, second])
    h.invoked_with(proxy_payload(200, {**GOOD_BODY, "model_version": "other"}))
    h.invoked_with(proxy_payload(503, {}))
    h.expect_verdict("Failed")
    with caplog.at_level(logging.ERROR):
        h.run()
    assert "batch prediction: model_version" in caplog.text
    assert "health: status 503, expected 200" in caplog.text


def test_the_event_is_an_api_gateway_rest_proxy_event() -> None:
    event = hook.api_gateway_event(hook.Check(**CHECK))
    assert event["httpMethod"] == "POST"
    assert (
        event["path"] == event["resource"] == event["requestContext"]["resourcePath"] == "/v1/predict/batch"
    )
    assert json.loads(event["body"]) == {"bmi": [20.0, 30.0]}
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["requestContext"]["requestId"]
    assert event["isBase64Encoded"] is False
    assert hook.api_gateway_event(hook.Check(**{**CHECK, "body": None}))["body"] is None


@pytest.mark.parametrize(
    ("actual", "expected", "verdict"),
    [
        (189.5, 189.5, True),
        (189.5 + 1e-12, 189.5, True),
        (189.5001, 189.5, False),
        (float("nan"), 189.5, False),
        (1, True, False),  # a number is not a boolean, even 1
        (True, 1, False),
        (False, False, True),
        ([1.0, 2.0], [1.0, 2.0], True),
        ([1.0], [1.0, 2.0], False),
        ("189.5", 189.5, False),
        ("bmi-linear-x", "bmi-linear-x", True),
        (None, "bmi-linear-x", False),
    ],
)
def test_matching_is_strict_about_types_and_tolerant_only_about_float_rounding(
    actual: Any, expected: Any, verdict: bool
) -> None:
    assert hook.matches(actual, expected) is verdict
