"""The API's bodies, declared once as annotated types: they validate requests (strictly: :mod:`.jsontypes`),
type the function's and the package's answers, and generate the OpenAPI document. Standard library only."""

from __future__ import annotations

from typing import Annotated, TypedDict

from .artifact import INTERVAL_LEVEL, ModelArtifact
from .contract import BATCH_MAX, BMI_MAX, BMI_MIN
from .jsontypes import Doc, Items, Range

Bmi = Annotated[
    float,
    Range(BMI_MIN, BMI_MAX, "kg/m^2"),
    Doc(f"Body mass index in kg/m^2, between {BMI_MIN:g} and {BMI_MAX:g}.", 27.3),
]
ScaledBmi = Annotated[
    float,
    Doc(
        "BMI in scikit-learn's scaled units, (bmi - mean) / sqrt(sum((bmi - mean)^2)), with the mean and "
        f"scale of GET /v1/model. It must convert to a BMI between {BMI_MIN:g} and {BMI_MAX:g} kg/m^2.",
        0.0616962065186885,
    ),
]
ModelVersion = Annotated[str, Doc("Identifier of the model that served the request.")]


# --- Requests -----------------------------------------------------------------------------------------
class PredictRequest(TypedDict):
    """One BMI."""

    bmi: Bmi


class BatchPredictRequest(TypedDict):
    """1 to BATCH_MAX BMIs."""

    bmi: Annotated[list[Bmi], Items(1, BATCH_MAX), Doc(f"1 to {BATCH_MAX} BMI values in kg/m^2.")]


class LegacyStreamRequest(TypedDict):
    """The replaced system's single request, in scaled units."""

    input: ScaledBmi


class LegacyBatchRequest(TypedDict):
    """The replaced system's batch request, in scaled units."""

    input: Annotated[list[ScaledBmi], Items(1, BATCH_MAX), Doc(f"1 to {BATCH_MAX} values in scaled units.")]


# --- Responses ----------------------------------------------------------------------------------------
Prediction = Annotated[
    float,
    Doc(
        "Predicted disease progression one year after baseline (a unitless score; 25-346 in the study), "
        "held to the outcome's plausible range (outcome.low-outcome.high in GET /v1/model: a prediction at "
        "either end reads 'at most' or 'at least'). Full float precision is arithmetic, not accuracy: the "
        "typical error is tens of units (see the interval), so round to whole units for display."
    ),
]
Level = Annotated[
    float,
    Doc(
        f"Nominal coverage of the interval, e.g. {INTERVAL_LEVEL:g}: for patients like the study's cohort, "
        "at least about this share of measured outcomes falls inside their interval, within each BMI band "
        "too (the cross-validated coverage of every band and WHO group is in GET /v1/model). A promise over "
        "many patients, not a probability for one; it does not hold for an extrapolated BMI."
    ),
]
_BOUNDS = (
    "whole units, rounded outward from the computed interval, so never narrower than it, and held to the "
    "outcome's plausible range; the interval always holds the prediction"
)
Distance = Annotated[
    float,
    Doc(
        "How far the BMI lies outside the model's training range, in kg/m^2 (0 inside it): the interval "
        "widens with it, and the farther out, the more the answer is a guess."
    ),
]


class Interval(TypedDict):
    """Where the patient's measured progression is expected to fall, at the stated level."""

    level: Level
    lower: Annotated[int, Doc(f"Lower bound ({_BOUNDS}).")]
    upper: Annotated[int, Doc(f"Upper bound ({_BOUNDS}).")]


class BatchIntervals(TypedDict):
    """One interval per input, as parallel arrays in input order, all at the stated level."""

    level: Level
    lower: Annotated[list[int], Doc(f"Lower bounds, in input order ({_BOUNDS}).")]
    upper: Annotated[list[int], Doc(f"Upper bounds, in input order ({_BOUNDS}).")]


class PredictResponse(TypedDict):
    prediction: Prediction
    interval: Interval
    model_version: ModelVersion
    extrapolated: Annotated[
        bool, Doc("True when the BMI lies outside the model's training range: the interval is then a guess.")
    ]
    extrapolation_distance: Distance


class BatchPredictResponse(TypedDict):
    predictions: Annotated[list[Prediction], Doc("One prediction per input, in input order.")]
    intervals: BatchIntervals
    model_version: ModelVersion
    extrapolated: Annotated[list[bool], Doc("Per input, in input order: outside the training range?")]
    extrapolated_count: Annotated[int, Doc("How many inputs lie outside the training range.")]
    extrapolation_distance: Annotated[list[Distance], Doc("Per input, in input order (kg/m^2).")]


# The response shape of the system this service replaces, kept byte-compatible for its clients.
LegacyPredictResponse = TypedDict(
    "LegacyPredictResponse",
    {"Response Predict": Annotated[list[float], Doc("Predictions, in input order.")]},
)


class Limits(TypedDict):
    bmi_min: float
    bmi_max: float
    batch_max: int


class ModelInfoResponse(TypedDict):
    """The served model's artifact, exactly as trained and checked, and the input limits."""

    artifact: ModelArtifact
    limits: Limits


class HealthResponse(TypedDict):
    status: Annotated[str, Doc('Always "ok": a function whose model failed to load never starts.')]
    model_version: ModelVersion


class ErrorDetail(TypedDict):
    field: Annotated[
        str | None, Doc("Where the problem is, e.g. `bmi` or `bmi[3]`; null for the whole body.")
    ]
    issue: str


class ErrorBody(TypedDict):
    code: Annotated[str, Doc("Stable machine-readable code, e.g. `validation_error`.")]
    message: Annotated[str, Doc("What went wrong, for humans.")]
    details: list[ErrorDetail]


class ErrorResponse(TypedDict):
    """The one error shape every route returns for every 4xx and 5xx, from the function or the edge."""

    error: ErrorBody


LIMITS: Limits = {"bmi_min": BMI_MIN, "bmi_max": BMI_MAX, "batch_max": BATCH_MAX}
