"""The contract of the system this service replaces: scaled units in, {"Response Predict": [...]} out."""

from __future__ import annotations

import pytest

from tests.e2e.assertions import json_of
from tests.e2e.test_predictions import scaled

REL = 1e-9  # the scaled round trip (bmi -> scaled -> bmi) costs a few ulps


@pytest.mark.smoke
@pytest.mark.parametrize("bmi", [21.6, 30.0, 38.4])
def test_stream_agrees_with_predict_for_the_same_patient(api, model, bmi):
    legacy = json_of(api.post("/stream", json={"input": scaled(model, bmi)}), 200)
    current = json_of(api.post("/v1/predict", json={"bmi": bmi}), 200)
    assert set(legacy) == {"Response Predict"}
    assert legacy["Response Predict"] == pytest.approx([current["prediction"]], rel=REL)


def test_stream_answers_the_legacy_example_request(api):
    # The example value of the old API's documentation: a scaled BMI from scikit-learn's diabetes data.
    body = json_of(api.post("/stream", json={"input": 0.0616962065186885}), 200)
    (prediction,) = body["Response Predict"]
    assert 150 < prediction < 300


@pytest.mark.smoke
def test_batch_agrees_with_predict_batch(api, model):
    bmis = [20.0, 26.5, 33.0, 41.0]
    legacy = json_of(api.post("/batch", json={"input": [scaled(model, b) for b in bmis]}), 200)
    current = json_of(api.post("/v1/predict/batch", json={"bmi": bmis}), 200)
    assert set(legacy) == {"Response Predict"}
    assert legacy["Response Predict"] == pytest.approx(current["predictions"], rel=REL)


def test_legacy_response_is_byte_compatible(api):
    response = api.post("/stream", json={"input": 0.0})
    assert response.status == 200
    assert response.text.startswith('{"Response Predict":[')
