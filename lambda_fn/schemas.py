"""Request and response bodies: the API's types, used both to validate and to document it.

Every request model is strict (a JSON string, boolean or null is never coerced into a number) and forbids
unknown fields (a typo such as ``{"bmi ": 27}`` is rejected instead of silently ignored). Numbers must be
finite: JSON has no NaN or Infinity, but permissive parsers accept them and ``1e400`` overflows to
infinity, so ``allow_inf_nan=False`` closes both doors. The limits come from :mod:`lambda_fn.contract`.

The same classes generate the OpenAPI document (with their examples), so the documentation cannot drift
from what the function actually accepts and returns.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field

from lambda_fn.contract import BATCH_MAX, BMI_MAX, BMI_MIN
from model.artifact import ModelArtifact

_REQUEST = ConfigDict(strict=True, extra="forbid", frozen=True)
_RESPONSE = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True, defer_build=True)

# Health data: request values stay out of reprs, and so out of any debug log of a route's arguments.
_HIDDEN = Field(repr=False)

Bmi = Annotated[
    float,
    Field(
        ge=BMI_MIN,
        le=BMI_MAX,
        allow_inf_nan=False,
        description=f"Body mass index in kg/m^2, between {BMI_MIN:g} and {BMI_MAX:g}.",
        examples=[27.3],
    ),
]
# The scaled bounds depend on the served model's mean and scale, so this schema cannot state them: it is
# marked instead, and the OpenAPI document replaces the mark with the model's bounds (lambda_fn.api_docs).
SCALED_BMI_MARK: Final = "x-scaled-bmi"
ScaledBmi = Annotated[
    float,
    Field(
        allow_inf_nan=False,
        description=(
            "BMI in scikit-learn's scaled units, (bmi - mean) / sqrt(sum((bmi - mean)^2)). It must convert "
            f"to a BMI between {BMI_MIN:g} and {BMI_MAX:g} kg/m^2."
        ),
        examples=[0.0616962065186885],
        json_schema_extra={SCALED_BMI_MARK: True},
    ),
]
ModelVersion = Annotated[
    str,
    Field(
        description="Identifier of the model that served the request.", examples=["bmi-linear-0123abcd4567"]
    ),
]


# --- Requests -----------------------------------------------------------------------------------------
class PredictRequest(BaseModel):
    model_config = ConfigDict(**_REQUEST, json_schema_extra={"examples": [{"bmi": 27.3}]})
    bmi: Annotated[Bmi, _HIDDEN]


class BatchPredictRequest(BaseModel):
    model_config = ConfigDict(**_REQUEST, json_schema_extra={"examples": [{"bmi": [27.3, 31.0, 45.5]}]})
    bmi: list[Bmi] = Field(
        repr=False, min_length=1, max_length=BATCH_MAX, description=f"1 to {BATCH_MAX} BMI values in kg/m^2."
    )


class LegacyStreamRequest(BaseModel):
    model_config = ConfigDict(**_REQUEST, json_schema_extra={"examples": [{"input": 0.0616962065186885}]})
    input: Annotated[ScaledBmi, _HIDDEN]


class LegacyBatchRequest(BaseModel):
    model_config = ConfigDict(
        **_REQUEST, json_schema_extra={"examples": [{"input": [0.0616962065186885, -0.0514740612388061]}]}
    )
    input: list[ScaledBmi] = Field(
        repr=False,
        min_length=1,
        max_length=BATCH_MAX,
        description=f"1 to {BATCH_MAX} values in scaled units.",
    )


# --- Responses ----------------------------------------------------------------------------------------
class PredictResponse(BaseModel):
    model_config = ConfigDict(
        **_RESPONSE,
        json_schema_extra={
            "examples": [
                {"prediction": 162.26495, "model_version": "bmi-linear-0123abcd4567", "extrapolated": False}
            ]
        },
    )
    prediction: float = Field(description="Predicted disease progression one year after baseline.")
    model_version: ModelVersion
    extrapolated: bool = Field(description="True when the BMI lies outside the model's training range.")


class BatchPredictResponse(BaseModel):
    model_config = ConfigDict(
        **_RESPONSE,
        json_schema_extra={
            "examples": [
                {
                    "predictions": [162.26495, 199.68138, 346.31331],
                    "model_version": "bmi-linear-0123abcd4567",
                    "extrapolated": [False, False, True],
                    "extrapolated_count": 1,
                }
            ]
        },
    )
    predictions: list[float] = Field(description="One prediction per input, in input order.")
    model_version: ModelVersion
    extrapolated: list[bool] = Field(description="Per input, in input order: outside the training range?")
    extrapolated_count: int = Field(description="How many inputs lie outside the training range.")


class LegacyPredictResponse(BaseModel):
    """The response shape of the system this service replaces, kept byte-compatible for its clients."""

    model_config = ConfigDict(
        **_RESPONSE, json_schema_extra={"examples": [{"Response Predict": [210.80518]}]}
    )
    predictions: list[float] = Field(alias="Response Predict", description="Predictions, in input order.")


class TrainingRange(BaseModel):
    model_config = _RESPONSE
    min: float
    max: float


class FeatureInfo(BaseModel):
    model_config = _RESPONSE
    name: str
    unit: str
    training_range: TrainingRange
    sklearn_mean: float = Field(description="Mean used by the legacy routes' scaled units.")
    sklearn_scale: float = Field(description="Scale used by the legacy routes' scaled units.")


class CoefficientsInfo(BaseModel):
    model_config = _RESPONSE
    slope: float = Field(description="Change in prediction per kg/m^2 of BMI.")
    intercept: float


class GateInfo(BaseModel):
    model_config = _RESPONSE
    name: str
    comparison: str
    threshold: float
    value: float
    passed: bool


class MetricsInfo(BaseModel):
    model_config = _RESPONSE
    holdout_r2: float
    holdout_mse: float
    train_r2: float
    train_mse: float
    cv_r2_mean: float
    cv_r2_std: float
    cv_folds: int
    gates: list[GateInfo]


class LimitsInfo(BaseModel):
    model_config = _RESPONSE
    bmi_min: float
    bmi_max: float
    batch_max: int


class ModelInfoResponse(BaseModel):
    model_config = ConfigDict(
        **_RESPONSE,
        json_schema_extra={
            "examples": [
                {
                    "model_version": "bmi-linear-0123abcd4567",
                    "schema_version": 1,
                    "artifact_sha256": "0123abcd4567" * 5 + "0123",
                    "feature": {
                        "name": "bmi",
                        "unit": "kg/m^2",
                        "training_range": {"min": 18.0, "max": 42.2},
                        "sklearn_mean": 26.375792,
                        "sklearn_scale": 92.780553,
                    },
                    "coefficients": {"slope": 10.112547, "intercept": -113.807585},
                    "metrics": {
                        "holdout_r2": 0.472578,
                        "holdout_mse": 2548.06,
                        "train_r2": 0.335131,
                        "train_mse": 3955.02,
                        "cv_r2_mean": 0.321,
                        "cv_r2_std": 0.100,
                        "cv_folds": 5,
                        "gates": [
                            {
                                "name": "quality (hold-out R2)",
                                "comparison": ">=",
                                "threshold": 0.4,
                                "value": 0.472578,
                                "passed": True,
                            },
                            {
                                "name": "convergence (relative training-MSE gap to least squares)",
                                "comparison": "<=",
                                "threshold": 1e-06,
                                "value": 5.6e-11,
                                "passed": True,
                            },
                        ],
                    },
                    "limits": {"bmi_min": BMI_MIN, "bmi_max": BMI_MAX, "batch_max": BATCH_MAX},
                }
            ]
        },
    )
    model_version: ModelVersion
    schema_version: int
    artifact_sha256: str
    feature: FeatureInfo
    coefficients: CoefficientsInfo
    metrics: MetricsInfo
    limits: LimitsInfo

    @classmethod
    def from_artifact(cls, model: ModelArtifact) -> Self:
        feature, coefficients, metrics = model.feature, model.coefficients, model.metrics
        return cls(
            model_version=model.model_version,
            schema_version=model.schema_version,
            artifact_sha256=model.sha256,
            feature=FeatureInfo(
                name=feature.name,
                unit=feature.unit,
                training_range=TrainingRange(min=feature.train_min, max=feature.train_max),
                sklearn_mean=feature.sklearn_mean,
                sklearn_scale=feature.sklearn_scale,
            ),
            coefficients=CoefficientsInfo(slope=coefficients.slope, intercept=coefficients.intercept),
            metrics=MetricsInfo(
                holdout_r2=metrics.holdout_r2,
                holdout_mse=metrics.holdout_mse,
                train_r2=metrics.train_r2,
                train_mse=metrics.train_mse,
                cv_r2_mean=metrics.cv_r2_mean,
                cv_r2_std=metrics.cv_r2_std,
                cv_folds=metrics.cv_folds,
                gates=[
                    GateInfo(
                        name=g.name,
                        comparison=g.comparison,
                        threshold=g.threshold,
                        value=g.value,
                        passed=g.passed,
                    )
                    for g in metrics.gates
                ],
            ),
            limits=LimitsInfo(bmi_min=BMI_MIN, bmi_max=BMI_MAX, batch_max=BATCH_MAX),
        )


class HealthResponse(BaseModel):
    model_config = ConfigDict(
        **_RESPONSE,
        json_schema_extra={"examples": [{"status": "ok", "model_version": "bmi-linear-0123abcd4567"}]},
    )
    status: str = Field(description='Always "ok": a function whose model failed to load never starts.')
    model_version: ModelVersion


class ErrorDetail(BaseModel):
    model_config = _RESPONSE
    field: str | None = Field(
        description="Where the problem is, e.g. `bmi` or `bmi[3]`; null for the whole body."
    )
    issue: str


class ErrorBody(BaseModel):
    model_config = _RESPONSE
    code: str = Field(
        description="Stable machine-readable code, e.g. `validation_error`.", examples=["validation_error"]
    )
    message: str = Field(description="What went wrong, for humans.")
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """The one error shape every route returns for every 4xx (and the rare 5xx)."""

    model_config = ConfigDict(
        **_RESPONSE,
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "validation_error",
                        "message": "The request body is not valid.",
                        "details": [{"field": "bmi", "issue": "must be a number"}],
                    }
                }
            ]
        },
    )
    error: ErrorBody


def to_json(body: Any) -> str:
    """The resolver's serializer. Response models serialize in pydantic's Rust core (by alias, e.g.
    "Response Predict"); anything else is a plain dict. ``allow_nan=False``: a non-finite number can never
    go out as invalid JSON."""
    if isinstance(body, BaseModel):
        return body.model_dump_json()
    return json.dumps(body, separators=(",", ":"), allow_nan=False)
