"""Every route through the real handler, with API Gateway REST events: what a client sees."""

from __future__ import annotations

import base64
import json

import pytest
from sklearn.datasets import load_diabetes

from model.core import contract
from model.core.artifact import ModelArtifact
from tests.served_rule import served

from .conftest import Invoker

BMI_COLUMN = 2


def expected(model: ModelArtifact, bmi: float) -> float:
    return served(model, bmi)[0]


def bounds(model: ModelArtifact, bmi: float) -> tuple[int, int]:
    return served(model, bmi)[1:3]


def test_predict_returns_the_prediction_its_interval_and_the_model_version(
    invoke: Invoker, served_model: ModelArtifact
) -> None:
    result = invoke("POST", "/v1/predict", {"bmi": 27.3})
    assert result.status == 200
    assert result.header("Content-Type") == "application/json"
    lower, upper = bounds(served_model, 27.3)
    assert result.body == {
        "prediction": expected(served_model, 27.3),
        "interval": {"level": served_model.interval.level, "lower": lower, "upper": upper},
        "model_version": served_model.model_version,
        "extrapolated": False,
        "extrapolation_distance": 0.0,
    }
    assert lower < result.body["prediction"] < upper


@pytest.mark.parametrize("bmi", [10, 12.5, 17.99, 42.21, 99.9, 100])
def test_predict_flags_a_plausible_bmi_outside_the_training_range_and_still_gives_an_interval(
    invoke: Invoker, served_model: ModelArtifact, bmi: float
) -> None:
    result = invoke("POST", "/v1/predict", {"bmi": bmi})
    assert result.status == 200
    assert result.body["extrapolated"] is True
    assert result.body["extrapolation_distance"] == served(served_model, bmi)[3] > 0
    interval = result.body["interval"]
    assert [interval["lower"], interval["upper"]] == list(bounds(served_model, bmi))
    assert interval["lower"] <= result.body["prediction"] <= interval["upper"]


def test_the_interval_is_wider_for_a_heavier_patient(invoke: Invoker) -> None:
    # The cross-validated errors spread more for heavier patients, and so does the interval, band by band
    widths = []
    for bmi in (20.0, 27.3, 35.0):
        interval = invoke("POST", "/v1/predict", {"bmi": bmi}).body["interval"]
        widths.append(interval["upper"] - interval["lower"])
    assert widths == sorted(widths)
    assert widths[0] < widths[-1]


def test_batch_answers_in_input_order_with_per_item_flags_and_a_count(
    invoke: Invoker, served_model: ModelArtifact
) -> None:
    bmis = [45.5, 27.3, 18.0, 12.0, 31.0]
    result = invoke("POST", "/v1/predict/batch", {"bmi": bmis})
    assert result.status == 200
    assert result.body == {
        "predictions": [expected(served_model, b) for b in bmis],
        "intervals": {
            "level": served_model.interval.level,
            "lower": [bounds(served_model, b)[0] for b in bmis],
            "upper": [bounds(served_model, b)[1] for b in bmis],
        },
        "model_version": served_model.model_version,
        "extrapolated": [True, False, False, True, False],
        "extrapolated_count": 2,
        "extrapolation_distance": [served(served_model, b)[3] for b in bmis],
    }


def test_over_the_accepted_range_every_bound_is_a_possible_outcome_and_holds_the_prediction(
    invoke: Invoker, served_model: ModelArtifact
) -> None:
    bmis = [round(contract.BMI_MIN + i / 100, 2) for i in range(9001)]  # 10 to 100 kg/m^2
    body = invoke("POST", "/v1/predict/batch", {"bmi": bmis}).body
    low, high = served_model.outcome.low, served_model.outcome.high
    rows = zip(body["predictions"], body["intervals"]["lower"], body["intervals"]["upper"], strict=True)
    assert all(low <= lower <= value <= upper <= high for value, lower, upper in rows)
    # The legacy route's predictions are held to the same range, in the shape its clients know
    scaled = [served_model.feature.to_scaled(b) for b in (10.01, 99.99)]
    assert invoke("POST", "/batch", {"input": scaled}).body == {"Response Predict": [low, high]}


def test_batch_intervals_are_the_single_route_s_in_input_order(invoke: Invoker) -> None:
    bmis = [31.0, 19.5, 45.5, 27.3]
    batch = invoke("POST", "/v1/predict/batch", {"bmi": bmis}).body["intervals"]
    singles = [invoke("POST", "/v1/predict", {"bmi": b}).body["interval"] for b in bmis]
    assert [
        {"level": batch["level"], "lower": lo, "upper": up}
        for lo, up in zip(batch["lower"], batch["upper"], strict=True)
    ] == singles


def test_batch_accepts_exactly_the_maximum_size(invoke: Invoker) -> None:
    result = invoke("POST", "/v1/predict/batch", {"bmi": [25.0] * contract.BATCH_MAX})
    assert result.status == 200
    assert len(result.body["predictions"]) == contract.BATCH_MAX
    assert (
        len(result.body["intervals"]["lower"]) == len(result.body["intervals"]["upper"]) == contract.BATCH_MAX
    )


def test_legacy_routes_give_every_patient_the_same_prediction_as_v1(invoke: Invoker) -> None:
    # Given all 442 patients, in scikit-learn's scaled units (what legacy clients send) and in kg/m^2
    scaled = load_diabetes().data[:, BMI_COLUMN].tolist()
    raw = load_diabetes(scaled=False).data[:, BMI_COLUMN].tolist()
    # When each is sent to its route
    legacy = invoke("POST", "/batch", {"input": scaled})
    current = invoke("POST", "/v1/predict/batch", {"bmi": raw})
    single = invoke("POST", "/stream", {"input": scaled[0]})
    # Then the predictions agree patient by patient, in the legacy response shape
    assert legacy.status == current.status == single.status == 200
    assert list(legacy.body) == ["Response Predict"]
    assert legacy.body["Response Predict"] == pytest.approx(current.body["predictions"], abs=1e-9)
    assert single.body == {"Response Predict": [pytest.approx(current.body["predictions"][0], abs=1e-9)]}


def test_model_route_serves_the_artifact_document_and_the_limits(
    invoke: Invoker, served_model: ModelArtifact
) -> None:
    body = invoke("GET", "/v1/model").body
    assert body == {
        "artifact": json.loads(served_model.to_json()),
        "limits": {"bmi_min": contract.BMI_MIN, "bmi_max": contract.BMI_MAX, "batch_max": contract.BATCH_MAX},
    }
    assert all(gate["passed"] for gate in body["artifact"]["metrics"]["gates"])
    # It describes the served intervals: method, level, bands, and the coverage measured for each group
    interval = body["artifact"]["interval"]
    assert {"method", "level", "edges", "bands", "coverage", "holdout_coverage"} <= set(interval)
    assert all(0.87 <= group["coverage"] <= group["expected"] + 0.03 for group in interval["coverage"])


def test_health_reports_the_model_version(invoke: Invoker, served_model: ModelArtifact) -> None:
    result = invoke("GET", "/health", headers={})
    assert (result.status, result.body) == (
        200,
        {"status": "ok", "model_version": served_model.model_version},
    )


# --- HTTP semantics ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json;charset=UTF-8",
        'application/json;charset="utf-8"',  # RFC 9110 §8.3.1: a parameter's value may be quoted
        'application/json; CHARSET="UTF-8"',
        'application/json ;charset="utf\\-8"',  # a quoted-pair
    ],
)
def test_json_bodies_are_accepted_with_or_without_a_json_content_type(
    invoke: Invoker, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    assert invoke("POST", "/v1/predict", '{"bmi": 27.3}', headers=headers).status == 200


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json-patch+json",
        "application/problem+json",
        "application/json; charset=latin-1",
        'application/json; charset="latin-1"',
        'application/json; charset="utf-8',
        'application/json; charset="utf-8\\"',
        "application/jsonx",
        "; charset=utf-8",  # parameters, but no media type
    ],
)
def test_a_declared_non_json_content_type_is_415_saying_what_to_send(
    invoke: Invoker, content_type: str
) -> None:
    result = invoke("POST", "/v1/predict", '{"bmi": 27.3}', headers={"content-type": content_type})
    assert result.status == 415
    assert result.body["error"]["code"] == "unsupported_media_type"
    assert "application/json" in result.body["error"]["message"]


@pytest.mark.parametrize("route", contract.ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_known_path_with_the_wrong_method_is_405_with_allow(invoke: Invoker, route: contract.Route) -> None:
    wrong = "DELETE" if route.method == "POST" else "PUT"
    result = invoke(wrong, route.path)
    assert result.status == 405
    assert result.header("Allow") == ", ".join(sorted(route.methods))
    assert result.body["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("route", contract.ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_route_s_method_in_other_case_is_another_method_405(invoke: Invoker, route: contract.Route) -> None:
    # HTTP methods are case-sensitive (RFC 9110 §9.1); Powertools would upper-case "post" and serve it
    for method in (route.method.lower(), route.method.capitalize()):
        result = invoke(method, route.path, '{"bmi": 27.3}')
        assert result.status == 405, method
        assert result.header("Allow") == ", ".join(sorted(route.methods))
        assert result.body["error"]["message"].startswith(f"{method} is not allowed")


def test_a_method_in_other_case_on_an_unknown_path_is_404(invoke: Invoker) -> None:
    assert invoke("post", "/v2/predict", '{"bmi": 27.3}').status == 404


@pytest.mark.parametrize("path", ["/v2/predict", "/v1/predict/", "/v1/predict/batch/extra", "/HEALTH"])
def test_an_unknown_path_is_404_in_the_error_shape(invoke: Invoker, path: str) -> None:
    result = invoke("GET", path)
    assert result.status == 404
    assert result.body["error"]["code"] == "not_found"


def test_a_base64_encoded_body_is_decoded(invoke: Invoker) -> None:
    body = base64.b64encode(b'{"bmi": 27.3}').decode()
    assert invoke("POST", "/v1/predict", body, base64_encoded=True).status == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("not base64!", 400, "malformed_json"),
        (base64.b64encode(b"\xff\xfe{").decode(), 400, "malformed_json"),
    ],
)
def test_an_undecodable_base64_body_is_400(invoke: Invoker, body: str, status: int, code: str) -> None:
    result = invoke("POST", "/v1/predict", body, base64_encoded=True)
    assert (result.status, result.body["error"]["code"]) == (status, code)


def test_a_body_over_the_size_limit_is_413(invoke: Invoker) -> None:
    body = '{"bmi": [' + ", ".join(["25.000000000"] * 100_000) + "]}"
    assert len(body) > contract.BODY_MAX_BYTES
    result = invoke("POST", "/v1/predict/batch", body)
    assert (result.status, result.body["error"]["code"]) == (413, "payload_too_large")


def test_the_size_limit_counts_utf8_bytes_not_characters(invoke: Invoker) -> None:
    # Given a body under the limit in characters but over it in bytes (each "é" is two UTF-8 bytes)
    body = '{"bmi": 27.3, "note": "' + "é" * (contract.BODY_MAX_BYTES // 2 + 1) + '"}'
    assert len(body) < contract.BODY_MAX_BYTES < len(body.encode())
    assert invoke("POST", "/v1/predict", body).status == 413


@pytest.mark.parametrize(("stage", "location"), [("prod", "/prod/docs"), ("$default", "/docs")])
def test_the_root_redirects_to_the_docs_under_the_address_it_was_called_at(
    invoke: Invoker, stage: str, location: str
) -> None:
    # Given the stage's own URL (".../prod/") or a custom domain, where the stage is not in the path
    result = invoke("GET", "/", headers={}, stage=stage)
    # Then the answer points at the docs page beside it
    assert (result.status, result.header("Location"), result.raw_body) == (302, location, "")


def test_the_docs_page_works_without_a_cdn(invoke: Invoker) -> None:
    result = invoke("GET", "/docs", headers={})
    assert result.status == 200
    assert result.header("Content-Type") == "text/html; charset=utf-8"
    assert "SwaggerUIBundle" in result.raw_body
    # Everything is inlined: no script or stylesheet is fetched from anywhere
    assert "<script src=" not in result.raw_body
    assert 'rel="stylesheet" href=' not in result.raw_body
    assert json.dumps("/v1/predict/batch")[1:-1] in result.raw_body


@pytest.mark.parametrize("route", [r for r in contract.ROUTES if r.method == "GET"], ids=lambda r: r.path)
def test_every_get_route_answers_head_with_the_get_s_status_and_headers(
    invoke: Invoker, route: contract.Route
) -> None:
    # The gateway and the development server drop a HEAD answer's body; its status and headers are GET's
    get, head = invoke("GET", route.path, headers={}), invoke("HEAD", route.path, headers={})
    assert head.status == get.status
    assert head.header("Content-Type") == get.header("Content-Type")
    assert head.header("Location") == get.header("Location")
