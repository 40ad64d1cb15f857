"""What a correct build of this release answers when called through API Gateway events by the Runtime
Interface Emulator in front of it: the pre-traffic hook's own known answers (infra_cdk/deployment), which
CodeDeploy checks again on the deployed version. ``python -m scripts.release.image test`` runs the image and
makes these calls, in the Release and in the test suite alike."""

from __future__ import annotations

import io
import json
from typing import Any

from infra_cdk.deployment.checks import known_answer_checks
from infra_cdk.deployment.pre_traffic_hook.hook import Check, verify
from model.core.artifact import ModelArtifact
from scripts.dev.rie import invoke, wait_for_port


class SmokeTestError(Exception):
    """The image did not answer as a correct build of this release must."""


class EmulatedLambda:
    """The Lambda client the hook invokes the new version with, answered by the emulator (the first invocation
    includes the function's init: imports, artifact verification)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def invoke(self, *, Payload: bytes, **_: str) -> dict[str, Any]:  # noqa: N803 - boto3's argument name
        event = json.loads(Payload)
        try:
            status, result = invoke(self.endpoint, event, timeout=60)
        except (OSError, ValueError) as error:  # no answer (URLError, timeout), or not JSON
            raise SmokeTestError(f"{event['httpMethod']} {event['path']}: {error}") from error
        # The emulator answers a failed init or invocation with 502 {"errorType": ..., "errorMessage": ...}.
        failed = {"FunctionError": f"Unhandled (emulator status {status})"} if status != 200 else {}
        return {"Payload": io.BytesIO(json.dumps(result).encode()), **failed}


def call_like_api_gateway(endpoint: str, artifact: ModelArtifact) -> None:
    """Every kind of route, each answered by the model the release built: health, the model route, both
    prediction routes, the legacy route and a refused body."""
    wait_for_port(endpoint, timeout=30)
    checks = [Check(**check) for check in known_answer_checks(artifact)]
    function = EmulatedLambda(endpoint)
    if problems := [problem for check in checks for problem in verify(function, "image", check)]:
        raise SmokeTestError("; ".join(problems))
    print(f"image: {len(checks)} known answers given by {artifact.model_version}")
