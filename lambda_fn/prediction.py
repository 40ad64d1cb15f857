"""The domain: turning validated BMI values into predictions. Pure functions over a loaded model.

No I/O, no framework, no logging: everything here is a function of the artifact and the inputs, which is
what makes it cheap to test exhaustively and fast to call (plain Python floats; at most BATCH_MAX values
per call, where numpy's import cost would outweigh anything it could save, see docs/benchmarks.md).

Values reaching this module have already passed the request schema (finite numbers; for the v1 routes
also inside [BMI_MIN, BMI_MAX]). The legacy routes speak scikit-learn's scaled units, so their inputs are
range-checked here, after conversion, by the same rule; :func:`legacy_input_range` states that rule in
their units, for the API's documentation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lambda_fn.contract import BMI_MAX, BMI_MIN
from model.artifact import ModelArtifact


@dataclass(frozen=True, slots=True)
class Prediction:
    value: float
    extrapolated: bool  # the BMI lies outside the range the model was trained on


@dataclass(frozen=True, slots=True)
class BatchPrediction:
    values: list[float]  # in input order
    extrapolated: list[bool]  # per input, same order
    extrapolated_count: int


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """One input that is a number but not a plausible human BMI once converted to kg/m^2."""

    index: int | None  # position in a batch; None for a single value
    bmi: float


class ImplausibleBmiError(ValueError):
    """Raised for inputs that convert to a BMI outside [BMI_MIN, BMI_MAX] (a client error, never a 5xx)."""

    def __init__(self, rejected: Sequence[OutOfRange]) -> None:
        super().__init__(f"{len(rejected)} input(s) outside the plausible BMI range")
        self.rejected = tuple(rejected)


def is_plausible_bmi(bmi: float) -> bool:
    # Written as a chained comparison so that NaN (which compares false to everything) is implausible too.
    return BMI_MIN <= bmi <= BMI_MAX


def predict_one(model: ModelArtifact, bmi: float) -> Prediction:
    return Prediction(value=model.coefficients.predict(bmi), extrapolated=model.feature.is_extrapolated(bmi))


def predict_batch(model: ModelArtifact, bmis: Sequence[float]) -> BatchPrediction:
    # Hoisting the coefficients and bounds into locals keeps this loop at ~100 ns per value: attribute
    # lookups through the frozen dataclasses would otherwise dominate a 10 000-value batch.
    slope, intercept = model.coefficients.slope, model.coefficients.intercept
    low, high = model.feature.train_min, model.feature.train_max
    values = [slope * bmi + intercept for bmi in bmis]
    extrapolated = [not low <= bmi <= high for bmi in bmis]
    return BatchPrediction(values=values, extrapolated=extrapolated, extrapolated_count=sum(extrapolated))


def legacy_to_raw(model: ModelArtifact, scaled: float) -> float:
    """Converts one scikit-learn scaled BMI to kg/m^2 and applies the v1 routes' plausibility rule."""
    raw = model.feature.to_raw(scaled)
    if not is_plausible_bmi(raw):
        raise ImplausibleBmiError([OutOfRange(index=None, bmi=raw)])
    return raw


def legacy_batch_to_raw(model: ModelArtifact, scaled: Sequence[float]) -> list[float]:
    """Batch form of :func:`legacy_to_raw`; the error lists every rejected input with its index, so that
    one response can name all of them."""
    raw = [model.feature.to_raw(value) for value in scaled]
    rejected = [OutOfRange(index=i, bmi=bmi) for i, bmi in enumerate(raw) if not is_plausible_bmi(bmi)]
    if rejected:
        raise ImplausibleBmiError(rejected)
    return raw


def legacy_input_range(model: ModelArtifact) -> tuple[float, float]:
    """The closed interval of scaled inputs the legacy routes accept: exactly the values whose conversion
    to kg/m^2 passes :func:`is_plausible_bmi`.

    ``to_scaled(BMI_MIN)`` and ``to_scaled(BMI_MAX)`` are the bounds up to rounding; each is then moved to
    the last float the conversion itself accepts, so that the documented bounds and the check cannot
    disagree, not even by one rounding step at the edge.
    """
    feature = model.feature

    def accepted(scaled: float) -> bool:
        return is_plausible_bmi(feature.to_raw(scaled))

    return (
        _last_accepted(feature.to_scaled(BMI_MIN), accepted, outward=-math.inf),
        _last_accepted(feature.to_scaled(BMI_MAX), accepted, outward=math.inf),
    )


def _last_accepted(estimate: float, accepted: Callable[[float], bool], *, outward: float) -> float:
    # The conversion is monotonic (scale > 0), so the accepted values form one interval: step inward
    # until inside it, then outward while still inside. The estimate is within a few ulps of the edge.
    edge = estimate
    while not accepted(edge):
        edge = math.nextafter(edge, -outward)
    while accepted(beyond := math.nextafter(edge, outward)):
        edge = beyond
    return edge
