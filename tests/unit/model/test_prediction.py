"""The pure domain: predictions, extrapolation flags, and the legacy scaled-unit conversion."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.core import contract, prediction
from model.core.artifact import INTERVAL_LEVEL, ModelArtifact
from model.core.jsontypes import ValidationError

# Closed-form least squares on BMI alone (the team guide's reference); the trainer converges to it.
REFERENCE_SLOPE = 10.112441
REFERENCE_INTERCEPT = -113.804776
# The guide's conformal half-widths from 5-fold cross-validated absolute residuals (one width for all), by
# level: the reference is the one at the served level.
REFERENCE_HALF_WIDTH = {0.8: 82, 0.9: 103, 0.95: 117}[INTERVAL_LEVEL]
TOLERANCE = 0.1

plausible_bmis = st.floats(min_value=contract.BMI_MIN, max_value=contract.BMI_MAX, allow_nan=False)


def test_prediction_matches_the_reference_least_squares_line(model_artifact: ModelArtifact) -> None:
    # Given the trained model, When predicting for a typical BMI
    result = prediction.predict_batch(model_artifact, [27.3])
    # Then it agrees with the closed-form solution to well under one unit of the target (25-346)
    assert result.values == [pytest.approx(REFERENCE_SLOPE * 27.3 + REFERENCE_INTERCEPT, abs=0.05)]
    assert result.extrapolated == [False]


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
def test_a_batch_is_the_model_applied_to_each_value_in_input_order(
    model_artifact: ModelArtifact, bmis: list[float]
) -> None:
    batch = prediction.predict_batch(model_artifact, bmis)
    assert batch.values == [model_artifact.coefficients.predict(b) for b in bmis]
    # Each value's interval: the artifact's own rule, around that value, at the artifact's level
    interval, served = model_artifact.interval, prediction.intervals(model_artifact, bmis, batch.values)
    bounds = [interval.bounds(b, v) for b, v in zip(bmis, batch.values, strict=True)]
    assert list(zip(served.lower, served.upper, strict=True)) == bounds
    assert served.level == interval.level
    assert all(
        low < value < high for low, value, high in zip(served.lower, batch.values, served.upper, strict=True)
    )
    assert batch.extrapolated == [model_artifact.feature.is_extrapolated(b) for b in bmis]
    assert batch.extrapolated_count == sum(batch.extrapolated)


def test_a_typical_patient_s_interval_is_about_as_wide_as_the_reference_one(
    model_artifact: ModelArtifact,
) -> None:
    # At the cohort's median BMI (25.7) the adaptive interval should be close to the one-width reference
    # (±103 at the guide's 90%); for a lean or a heavy patient it should not (that is what adapting means).
    interval = model_artifact.interval
    assert interval.half_width(25.7) == pytest.approx(REFERENCE_HALF_WIDTH, rel=TOLERANCE)
    assert (
        interval.half_width(19.0)
        < (1 - TOLERANCE) * REFERENCE_HALF_WIDTH
        < (1 + TOLERANCE) * REFERENCE_HALF_WIDTH
        < interval.half_width(38.0)
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
