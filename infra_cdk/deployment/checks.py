"""Known answers for the pre-traffic hook, computed at synthesis from the artifact being deployed and typed by
the function's own request and response types: the new version is checked against the model that was
trained, not against numbers copied into the infrastructure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from infra_cdk.deployment.pre_traffic_hook.hook import Check
from model.core import contract, prediction, schemas
from model.core.artifact import ModelArtifact


def known_answer_checks(artifact: ModelArtifact) -> list[dict[str, Any]]:
    """Checks, as the hook reads them, covering health, model identity, both prediction routes (the answers
    of the model's own domain functions), the legacy route's unit conversion and a bad body's rejection."""
    feature, version = artifact.feature, artifact.model_version
    low, high = feature.train_min, feature.train_max
    middle = round((low + high) / 2, 2)
    beyond = min(contract.BMI_MAX, high + 10)  # plausible but outside the training range: extrapolated
    single_request = schemas.PredictRequest(bmi=middle)
    single, _ = prediction.respond(artifact, single_request)
    batch_request = schemas.BatchPredictRequest(bmi=[low, middle, high, beyond])
    batch, _ = prediction.respond_batch(artifact, batch_request)
    scaled = feature.to_scaled(middle)
    health: schemas.HealthResponse = {"status": "ok", "model_version": version}
    legacy_request = schemas.LegacyStreamRequest(input=scaled)
    legacy_values = prediction.predict_batch(artifact, [feature.to_raw(scaled)]).values
    legacy: schemas.LegacyPredictResponse = {"Response Predict": legacy_values}
    identity = {"artifact": {"model_version": version, "sha256": artifact.sha256}}  # /v1/model, in part
    refused = {"error": {"code": "validation_error"}}
    return [
        _check("health", contract.PATH_HEALTH, None, health),
        _check("model identity", contract.PATH_MODEL, None, identity),
        _check("single prediction", contract.PATH_PREDICT, single_request, single),
        _check("batch prediction", contract.PATH_PREDICT_BATCH, batch_request, batch),
        _check("legacy stream (scaled units)", contract.PATH_LEGACY_STREAM, legacy_request, legacy),
        # A string: the strict request type must refuse it, in the one error shape.
        _check("bad body is rejected", contract.PATH_PREDICT, {"bmi": "27.3"}, refused, status=422),
    ]


def _check(name: str, path: str, body: Any, expect: Mapping[str, Any], status: int = 200) -> dict[str, Any]:
    """The contract's method for ``path``; a path that is no contract route stops the synthesis."""
    methods = {route.path: route.method for route in contract.ROUTES}
    if path not in methods:
        raise ValueError(f"pre-traffic check {name!r}: {path} is not a contract route")
    return asdict(Check(name, methods[path], path, body, status, dict(expect)))
