"""The pure domain: predictions, extrapolation flags, and the legacy scaled-unit conversion."""

from __future__ import annotations

import bisect
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.core import contract, prediction
from model.core.artifact import INTERVAL_LEVEL, ModelArtifact
from model.core.jsontypes import ValidationError
from tests import served_rule

# Closed-form least squares on BMI alone (the team guide's reference); the trainer converges to it.
REFERENCE_SLOPE = 10.112441
REFERENCE_INTERCEPT = -113.804776
# The guide's conformal half-widths from 5-fold cross-validated absolute residuals (one width for all), by
# level: the reference is the one at the served level.
REFERENCE_HALF_WIDTH = {0.8: 82, 0.9: 103, 0.95: 117}[INTERVAL_LEVEL]
TOLERANCE = 0.1


def band(interval, bmi: float) -> float:
    return interval.bands[bisect.bisect_right(interval.edges, bmi)].half_width


plausible_bmis = st.floats(min_value=contract.BMI_MIN, max_value=contract.BMI_MAX, allow_nan=False)


def test_prediction_matches_the_reference_least_squares_line(model_artifact: ModelArtifact) -> None:
    # Given the trained model, When predicting for a typical BMI
    result = prediction.predict_batch(model_artifact, [27.3])
    # Then it agrees with the closed-form solution to well under one unit of the target (25-346)
    assert result.values == [pytest.approx(REFERENCE_SLOPE * 27.3 + REFERENCE_INTERCEPT, abs=0.05)]
    assert result.extrapolated == [False]
    assert result.distances == [0.0]


@pytest.mark.parametrize(
    ("bmi", "extrapolated"),
    [(17.99, True), (18.0, False), (30.0, False), (42.2, False), (42.21, True), (10.0, True), (100.0, True)],
)
def test_extrapolation_flag_marks_bmis_outside_the_training_range(
    model_artifact: ModelArtifact, bmi: float, extrapolated: bool
) -> None:
    assert (model_artifact.feature.train_min, model_artifact.feature.train_max) == (18.0, 42.2)
    assert prediction.predict_batch(model_artifact, [bmi]).extrapolated == [extrapolated]


@given(bmis=st.lists(plausible_bmis, min_size=1, max_size=50))
def test_a_batch_is_the_documented_rule_applied_to_each_value_in_input_order(
    model_artifact: ModelArtifact, bmis: list[float]
) -> None:
    batch = prediction.predict_batch(model_artifact, bmis)
    served = prediction.intervals(model_artifact, batch)
    rule = [served_rule.served(model_artifact, b) for b in bmis]
    assert batch.values == [value for value, _, _, _ in rule]
    assert list(zip(served["lower"], served["upper"], strict=True)) == [
        (lower, upper) for _, lower, upper, _ in rule
    ]
    assert batch.distances == [distance for _, _, _, distance in rule]
    assert served["level"] == model_artifact.interval.level
    assert batch.extrapolated == [d > 0 for d in batch.distances]
    assert batch.extrapolated_count == sum(batch.extrapolated)
    assert sum(prediction.drift_counts(model_artifact, bmis)) == len(bmis)


def test_every_answer_over_the_accepted_range_is_one_the_outcome_can_take(
    model_artifact: ModelArtifact,
) -> None:
    # Given every BMI from 10 to 100 in steps of 0.01, through the domain functions function and package share
    bmis = [round(contract.BMI_MIN + i / 100, 2) for i in range(9001)]
    answer = prediction.respond_batch(model_artifact, {"bmi": bmis})[0]
    low, high = model_artifact.outcome.low, model_artifact.outcome.high
    # Then every prediction and bound lies in the recorded outcome range, every interval holds its prediction
    rows = zip(answer["predictions"], answer["intervals"]["lower"], answer["intervals"]["upper"], strict=True)
    assert all(low <= lower <= value <= upper <= high for value, lower, upper in rows)
    assert (low, high) == (0, 379)
    # and the answers the issue found impossible are gone: BMI 10 no longer predicts -12.7, BMI 100 not 897
    assert answer["predictions"][0] == low
    assert answer["predictions"][-1] == high


@pytest.mark.parametrize(
    ("bmi", "distance"), [(10.0, 8.0), (17.99, 0.01), (18.0, 0.0), (42.2, 0.0), (45.0, 2.8)]
)
def test_an_extrapolated_answer_says_how_far_outside_the_data_it_is(
    model_artifact: ModelArtifact, bmi: float, distance: float
) -> None:
    answer = prediction.respond(model_artifact, {"bmi": bmi})[0]
    assert answer["extrapolation_distance"] == pytest.approx(distance, abs=1e-9)
    assert answer["extrapolated"] is (distance > 0)


def test_the_interval_widens_beyond_the_training_range(model_artifact: ModelArtifact) -> None:
    # Unclipped widths: beyond 42.2 the outermost band's half-width grows by the widening per kg/m^2
    interval = model_artifact.interval
    result = prediction.predict_batch(model_artifact, [15.0])
    bounds = prediction.intervals(model_artifact, result)
    half = interval.bands[0].half_width + interval.extrapolation_widening * 3.0
    assert bounds["upper"][0] == math.ceil(result.values[0] + half)
    assert interval.extrapolation_widening == pytest.approx(1.143, abs=1e-3)


def test_a_typical_patient_s_interval_is_about_as_wide_as_the_reference_one(
    model_artifact: ModelArtifact,
) -> None:
    # At the cohort's median BMI (25.7) the band's interval should be close to the one-width reference (±103
    # at the guide's 90%); for a lean or a heavy patient it should not (what calibrating per band means).
    interval = model_artifact.interval
    assert band(interval, 25.7) == pytest.approx(REFERENCE_HALF_WIDTH, rel=TOLERANCE)
    assert (
        band(interval, 19.0)
        < (1 - TOLERANCE) * REFERENCE_HALF_WIDTH
        < (1 + TOLERANCE) * REFERENCE_HALF_WIDTH
        < band(interval, 38.0)
    )


def test_legacy_conversion_inverts_scikit_learn_scaling(model_artifact: ModelArtifact) -> None:
    # Given a patient with BMI 32.1 expressed in scikit-learn's scaled units
    scaled = model_artifact.feature.to_scaled(32.1)
    # Then the legacy route sees the same patient
    assert prediction.legacy_to_raw(model_artifact, [scaled]) == [pytest.approx(32.1, abs=1e-9)]


@pytest.mark.parametrize("scaled", [5.0, -1.0, 1e308, -1e308, math.inf, math.nan])
def test_legacy_inputs_that_convert_to_an_implausible_bmi_are_rejected(
    model_artifact: ModelArtifact, scaled: float
) -> None:
    with pytest.raises(ValidationError) as raised:
        prediction.legacy_to_raw(model_artifact, [scaled], single=True)
    assert [issue.field for issue in raised.value.issues] == ["input"]


def test_legacy_batch_rejection_names_every_offending_index(model_artifact: ModelArtifact) -> None:
    ok = model_artifact.feature.to_scaled(25.0)
    with pytest.raises(ValidationError) as raised:
        prediction.legacy_to_raw(model_artifact, [ok, 9.0, ok, -9.0])
    assert [issue.field for issue in raised.value.issues] == ["input[1]", "input[3]"]


@pytest.mark.parametrize(
    ("bmi", "plausible"), [(10.001, True), (99.999, True), (9.999, False), (100.001, False)]
)
def test_the_legacy_rule_is_the_contract_range_in_scaled_units(
    model_artifact: ModelArtifact, bmi: float, plausible: bool
) -> None:
    scaled = model_artifact.feature.to_scaled(bmi)
    try:
        prediction.legacy_to_raw(model_artifact, [scaled])
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted is plausible


def test_the_legacy_range_is_inclusive_and_converts_inside_the_contract_range(
    model_artifact: ModelArtifact,
) -> None:
    low, high = prediction.legacy_range(model_artifact)
    raw = prediction.legacy_to_raw(model_artifact, [low, high])
    assert contract.BMI_MIN < raw[0] < contract.BMI_MIN + 1e-3
    assert contract.BMI_MAX - 1e-3 < raw[1] < contract.BMI_MAX
