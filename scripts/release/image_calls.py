"""What a correct build of this release answers when called through API Gateway events by the Runtime
Interface Emulator in front of it: ``python -m scripts.release.image test`` runs the image and makes these
calls, in the Release and in the test suite alike."""

from __future__ import annotations

import json
import math
from typing import Any, Final

from model.core import contract
from model.core.artifact import ModelArtifact
from scripts.dev.apigw_proxy import proxy_event
from scripts.dev.rie import invoke, wait_for_port

SMOKE_BMI: Final = 27.3  # inside the training range: a plain, non-extrapolated prediction
BATCH: Final = (22.0, SMOKE_BMI, 45.1)  # the last one outside the training range


class SmokeTestError(Exception):
    """The image did not answer as a correct build of this release must."""


def request(endpoint: str, method: str, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
    """The JSON object the function answers ``method path`` with, which must come with ``status`` (the
    first invocation includes the function's init: imports, artifact verification)."""
    event = proxy_event(method, path, b"" if body is None else json.dumps(body).encode(), stage="smoke")
    try:
        emulator_status, result = invoke(endpoint, event, timeout=60)
        if emulator_status == 200 and isinstance(result, dict) and result.get("statusCode") == status:
            answer = json.loads(result.get("body") or "null")
            if isinstance(answer, dict):
                return answer
    except (OSError, ValueError) as error:  # no answer (URLError, timeout), or not JSON
        raise SmokeTestError(f"{method} {path}: {error}") from error
    # The emulator answers a failed init or invocation with 502 {"errorType": ..., "errorMessage": ...}.
    raise SmokeTestError(
        f"{method} {path} answered {emulator_status} {json.dumps(result)[:2000]}, expected {status}"
    )


def _expect(what: str, actual: object, expected: object) -> None:
    if actual != expected:
        raise SmokeTestError(f"{what}: {actual!r}, expected {expected!r}")


def call_like_api_gateway(endpoint: str, artifact: ModelArtifact) -> None:
    """Every kind of route, each answered by the model the release built: health, one prediction and a
    batch (compared with the artifact's own arithmetic), the model route, and a refused body."""
    wait_for_port(endpoint, timeout=30)
    health = request(endpoint, "GET", contract.PATH_HEALTH)
    _expect(f"{contract.PATH_HEALTH} model_version", health.get("model_version"), artifact.model_version)
    answer = request(endpoint, "POST", contract.PATH_PREDICT, {"bmi": SMOKE_BMI})
    prediction, expected = answer.get("prediction"), artifact.coefficients.predict(SMOKE_BMI)
    if not isinstance(prediction, float) or not math.isclose(prediction, expected, rel_tol=1e-9):
        raise SmokeTestError(f"{contract.PATH_PREDICT}: {prediction!r}, the artifact says {expected!r}")
    batch = request(endpoint, "POST", contract.PATH_PREDICT_BATCH, {"bmi": list(BATCH)})
    _expect(f"{contract.PATH_PREDICT_BATCH} extrapolated", batch.get("extrapolated"), [False, False, True])
    served = request(endpoint, "GET", contract.PATH_MODEL).get("artifact") or {}
    _expect(f"{contract.PATH_MODEL} sha256", served.get("sha256"), artifact.to_document()["sha256"])
    refused = request(endpoint, "POST", contract.PATH_PREDICT, {"bmi": "27.3"}, status=422)
    _expect(f"{contract.PATH_PREDICT} of a string", refused.get("error", {}).get("code"), "validation_error")
    print(f"image: 5 calls answered by {artifact.model_version} ({contract.PATH_PREDICT} -> {prediction})")
