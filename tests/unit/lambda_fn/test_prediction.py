"""The pure domain: predictions, extrapolation flags, and the legacy scaled-unit conversion."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_fn import contract, prediction
from model.artifact import ModelArtifact

# Closed-form least squares on BMI alone (the team guide's reference); the trainer converges to it.
REFERENCE_SLOPE = 10.112441
REFERENCE_INTERCEPT = -113.804776

plausible_bmis = st.floats(min_value=contract.BMI_MIN, max_value=contract.BMI_MAX, allow_nan=False)


def test_prediction_matches_the_reference_least_squares_line(model_artifact: ModelArtifact) -> None:
    # Given the trained model, When predicting for a typical BMI
    result = prediction.predict_one(model_artifact, 27.3)
    # Then it agrees with the closed-form solution to well under one unit of the target (25-346)
    assert result.value == pytest.approx(REFERENCE_SLOPE * 27.3 + REFERENCE_INTERCEPT, abs=0.05)
    assert result.extrapolated is False


@pytest.mark.parametrize(
    ("bmi", "extrapolated"),
    [(17.99, True), (18.0, False), (30.0, False), (42.2, False), (42.21, True), (10.0, True), (100.0, True)],
)
def test_extrapolation_flag_marks_bmis_outside_the_training_range(
    model_artifact: ModelArtifact, bmi: float, extrapolated: bool
) -> None:
    assert model_artifact.feature.train_min == 18.0
    assert model_artifact.feature.train_max == 42.2
    assert prediction.predict_one(model_artifact, bmi).extrapolated is extrapolated


@given(bmis=st.lists(plausible_bmis, min_size=1, max_size=50))
def test_batch_equals_one_prediction_per_value_in_input_order(
    model_artifact: ModelArtifact, bmis: list[float]
) -> None:
    batch = prediction.predict_batch(model_artifact, bmis)
    singles = [prediction.predict_one(model_artifact, bmi) for bmi in bmis]
    assert batch.values == [s.value for s in singles]
    assert batch.extrapolated == [s.extrapolated for s in singles]
    assert batch.extrapolated_count == sum(s.extrapolated for s in singles)


def test_legacy_conversion_inverts_scikit_learn_scaling(model_artifact: ModelArtifact) -> None:
    feature = model_artifact.feature
    # Given a patient with BMI 32.1 expressed in scikit-learn's scaled units
    scaled = (32.1 - feature.sklearn_mean) / feature.sklearn_scale
    # Then the legacy route sees the same patient and the same prediction as the v1 route
    raw = prediction.legacy_to_raw(model_artifact, scaled)
    assert raw == pytest.approx(32.1, abs=1e-9)
    assert prediction.predict_one(model_artifact, raw).value == pytest.approx(
        prediction.predict_one(model_artifact, 32.1).value, abs=1e-9
    )


@pytest.mark.parametrize("scaled", [5.0, -1.0, 1e308, -1e308, math.inf, math.nan])
def test_legacy_inputs_that_convert_to_an_implausible_bmi_are_rejected(
    model_artifact: ModelArtifact, scaled: float
) -> None:
    with pytest.raises(prediction.ImplausibleBmiError) as raised:
        prediction.legacy_to_raw(model_artifact, scaled)
    assert [r.index for r in raised.value.rejected] == [None]


def test_legacy_batch_rejection_names_every_offending_index(model_artifact: ModelArtifact) -> None:
    feature = model_artifact.feature
    ok = (25.0 - feature.sklearn_mean) / feature.sklearn_scale
    with pytest.raises(prediction.ImplausibleBmiError) as raised:
        prediction.legacy_batch_to_raw(model_artifact, [ok, 9.0, ok, -9.0])
    assert [r.index for r in raised.value.rejected] == [1, 3]


@pytest.mark.parametrize(
    ("bmi", "plausible"),
    [(contract.BMI_MIN, True), (contract.BMI_MAX, True), (9.999, False), (100.001, False), (math.nan, False)],
)
def test_plausibility_rule_is_the_contract_range_inclusive(bmi: float, plausible: bool) -> None:
    assert prediction.is_plausible_bmi(bmi) is plausible


def test_legacy_input_range_is_the_contract_range_in_scaled_units(model_artifact: ModelArtifact) -> None:
    feature = model_artifact.feature
    low, high = prediction.legacy_input_range(model_artifact)
    assert low == pytest.approx((contract.BMI_MIN - feature.sklearn_mean) / feature.sklearn_scale, rel=1e-12)
    assert high == pytest.approx((contract.BMI_MAX - feature.sklearn_mean) / feature.sklearn_scale, rel=1e-12)


@given(
    mean=st.floats(min_value=15.0, max_value=40.0),
    scale=st.floats(min_value=0.5, max_value=5_000.0),
)
def test_legacy_input_range_ends_exactly_where_the_conversion_stops_accepting(
    model_artifact: ModelArtifact, mean: float, scale: float
) -> None:
    # Given any model's scaling (the bounds are documented per served model)
    feature = dataclasses.replace(model_artifact.feature, sklearn_mean=mean, sklearn_scale=scale)
    model = dataclasses.replace(model_artifact, feature=feature)
    # When its legacy input range is computed
    low, high = prediction.legacy_input_range(model)
    # Then both bounds are accepted and the next float beyond either one is rejected: the documented
    # range and the check agree to the last rounding step
    assert prediction.legacy_batch_to_raw(model, [low, high])
    for beyond in (math.nextafter(low, -math.inf), math.nextafter(high, math.inf)):
        with pytest.raises(prediction.ImplausibleBmiError):
            prediction.legacy_to_raw(model, beyond)
