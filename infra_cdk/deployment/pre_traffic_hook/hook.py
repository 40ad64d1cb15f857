"""CodeDeploy pre-traffic hook: invokes the new version with proxy events whose answers were computed at
synthesis from the artifact (infra_cdk/deployment/checks.py) and reports ``Succeeded`` only when every answer
matches; anything else is ``Failed`` and the alias stays. Standard library and the runtime's boto3 only."""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)

TOLERANCE = 1e-9  # the function computes slope * bmi + intercept in float64, as the expectation does


@dataclass(frozen=True, slots=True)
class Check:
    """One request to the new version and what its response must contain: ``expect`` lists JSON fields of
    the body: numbers (and lists of them) match within the tolerance, the rest exactly, others are ignored."""

    name: str
    method: str
    path: str
    body: Any
    status: int
    expect: dict[str, Any]


def handler(event: dict[str, Any], context: object) -> dict[str, str]:
    import boto3  # the Lambda runtime's copy; imported here so tests can inject stubbed clients

    return run(
        event,
        lambda_client=boto3.client("lambda"),
        codedeploy_client=boto3.client("codedeploy"),
        environ=os.environ,
    )


def run(event: dict[str, Any], *, lambda_client: Any, codedeploy_client: Any, environ: Any) -> dict[str, str]:
    """Runs every check and reports the verdict to CodeDeploy; returns the verdict for the logs."""
    failures: list[str]
    try:
        target = environ["TARGET_VERSION_ARN"]
        checks = [Check(**document) for document in json.loads(environ["CHECKS"])]
        if not checks:
            raise ValueError("CHECKS is empty: refusing to pass a deployment that was not checked")
        failures = [problem for check in checks for problem in verify(lambda_client, target, check)]
    except Exception as exc:  # any failure of the hook itself must fail the deployment, never hang it
        logger.exception("pre-traffic hook could not run its checks")
        failures = [f"hook error: {type(exc).__name__}: {exc}"]
    status = "Failed" if failures else "Succeeded"
    for failure in failures:
        logger.error("check failed: %s", failure)
    codedeploy_client.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    logger.info("pre-traffic verdict: %s (%d problems)", status, len(failures))
    return {"status": status}


def verify(lambda_client: Any, target: str, check: Check) -> list[str]:
    """Invokes the target version with the check's request; returns what is wrong (empty: all good)."""
    response = lambda_client.invoke(
        FunctionName=target,
        InvocationType="RequestResponse",
        Payload=json.dumps(api_gateway_event(check)).encode(),
    )
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        return [f"{check.name}: the function raised {response['FunctionError']}: {payload[:500]!r}"]
    try:
        result = json.loads(payload)
        status = result["statusCode"]
        body = json.loads(result["body"]) if result.get("body") else None
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{check.name}: not an API Gateway proxy response ({exc}): {payload[:500]!r}"]
    if status != check.status:
        return [f"{check.name}: status {status}, expected {check.status}"]
    if not check.expect:
        return []
    if not isinstance(body, dict):
        return [f"{check.name}: body is not a JSON object: {body!r}"]
    return [
        f"{check.name}: {field} is {body.get(field)!r}, expected {expected!r}"
        for field, expected in check.expect.items()
        if not matches(body.get(field), expected)
    ]


def matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, int | float):
        return (
            isinstance(actual, int | float)
            and math.isfinite(actual)
            and math.isclose(actual, expected, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
        )
    if isinstance(expected, dict):  # only the fields the check names
        return isinstance(actual, dict) and all(matches(actual.get(k), v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def api_gateway_event(check: Check) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy event, as API Gateway would send it for this request."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "pre-traffic-hook",
    }
    return {
        "resource": check.path,
        "path": check.path,
        "httpMethod": check.method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": check.path,
            "httpMethod": check.method,
            "path": check.path,
            "stage": "pre-traffic",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "pre-traffic-hook"},
        },
        "body": None if check.body is None else json.dumps(check.body),
        "isBase64Encoded": False,
    }
