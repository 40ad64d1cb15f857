"""The domain: validated BMIs to predictions and prediction intervals, for the function and the Python API
alike. Pure functions of the artifact and the inputs, on plain floats (numpy's import would cost more than it
saves on at most BATCH_MAX values). The legacy routes' scaled inputs are range-checked here, by the same rule
in their units (:func:`legacy_range`); their answers carry no intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from .artifact import ModelArtifact
from .contract import BMI_MAX, BMI_MIN
from .jsontypes import Issue, ValidationError
from .schemas import BatchPredictRequest, BatchPredictResponse, PredictRequest, PredictResponse

IMPLAUSIBLE = f"converts to a BMI outside the plausible range (between {BMI_MIN:g} and {BMI_MAX:g} kg/m^2)"


class BatchPrediction(NamedTuple):
    values: list[float]  # in input order
    extrapolated: list[bool]  # per input, same order
    extrapolated_count: int


class Intervals(NamedTuple):
    level: float  # of every interval
    lower: list[int]  # per input, in input order
    upper: list[int]


def predict_batch(model: ModelArtifact, bmis: Sequence[float]) -> BatchPrediction:
    # Locals, not attribute lookups through the dataclasses: ~100 ns per value for a 10 000-value batch.
    slope, intercept = model.coefficients.slope, model.coefficients.intercept
    low, high = model.feature.train_min, model.feature.train_max
    values = [slope * bmi + intercept for bmi in bmis]
    extrapolated = [not low <= bmi <= high for bmi in bmis]
    return BatchPrediction(values=values, extrapolated=extrapolated, extrapolated_count=sum(extrapolated))


def intervals(model: ModelArtifact, bmis: Sequence[float], values: Sequence[float]) -> Intervals:
    """The prediction interval of each value (``values`` from :func:`predict_batch` for ``bmis``):
    :meth:`PredictionInterval.bounds` value for value, with the same arithmetic in the same order."""
    interval = model.interval
    q, a, b, floor = interval.quantile, interval.scale.intercept, interval.scale.slope, interval.scale.floor
    halves = [q * (s if (s := a + b * bmi) > floor else floor) for bmi in bmis]
    # Whole units, rounded outward (see PredictionInterval.bounds); ints also serialise ~4x faster than
    # floats, which keeps a full batch's intervals cheap.
    lower = [math.floor(v - h) for v, h in zip(values, halves, strict=True)]
    upper = [math.ceil(v + h) for v, h in zip(values, halves, strict=True)]
    return Intervals(level=interval.level, lower=lower, upper=upper)


def respond(model: ModelArtifact, request: PredictRequest) -> tuple[PredictResponse, BatchPrediction]:
    """The answer to one BMI (``POST /v1/predict``), and the prediction it holds (for the metrics)."""
    bmis = [request["bmi"]]
    result = predict_batch(model, bmis)
    bounds = intervals(model, bmis, result.values)
    return {
        "prediction": result.values[0],
        "interval": {"level": bounds.level, "lower": bounds.lower[0], "upper": bounds.upper[0]},
        "model_version": model.model_version,
        "extrapolated": result.extrapolated[0],
    }, result


def respond_batch(
    model: ModelArtifact, request: BatchPredictRequest
) -> tuple[BatchPredictResponse, BatchPrediction]:
    """The answer to 1 to BATCH_MAX BMIs (``POST /v1/predict/batch``), and the predictions it holds."""
    result = predict_batch(model, request["bmi"])
    bounds = intervals(model, request["bmi"], result.values)
    return {
        "predictions": result.values,
        "intervals": {"level": bounds.level, "lower": bounds.lower, "upper": bounds.upper},
        "model_version": model.model_version,
        "extrapolated": result.extrapolated,
        "extrapolated_count": result.extrapolated_count,
    }, result


def legacy_range(model: ModelArtifact) -> tuple[float, float]:
    """The scaled inputs the legacy routes accept: [BMI_MIN, BMI_MAX] in the model's scaled units, rounded
    inward to 6 decimals. One pair of numbers is both the check and what the documentation states."""
    low, high = model.feature.to_scaled(BMI_MIN), model.feature.to_scaled(BMI_MAX)
    return math.ceil(low * 1e6) / 1e6, math.floor(high * 1e6) / 1e6


def legacy_to_raw(model: ModelArtifact, scaled: Sequence[float], *, single: bool = False) -> list[float]:
    """Converts scikit-learn scaled BMIs to kg/m^2 after applying :func:`legacy_range`; the error names every
    rejected input (``input[i]``, or ``input`` for the single-value route)."""
    low, high = legacy_range(model)
    rejected = [i for i, value in enumerate(scaled) if not low <= value <= high]
    if rejected:
        where = ["input"] if single else [f"input[{i}]" for i in rejected]
        raise ValidationError.capped([Issue(field, IMPLAUSIBLE) for field in where])
    return [model.feature.to_raw(value) for value in scaled]
