"""The pre-traffic hook's known answers (computed at synthesis from the artifact) against the real function.

The function runs in this process through the development server's invoker (the real handler and model
loading, the runtime's own LambdaContext); only the Lambda Invoke API between hook and function is replaced,
by a client with the same call shape. This proves the checks and the function agree on routes, request and
response shapes, and numbers, before any deployment depends on it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from infra_cdk.deployment.checks import known_answer_checks
from infra_cdk.deployment.pre_traffic_hook import hook
from model.core import contract
from model.core.artifact import Coefficients, ModelArtifact
from model.core.serving import load_artifact

TARGET = "arn:aws:lambda:eu-west-1:123456789012:function:diabetes-progression-staging:3"


class InProcessLambdaClient:
    """``lambda_client.invoke`` answered by the real handler running in this process."""

    def __init__(self) -> None:
        from scripts.dev.invoke import InProcessInvoker

        self._invoker = InProcessInvoker()
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        assert (FunctionName, InvocationType) == (TARGET, "RequestResponse")
        event = json.loads(Payload)
        self.invocations.append(event)
        result = self._invoker.invoke(event, str(uuid.uuid4()))
        if result is None:
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b"{}")}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}


class RecordingCodeDeploy:
    def __init__(self) -> None:
        self.statuses: list[str] = []

    def put_lifecycle_event_hook_execution_status(self, **request: str) -> dict[str, str]:
        self.statuses.append(request["status"])
        return {"lifecycleEventHookExecutionId": request["lifecycleEventHookExecutionId"]}


@pytest.fixture(scope="module")
def artifact(model_artifact_path: Path) -> ModelArtifact:
    return load_artifact(model_artifact_path)


@pytest.fixture(scope="module")
def function() -> InProcessLambdaClient:
    return InProcessLambdaClient()


def run_hook(checks: list[dict[str, Any]], function: InProcessLambdaClient) -> list[str]:
    codedeploy = RecordingCodeDeploy()
    hook.run(
        {"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "e-1"},
        lambda_client=function,
        codedeploy_client=codedeploy,
        environ={"TARGET_VERSION_ARN": TARGET, "CHECKS": json.dumps(checks)},
    )
    return codedeploy.statuses


def test_the_real_function_passes_the_checks_of_its_own_model(
    artifact: ModelArtifact, function: InProcessLambdaClient
) -> None:
    # Given the checks derived from the artifact the function serves
    checks = known_answer_checks(artifact)
    # When the hook runs them against the function
    statuses = run_hook(checks, function)
    # Then CodeDeploy is told to proceed, after one invocation per check
    assert statuses == ["Succeeded"]
    assert len(function.invocations[-len(checks) :]) == len(checks)


def test_a_function_serving_another_model_is_stopped(
    artifact: ModelArtifact, function: InProcessLambdaClient
) -> None:
    # Given checks computed for a different model (as if synthesis and image disagreed)
    other = dataclasses.replace(
        artifact,
        coefficients=Coefficients(artifact.coefficients.slope * 1.01, artifact.coefficients.intercept),
    )
    # Then the deployment is failed before traffic moves
    assert run_hook(known_answer_checks(other), function) == ["Failed"]


def test_the_checks_cover_every_prediction_route_and_a_rejection(artifact: ModelArtifact) -> None:
    checks = known_answer_checks(artifact)
    covered = {(c["method"], c["path"]) for c in checks}
    assert {
        ("POST", "/v1/predict"),
        ("POST", "/v1/predict/batch"),
        ("GET", "/v1/model"),
        ("GET", "/health"),
    } <= covered
    assert covered <= {(r.method, r.path) for r in contract.ROUTES}
    assert any(c["status"] == 422 for c in checks)


def test_expectations_come_from_the_artifact_coefficients(artifact: ModelArtifact) -> None:
    (batch,) = [c for c in known_answer_checks(artifact) if c["path"] == "/v1/predict/batch"]
    bmis = batch["body"]["bmi"]
    low, high = artifact.outcome.low, artifact.outcome.high
    assert batch["expect"]["predictions"] == [
        min(max(artifact.coefficients.predict(b), low), high) for b in bmis
    ]
    # Both sides of the training range are covered, and one input lies beyond it (an extrapolation), whose
    # prediction the outcome range holds (10 kg/m^2 above the heaviest patient: above the range's top)
    assert min(bmis) == artifact.feature.train_min
    assert max(bmis) > artifact.feature.train_max
    assert batch["expect"]["extrapolated"][-1] is True
    assert batch["expect"]["extrapolation_distance"][-1] == pytest.approx(
        bmis[-1] - artifact.feature.train_max
    )
    assert batch["expect"]["predictions"][-1] == high
    intervals = batch["expect"]["intervals"]
    assert all(
        low <= lower <= value <= upper <= high
        for lower, value, upper in zip(
            intervals["lower"], batch["expect"]["predictions"], intervals["upper"], strict=True
        )
    )
