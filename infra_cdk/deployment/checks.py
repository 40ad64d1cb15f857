"""Known answers for the pre-traffic hook, computed at synthesis from the model artifact being deployed.

The requests are built from the function's own request models and the expectations from the artifact's
coefficients (``model.artifact``), so the hook checks the new version against the model that was trained,
not against numbers copied into the infrastructure.
"""

from __future__ import annotations

from typing import Any

from lambda_fn import contract
from lambda_fn.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    HealthResponse,
    LegacyPredictResponse,
    LegacyStreamRequest,
    ModelInfoResponse,
    PredictRequest,
    PredictResponse,
)
from model.artifact import ModelArtifact

_OK, _UNPROCESSABLE = 200, 422


def known_answer_checks(artifact: ModelArtifact) -> list[dict[str, Any]]:
    """Checks (see pre_traffic_hook.hook.Check) covering health, model identity, both prediction routes,
    the legacy route's unit conversion and the rejection of a bad body."""
    feature, version = artifact.feature, artifact.model_version
    low, high = feature.train_min, feature.train_max
    middle = round((low + high) / 2, 2)
    beyond = min(contract.BMI_MAX, high + 10)  # plausible but outside the training range: extrapolated
    batch = [low, middle, high, beyond]
    scaled = feature.to_scaled(middle)

    def predict(bmi: float) -> float:
        return artifact.coefficients.predict(bmi)

    return [
        _check(
            "health",
            "GET",
            contract.PATH_HEALTH,
            None,
            _OK,
            HealthResponse,
            {"status": "ok", "model_version": version},
        ),
        _check(
            "model identity",
            "GET",
            contract.PATH_MODEL,
            None,
            _OK,
            ModelInfoResponse,
            {"model_version": version, "artifact_sha256": artifact.sha256},
        ),
        _check(
            "single prediction",
            "POST",
            contract.PATH_PREDICT,
            PredictRequest(bmi=middle),
            _OK,
            PredictResponse,
            {"prediction": predict(middle), "model_version": version, "extrapolated": False},
        ),
        _check(
            "batch prediction",
            "POST",
            contract.PATH_PREDICT_BATCH,
            BatchPredictRequest(bmi=batch),
            _OK,
            BatchPredictResponse,
            {
                "predictions": [predict(b) for b in batch],
                "extrapolated": [feature.is_extrapolated(b) for b in batch],
                "model_version": version,
            },
        ),
        _check(
            "legacy stream (scaled units)",
            "POST",
            contract.PATH_LEGACY_STREAM,
            LegacyStreamRequest(input=scaled),
            _OK,
            LegacyPredictResponse,
            {"Response Predict": [predict(feature.to_raw(scaled))]},
        ),
        {
            "name": "bad body is rejected",
            "method": "POST",
            "path": contract.PATH_PREDICT,
            "body": {"bmi": "27.3"},  # a string: the strict request model must refuse it
            "status": _UNPROCESSABLE,
            "expect": {},
        },
    ]


def _check(
    name: str,
    method: str,
    path: str,
    request: Any,
    status: int,
    response_model: type[Any],
    expect: dict[str, Any],
) -> dict[str, Any]:
    if (method, path) not in {(r.method, r.path) for r in contract.ROUTES}:
        raise ValueError(f"pre-traffic check {name!r}: {method} {path} is not a contract route")
    known = {f.alias or n for n, f in response_model.model_fields.items()}
    unknown = set(expect) - known
    if unknown:
        raise ValueError(f"pre-traffic check {name!r}: {sorted(unknown)} not in {response_model.__name__}")
    body = None if request is None else request.model_dump(mode="json")
    return {"name": name, "method": method, "path": path, "body": body, "status": status, "expect": expect}
