"""The domain: validated BMIs to predictions and prediction intervals, for the function and the Python API
alike. Pure functions of the artifact and the inputs, on plain floats (numpy's import would cost more than it
saves on at most BATCH_MAX values). Every prediction and bound lies in the artifact's outcome range, and every
interval holds its prediction. The legacy routes' scaled inputs are range-checked here, by the same rule in
their units (:func:`legacy_range`); their answers carry no intervals."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

from . import schemas
from .artifact import ModelArtifact
from .contract import BMI_MAX, BMI_MIN
from .jsontypes import Issue, ValidationError

IMPLAUSIBLE = f"converts to a BMI outside the plausible range (between {BMI_MIN:g} and {BMI_MAX:g} kg/m^2)"


class BatchPrediction(NamedTuple):
    values: list[float]  # in input order, each held to the outcome range
    extrapolated: list[bool]  # per input, same order
    extrapolated_count: int
    distances: list[float]  # kg/m^2 outside the training range, 0.0 inside it
    bmis: Sequence[float]  # the inputs, kg/m^2


def predict_batch(model: ModelArtifact, bmis: Sequence[float]) -> BatchPrediction:
    # Locals, not attribute lookups; values held to the outcome range only in a batch that leaves it.
    slope, intercept = model.coefficients.slope, model.coefficients.intercept
    low, high = model.outcome.low, model.outcome.high
    first, last = model.feature.train_min, model.feature.train_max
    values = [slope * bmi + intercept for bmi in bmis]
    if values and (min(values) < low or max(values) > high):
        values = [low if v < low else high if v > high else v for v in values]
    distances = [first - bmi if bmi < first else bmi - last if bmi > last else 0.0 for bmi in bmis]
    extrapolated = [distance > 0.0 for distance in distances]
    return BatchPrediction(values, extrapolated, sum(extrapolated), distances, bmis)


def drift_counts(model: ModelArtifact, bmis: Sequence[float]) -> list[int]:
    """How many of ``bmis`` fall in each of the artifact's drift bins (an edge counts in the bin above it, as
    the training proportions were counted): the function's metrics, not an answer, so not in predict_batch."""
    counts = Counter(map(partial(bisect_right, model.drift.edges), bmis))
    return [counts[i] for i in range(len(model.drift.proportions))]


def intervals(model: ModelArtifact, result: BatchPrediction) -> schemas.BatchIntervals:
    """Each interval of ``result``, in input order: the band's half-width, widened outside the training
    range, around the held prediction, rounded outward, held to the outcome range."""
    interval = model.interval
    low, high, edges = int(model.outcome.low), int(model.outcome.high), interval.edges
    halves, widening = [band.half_width for band in interval.bands], interval.extrapolation_widening
    lower: list[int] = []
    upper: list[int] = []
    for value, bmi, distance in zip(result.values, result.bmis, result.distances, strict=True):
        half = halves[bisect_right(edges, bmi)] + widening * distance
        # Whole units, rounded outward (ints also serialise ~4x faster than floats); held to the range before
        # rounding, since an absurd (checksummed) band or widening can make a width infinite. One loop with
        # comparisons, not min/max calls: a quarter less time for a 1 000-value batch.
        lower.append(low if value - half <= low else math.floor(value - half))
        upper.append(high if value + half >= high else math.ceil(value + half))
    return {"level": interval.level, "lower": lower, "upper": upper}


def respond(
    model: ModelArtifact, request: schemas.PredictRequest
) -> tuple[schemas.PredictResponse, BatchPrediction]:
    """The answer to one BMI (``POST /v1/predict``), and the prediction it holds (for the metrics)."""
    result = predict_batch(model, [request["bmi"]])
    bounds = intervals(model, result)
    return {
        "prediction": result.values[0],
        "interval": {"level": bounds["level"], "lower": bounds["lower"][0], "upper": bounds["upper"][0]},
        "model_version": model.model_version,
        "extrapolated": result.extrapolated[0],
        "extrapolation_distance": result.distances[0],
    }, result


def respond_batch(
    model: ModelArtifact, request: schemas.BatchPredictRequest
) -> tuple[schemas.BatchPredictResponse, BatchPrediction]:
    """The answer to 1 to BATCH_MAX BMIs (``POST /v1/predict/batch``), and the predictions it holds."""
    result = predict_batch(model, request["bmi"])
    return {
        "predictions": result.values,
        "intervals": intervals(model, result),
        "model_version": model.model_version,
        "extrapolated": result.extrapolated,
        "extrapolated_count": result.extrapolated_count,
        "extrapolation_distance": result.distances,
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
