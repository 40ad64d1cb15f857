"""Every bad input gets a clear 4xx in the one error shape, on every route, whatever the target.

Bodies are judged by the function alone; what the edge refuses before the function (a body larger than
Lambda can receive) gets the same code wherever it is refused.
"""

from __future__ import annotations

import json

import pytest

from model.core import contract
from tests.e2e.assertions import assert_error

# API Gateway's hard limit on a REST API request payload; larger requests never reach the function.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
POST_ROUTES = [r.path for r in contract.ROUTES if r.method == "POST"]
JSON = {"Content-Type": "application/json"}


@pytest.mark.smoke
@pytest.mark.parametrize("path", POST_ROUTES)
def test_malformed_json_is_a_400(api, path):
    assert_error(api.post(path, data=b'{"bmi": 30', headers=JSON), 400, "malformed_json")


@pytest.mark.parametrize("path", POST_ROUTES)
def test_empty_body_is_a_400(api, path):
    assert_error(api.post(path, data=b"", headers=JSON), 400, "empty_body")


@pytest.mark.parametrize("path", POST_ROUTES)
def test_json_that_is_not_an_object_is_a_422_about_the_whole_body(api, path):
    error = assert_error(api.post(path, data=b"[30]", headers=JSON), 422, "validation_error")
    assert error["details"][0]["field"] is None


@pytest.mark.smoke
@pytest.mark.parametrize("path", POST_ROUTES)
def test_a_body_that_is_not_json_is_a_415(api, path):
    response = api.post(path, data=b"bmi=30", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("body", "field", "issue_contains"),
    [
        ({"bmi": contract.BMI_MIN - 0.01}, "bmi", "between"),
        ({"bmi": contract.BMI_MAX + 0.01}, "bmi", "between"),
        ({"bmi": "30.5"}, "bmi", "number"),  # the old API accepted strings
        ({"bmi": True}, "bmi", "number"),  # ... and booleans
        ({"bmi": None}, "bmi", "number"),
        ({}, "bmi", ""),
        ({"bmi": 30, "age": 50}, "age", ""),  # a typo'd or unknown field is not silently ignored
    ],
)
def test_invalid_bmi_is_a_422_naming_the_field(api, body, field, issue_contains):
    error = assert_error(api.post("/v1/predict", json=body), 422, "validation_error")
    assert [d["field"] for d in error["details"]] == [field]
    assert issue_contains in error["details"][0]["issue"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers_are_refused_not_a_500(api, literal):
    # The old API answered NaN, Infinity and 1e308 with a 500.
    response = api.post("/v1/predict", data=b'{"bmi": ' + literal + b"}", headers=JSON)
    assert 400 <= response.status < 500
    assert_error(response, response.status, response.json()["error"]["code"])


def test_invalid_batch_item_is_named_by_its_index(api):
    error = assert_error(api.post("/v1/predict/batch", json={"bmi": [25.0, 500.0]}), 422, "validation_error")
    assert [d["field"] for d in error["details"]] == ["bmi[1]"]


@pytest.mark.parametrize(("path", "field"), [("/v1/predict/batch", "bmi"), ("/batch", "input")])
def test_empty_batch_is_a_422(api, path, field):
    # The old API answered an empty batch with 200.
    error = assert_error(api.post(path, json={field: []}), 422, "validation_error")
    assert error["details"][0]["field"] == field


@pytest.mark.smoke
@pytest.mark.parametrize(("path", "field"), [("/v1/predict/batch", "bmi"), ("/batch", "input")])
def test_batch_over_the_documented_maximum_is_a_422(api, path, field):
    value = 27.0 if field == "bmi" else 0.0
    error = assert_error(
        api.post(path, json={field: [value] * (contract.BATCH_MAX + 1)}), 422, "validation_error"
    )
    assert str(contract.BATCH_MAX) in error["details"][0]["issue"]


def test_real_bmi_sent_to_the_legacy_route_is_refused(api):
    # The old API took a BMI of 25 in scaled units and answered 22786; a BMI is not a scaled value.
    error = assert_error(api.post("/stream", json={"input": 25}), 422, "validation_error")
    assert error["details"][0]["field"] == "input"


def test_body_over_the_functions_limit_is_a_413(api):
    # Valid JSON, an object, far more than a full batch: refused by the function before parsing it.
    body = json.dumps({"bmi": [27.0] * 300_000}).encode()
    assert len(body) > 1024 * 1024
    assert_error(api.post("/v1/predict/batch", data=body, headers=JSON), 413, "payload_too_large")


def test_body_the_edge_refuses_is_a_413(api):
    # Too large for a synchronous Lambda payload once API Gateway has it: the web ACL refuses it first.
    body = b'{"bmi": [' + b"27.0," * (contract.EDGE_BODY_LIMIT_BYTES // 5) + b"27.0]}"
    assert contract.EDGE_BODY_LIMIT_BYTES <= len(body) < MAX_REQUEST_BODY_BYTES
    assert_error(api.post("/v1/predict/batch", data=body, headers=JSON), 413, "payload_too_large")


def test_body_over_api_gateways_limit_is_a_413(api):
    body = b'{"bmi": [' + b"27.0," * (MAX_REQUEST_BODY_BYTES // 5) + b"27.0]}"
    assert len(body) > MAX_REQUEST_BODY_BYTES
    assert_error(api.post("/v1/predict/batch", data=body, headers=JSON), 413, "payload_too_large")


@pytest.mark.smoke
@pytest.mark.parametrize("path", ["/v2/predict", "/v1/predictions", "/v1/predict/batch/1", "/v1"])
def test_unknown_path_is_a_404(api, path):
    assert_error(api.get(path, signed=False), 404, "not_found")


@pytest.mark.smoke
@pytest.mark.parametrize("route", contract.ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_wrong_method_is_a_405_with_allow(api, route):
    wrong = "GET" if route.method == "POST" else "POST"
    response = api.request(wrong, route.path)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == ", ".join(sorted(route.methods))
