"""Predictions and their intervals, and their consistency with the model the service says it serves."""

from __future__ import annotations

import bisect
import math

import pytest

from model.core import contract
from model.core.artifact import INTERVAL_LEVEL
from tests.e2e.assertions import json_of

REL = 1e-12


def expected(model, bmi: float) -> float:
    """The line, held to the outcome range GET /v1/model records."""
    coefficients, outcome = model["coefficients"], model["outcome"]
    return min(max(coefficients["slope"] * bmi + coefficients["intercept"], outcome["low"]), outcome["high"])


def scaled(model, bmi: float) -> float:
    feature = model["feature"]
    return (bmi - feature["sklearn_mean"]) / feature["sklearn_scale"]


def half_width(model, bmi: float) -> float:
    """The interval's half-width at ``bmi``, from GET /v1/model's parameters: the BMI band's, widened per
    kg/m^2 outside the training range."""
    interval, feature = model["interval"], model["feature"]
    distance = max(feature["train_min"] - bmi, bmi - feature["train_max"], 0.0)
    band = interval["bands"][bisect.bisect_right(interval["edges"], bmi)]
    return band["half_width"] + interval["extrapolation_widening"] * distance


def assert_interval_around(model, bmi: float, prediction: float, lower: int, upper: int) -> None:
    """The served bounds are prediction -+ half_width, rounded outward to whole units, held to the outcome
    range, and holding the prediction."""
    half, low, high = half_width(model, bmi), int(model["outcome"]["low"]), int(model["outcome"]["high"])
    assert isinstance(lower, int), lower
    assert isinstance(upper, int), upper
    assert low <= lower <= prediction <= upper <= high, (bmi, lower, prediction, upper)
    assert lower == max(math.floor(prediction - half), low), (bmi, lower, prediction - half)
    assert upper == min(math.ceil(prediction + half), high), (bmi, upper, prediction + half)


@pytest.mark.smoke
def test_model_route_describes_a_model_that_passed_its_gates(api, model):
    assert model["feature"]["name"] == "bmi"
    assert model["feature"]["unit"] == "kg/m^2"
    assert json_of(api.get("/v1/model"), 200)["limits"] == {
        "bmi_min": contract.BMI_MIN,
        "bmi_max": contract.BMI_MAX,
        "batch_max": contract.BATCH_MAX,
    }
    assert model["metrics"]["gates"]
    assert all(gate["passed"] for gate in model["metrics"]["gates"])
    assert model["metrics"]["holdout_r2"] >= 0.4


@pytest.mark.smoke
def test_model_route_describes_the_interval_its_level_and_its_measured_coverage(model):
    interval = model["interval"]
    assert interval["method"] == "mondrian-cv-conformal"  # the rule half_width() applies
    assert interval["level"] == INTERVAL_LEVEL  # the level the trainer and the documentation promise
    # Measured by nested cross-validation on the training rows, for everyone, every band and WHO group
    for group in interval["coverage"]:
        assert INTERVAL_LEVEL - 0.03 <= group["coverage"] <= group["expected"] + 0.03, group
    assert 0 <= interval["holdout_coverage"] <= 1
    calibration = [g for g in model["metrics"]["gates"] if g["name"].startswith("calibration")]
    assert {g["value"] for g in calibration} == {g["coverage"] for g in interval["coverage"]}


@pytest.mark.smoke
@pytest.mark.parametrize("bmi", [18.0, 26.4, 32.1, 42.2])
def test_prediction_comes_with_its_interval_at_the_model_s_level(api, model, bmi):
    body = json_of(api.post("/v1/predict", json={"bmi": bmi}), 200)
    interval = body["interval"]
    assert set(interval) == {"level", "lower", "upper"}
    assert interval["level"] == model["interval"]["level"]
    assert_interval_around(model, bmi, body["prediction"], interval["lower"], interval["upper"])


def test_the_interval_widens_with_bmi_as_the_model_says(api, model):
    widths = []
    for bmi in (19.0, 26.4, 38.0):
        interval = json_of(api.post("/v1/predict", json={"bmi": bmi}), 200)["interval"]
        widths.append(interval["upper"] - interval["lower"])
    halves = [band["half_width"] for band in model["interval"]["bands"]]
    assert halves == sorted(halves)  # this model's bands: the heavier, the wider
    assert widths == sorted(widths)
    assert widths[0] < widths[-1]


@pytest.mark.smoke
@pytest.mark.parametrize("bmi", [18.0, 26.4, 32.1, 42.2])
def test_prediction_is_slope_times_bmi_plus_intercept(api, model, bmi):
    body = json_of(api.post("/v1/predict", json={"bmi": bmi}), 200)
    assert body["prediction"] == pytest.approx(expected(model, bmi), rel=REL)
    assert body["model_version"] == model["model_version"]
    assert body["extrapolated"] is False


@pytest.mark.parametrize("bmi", [contract.BMI_MIN, 17.9, 42.3, contract.BMI_MAX])
def test_bmi_outside_the_training_range_is_answered_and_flagged(api, model, bmi):
    body = json_of(api.post("/v1/predict", json={"bmi": bmi}), 200)
    assert body["prediction"] == pytest.approx(expected(model, bmi), rel=REL)
    assert body["extrapolated"] is True
    # Still an interval, by the same rule (its coverage is not promised out here: the flag says so)
    interval = body["interval"]
    assert_interval_around(model, bmi, body["prediction"], interval["lower"], interval["upper"])


def test_integer_bmi_is_a_number_like_any_other(api, model):
    body = json_of(api.post("/v1/predict", json={"bmi": 30}), 200)
    assert body["prediction"] == pytest.approx(expected(model, 30.0), rel=REL)


@pytest.mark.smoke
def test_batch_predicts_each_value_in_order(api, model):
    bmis = [22.0, 35.5, 12.0, 27.3]
    body = json_of(api.post("/v1/predict/batch", json={"bmi": bmis}), 200)
    assert body["predictions"] == pytest.approx([expected(model, b) for b in bmis], rel=REL)
    assert body["extrapolated"] == [False, False, True, False]
    assert body["extrapolated_count"] == 1
    assert body["model_version"] == model["model_version"]
    intervals = body["intervals"]
    assert set(intervals) == {"level", "lower", "upper"}
    assert intervals["level"] == model["interval"]["level"]
    assert len(intervals["lower"]) == len(intervals["upper"]) == len(bmis)
    for bmi, prediction, lower, upper in zip(
        bmis, body["predictions"], intervals["lower"], intervals["upper"], strict=True
    ):
        assert_interval_around(model, bmi, prediction, lower, upper)


def test_batch_agrees_with_single_predictions(api):
    bmis = [19.5, 40.0, 24.0, 31.25]
    batch = json_of(api.post("/v1/predict/batch", json={"bmi": bmis}), 200)
    singles = [json_of(api.post("/v1/predict", json={"bmi": b}), 200) for b in bmis]
    assert batch["predictions"] == [single["prediction"] for single in singles]
    intervals = batch["intervals"]
    assert [
        {"level": intervals["level"], "lower": lower, "upper": upper}
        for lower, upper in zip(intervals["lower"], intervals["upper"], strict=True)
    ] == [single["interval"] for single in singles]


def test_batch_of_the_documented_maximum_is_served(api, model):
    bmis = [18.0 + (i % 250) / 10 for i in range(contract.BATCH_MAX)]
    body = json_of(api.post("/v1/predict/batch", json={"bmi": bmis}), 200)
    assert len(body["predictions"]) == contract.BATCH_MAX
    assert body["predictions"][-1] == pytest.approx(expected(model, bmis[-1]), rel=REL)
    assert len(body["intervals"]["lower"]) == len(body["intervals"]["upper"]) == contract.BATCH_MAX
    assert_interval_around(
        model,
        bmis[-1],
        body["predictions"][-1],
        body["intervals"]["lower"][-1],
        body["intervals"]["upper"][-1],
    )
