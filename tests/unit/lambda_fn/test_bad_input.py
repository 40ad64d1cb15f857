"""Bad input is always a clear 4xx in the one error shape: never a 5xx, never a wrong number."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_fn import contract
from model.artifact import ModelArtifact

from .conftest import Invoker, Result

POST_ROUTES = [r.path for r in contract.ROUTES if r.method == "POST"]

# (route, raw body, status, code, the field the first detail must name)
CASES: list[tuple[str, str, int, str, str | None]] = [
    ("/v1/predict", '{"bmi": "27.3"}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": true}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": null}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": {"value": 27.3}}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": [27.3]}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": NaN}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": Infinity}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": -Infinity}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": 1e400}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": ' + "9" * 400 + "}", 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": 9.99}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": 100.01}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": -27.3}', 422, "validation_error", "bmi"),
    ("/v1/predict", "{}", 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": 27.3, "age": 50}', 422, "validation_error", "age"),
    ("/v1/predict", '{"bmi": 30, "bmi": 31}', 422, "validation_error", "bmi"),
    ("/v1/predict", '{"bmi": 30, "\\u0062mi": 31}', 422, "validation_error", "bmi"),
    ("/v1/predict/batch", '{"bmi": [30], "bmi": [31]}', 422, "validation_error", "bmi"),
    ("/stream", '{"input": 0.01, "input": 0.02}', 422, "validation_error", "input"),
    ("/v1/predict", '{"BMI": 27.3}', 422, "validation_error", "bmi"),
    ("/v1/predict", "[27.3]", 422, "validation_error", None),
    ("/v1/predict", "27.3", 422, "validation_error", None),
    ("/v1/predict", '"27.3"', 422, "validation_error", None),
    ("/v1/predict", "null", 422, "validation_error", None),
    ("/v1/predict", '{"bmi": 27.3', 400, "malformed_json", None),
    ("/v1/predict", '{"bmi": 27.3,}', 400, "malformed_json", None),
    ("/v1/predict", '{"bmi": 27.3} {"bmi": 30}', 400, "malformed_json", None),
    ("/v1/predict", "{'bmi': 27.3}", 400, "malformed_json", None),
    ("/v1/predict", "   ", 400, "empty_body", None),
    ("/v1/predict/batch", '{"bmi": []}', 422, "validation_error", "bmi"),
    ("/v1/predict/batch", '{"bmi": 27.3}', 422, "validation_error", "bmi"),
    ("/v1/predict/batch", '{"bmi": [27.3, "31"]}', 422, "validation_error", "bmi[1]"),
    ("/v1/predict/batch", '{"bmi": [27.3, [31.0]]}', 422, "validation_error", "bmi[1]"),
    ("/v1/predict/batch", '{"bmi": [27.3, NaN]}', 422, "validation_error", "bmi[1]"),
    ("/v1/predict/batch", '{"bmi": [27.3, 5]}', 422, "validation_error", "bmi[1]"),
    (
        "/v1/predict/batch",
        '{"bmi": [' + ",".join(["25"] * (contract.BATCH_MAX + 1)) + "]}",
        422,
        "validation_error",
        "bmi",
    ),
    ("/v1/predict/batch", '{"bmis": [27.3]}', 422, "validation_error", "bmi"),
    ("/stream", '{"input": "0.05"}', 422, "validation_error", "input"),
    ("/stream", '{"input": 1e400}', 422, "validation_error", "input"),
    ("/stream", '{"input": 25}', 422, "validation_error", "input"),  # a raw BMI sent to the scaled route
    ("/stream", '{"input": [0.05]}', 422, "validation_error", "input"),
    ("/stream", '{"bmi": 27.3}', 422, "validation_error", "input"),
    ("/batch", '{"input": []}', 422, "validation_error", "input"),
    ("/batch", '{"input": [0.05, 30.0]}', 422, "validation_error", "input[1]"),
    ("/batch", '{"input": [0.05, -Infinity]}', 422, "validation_error", "input[1]"),
    ("/batch", '{"input": [0.05], "extra": 1}', 422, "validation_error", "extra"),
]


def assert_error_shape(result: Result) -> None:
    assert result.header("Content-Type") == "application/json"
    assert set(result.body) == {"error"}
    error = result.body["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["message"]
    for detail in error["details"]:
        assert set(detail) == {"field", "issue"}
    # Our own words only: no pydantic wording, no Python internals, no documentation links
    text = result.raw_body.lower()
    for leak in (
        "pydantic",
        "traceback",
        "input should",
        "errors.pydantic.dev",
        "valueerror",
        "json_invalid",
    ):
        assert leak not in text


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "field"), CASES, ids=[f"{c[0]} {c[1][:40]}" for c in CASES]
)
def test_bad_bodies_get_a_clear_4xx(
    invoke: Invoker, path: str, body: str, status: int, code: str, field: str | None
) -> None:
    result = invoke("POST", path, body)
    assert (result.status, result.body["error"]["code"]) == (status, code)
    assert_error_shape(result)
    if field is not None:
        assert result.body["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("body", [None, ""])
def test_an_empty_body_is_400(invoke: Invoker, path: str, body: str | None) -> None:
    result = invoke("POST", path, body)
    assert (result.status, result.body["error"]["code"]) == (400, "empty_body")
    assert_error_shape(result)


def test_a_huge_unknown_key_is_shortened_in_the_error(invoke: Invoker) -> None:
    result = invoke("POST", "/v1/predict", {"bmi": 27.3, "k" * 10_000: 1})
    (detail,) = result.body["error"]["details"]
    assert detail["field"] == "k" * 63 + "…"


def test_a_batch_full_of_errors_reports_a_bounded_number_of_details(invoke: Invoker) -> None:
    result = invoke("POST", "/v1/predict/batch", {"bmi": ["x"] * 500})
    details = result.body["error"]["details"]
    assert result.status == 422
    assert len(details) == 21
    assert details[-1] == {"field": None, "issue": "... and 480 more problems"}


# --- Property: arbitrary JSON at every route ------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and ±Infinity included: serialised below as the non-standard tokens
    | st.floats(min_value=contract.BMI_MIN, max_value=contract.BMI_MAX)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["bmi", "input", "x"]) | st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)
bodies = (
    json_values | st.fixed_dictionaries({"bmi": json_values}) | st.fixed_dictionaries({"input": json_values})
)


def check_prediction(model: ModelArtifact, path: str, request: Any, result: Result) -> None:
    """A 200 must be exactly the model's answer for a valid request."""
    slope, intercept = model.coefficients.slope, model.coefficients.intercept
    feature = model.feature
    if path == "/v1/predict":
        bmi = request["bmi"]
        assert contract.BMI_MIN <= bmi <= contract.BMI_MAX
        assert result.body["prediction"] == slope * bmi + intercept
        assert result.body["extrapolated"] is feature.is_extrapolated(bmi)
    elif path == "/v1/predict/batch":
        assert all(contract.BMI_MIN <= b <= contract.BMI_MAX for b in request["bmi"])
        assert result.body["predictions"] == [slope * b + intercept for b in request["bmi"]]
    else:
        values = request["input"] if isinstance(request["input"], list) else [request["input"]]
        raw = [feature.to_raw(v) for v in values]
        assert all(contract.BMI_MIN <= r <= contract.BMI_MAX for r in raw)
        assert result.body["Response Predict"] == [slope * r + intercept for r in raw]
    for token in ("null", "NaN", "Infinity"):  # what a non-finite float would have been written as
        assert token not in result.raw_body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(POST_ROUTES), request=bodies)
def test_arbitrary_json_never_gets_a_5xx_and_every_200_is_correct(
    invoke: Invoker, served_model: ModelArtifact, path: str, request: Any
) -> None:
    result = invoke("POST", path, json.dumps(request))  # allow_nan: NaN/Infinity go out as bare tokens
    assert 200 <= result.status < 500, result.raw_body
    if result.status == 200:
        check_prediction(served_model, path, request, result)
    else:
        assert_error_shape(result)


@settings(max_examples=100, deadline=None)
@given(
    route=st.sampled_from(contract.ROUTES),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
    body=st.none() | st.text(max_size=30) | bodies.map(json.dumps),
)
def test_any_method_and_body_on_any_route_is_answered_without_a_5xx(
    invoke: Invoker, route: contract.Route, method: str, body: str | None
) -> None:
    result = invoke(method, route.path, body)
    assert result.status < 500, result.raw_body
    if result.status >= 400:
        assert_error_shape(result)
