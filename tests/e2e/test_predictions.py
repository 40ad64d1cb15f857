"""Predictions, and their consistency with the model the service says it serves."""

from __future__ import annotations

import pytest

from lambda_fn import contract
from tests.e2e.assertions import json_of

REL = 1e-12


def expected(model, bmi: float) -> float:
    coefficients = model["coefficients"]
    return coefficients["slope"] * bmi + coefficients["intercept"]


def scaled(model, bmi: float) -> float:
    feature = model["feature"]
    return (bmi - feature["sklearn_mean"]) / feature["sklearn_scale"]


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


def test_batch_agrees_with_single_predictions(api):
    bmis = [19.5, 24.0, 31.25, 40.0]
    batch = json_of(api.post("/v1/predict/batch", json={"bmi": bmis}), 200)["predictions"]
    singles = [json_of(api.post("/v1/predict", json={"bmi": b}), 200)["prediction"] for b in bmis]
    assert batch == singles


def test_batch_of_the_documented_maximum_is_served(api, model):
    bmis = [18.0 + (i % 250) / 10 for i in range(contract.BATCH_MAX)]
    body = json_of(api.post("/v1/predict/batch", json={"bmi": bmis}), 200)
    assert len(body["predictions"]) == contract.BATCH_MAX
    assert body["predictions"][-1] == pytest.approx(expected(model, bmis[-1]), rel=REL)
