"""The serving rule as the artifact documents it, written again independently of model.core.prediction, so
that the tests of the function, the package and the domain check the answers against the documented rule."""

from __future__ import annotations

import bisect
import math

from model.core.artifact import ModelArtifact


def served(model: ModelArtifact, bmi: float) -> tuple[float, int, int, float]:
    """(prediction, lower, upper, extrapolation distance): the line held to the outcome range; the BMI
    band's half-width, widened per kg/m^2 outside the training range, around it; rounded outward; held."""
    low, high = model.outcome.low, model.outcome.high
    value = min(max(model.coefficients.slope * bmi + model.coefficients.intercept, low), high)
    distance = max(model.feature.train_min - bmi, bmi - model.feature.train_max, 0.0)
    half = (
        model.interval.bands[bisect.bisect_right(model.interval.edges, bmi)].half_width
        + model.interval.extrapolation_widening * distance
    )
    return value, max(math.floor(value - half), int(low)), min(math.ceil(value + half), int(high)), distance
