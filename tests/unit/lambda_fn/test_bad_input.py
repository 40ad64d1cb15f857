"""Bad input is always a clear 4xx in the one error shape: never a 5xx, never a wrong number."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.core import contract
from model.core.artifact import ModelArtifact
from scripts.bench.function import hostile_bodies
from tests.served_rule import served

from .conftest import Invoker, Result, api_event

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
    feature = model.feature
    if path == "/v1/predict":
        bmi = request["bmi"]
        assert contract.BMI_MIN <= bmi <= contract.BMI_MAX
        assert result.body["prediction"] == served(model, bmi)[0]
        assert result.body["extrapolated"] is (served(model, bmi)[3] > 0)
    elif path == "/v1/predict/batch":
        assert all(contract.BMI_MIN <= b <= contract.BMI_MAX for b in request["bmi"])
        assert result.body["predictions"] == [served(model, b)[0] for b in request["bmi"]]
    else:
        values = request["input"] if isinstance(request["input"], list) else [request["input"]]
        raw = [feature.to_raw(v) for v in values]
        assert all(contract.BMI_MIN <= r <= contract.BMI_MAX for r in raw)
        assert result.body["Response Predict"] == [served(model, r)[0] for r in raw]
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


# --- Hostile input, by family: bounded work, no exception out of the entry point, bounded echo ----------
def test_a_body_with_more_values_than_any_request_is_refused_before_it_is_parsed(invoke: Invoker) -> None:
    # Given 300 000 empty objects in a body under the size limit (parsing it would cost ten valid batches)
    body = '{"bmi": [' + ",".join(["{}"] * 300_000) + "]}"
    assert len(body) < contract.BODY_MAX_BYTES
    result = invoke("POST", "/v1/predict/batch", body)
    assert (result.status, result.body["error"]["code"]) == (422, "validation_error")
    assert result.body["error"]["details"] == [
        {"field": None, "issue": "holds more values than a request may (10000)"}
    ]


@pytest.mark.parametrize(
    ("body", "issue"),
    [
        ('{"bmi": ' + "9" * 5_000 + "}", "must be a finite number"),  # past CPython's 4 300-digit limit
        ('{"bmi": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
        ('{"bmi": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}", "must be a number"),
    ],
    ids=["5000-digit integer", "deep arrays", "deep objects"],
)
def test_numbers_and_nesting_no_parser_should_chew_on_are_a_422(
    invoke: Invoker, body: str, issue: str
) -> None:
    result = invoke("POST", "/v1/predict", body)
    assert (result.status, result.body["error"]["code"]) == (422, "validation_error")
    assert issue in result.body["error"]["details"][0]["issue"]


def test_thousands_of_unknown_keys_cost_twenty_details_and_a_count(invoke: Invoker) -> None:
    body = "{" + ",".join(f'"k{i}": 0' for i in range(15_000)) + "}"
    details = invoke("POST", "/v1/predict", body).body["error"]["details"]
    assert len(details) == 21
    assert details[-1] == {"field": None, "issue": "... and 14981 more problems"}


@pytest.mark.parametrize("name", list(hostile_bodies()))
def test_each_hostile_body_the_benchmark_times_is_a_4xx_in_the_error_shape(
    invoke: Invoker, name: str
) -> None:
    # The bodies docs/benchmarks.md prices ("Hostile bodies"): refused, whatever each one costs
    for path in ("/v1/predict", "/v1/predict/batch"):
        result = invoke("POST", path, hostile_bodies()[name])
        assert 400 <= result.status < 500, (path, result.status)
        assert set(result.body) == {"error"}


MALFORMED_EVENTS: dict[str, Any] = {
    "requestContext null": {"requestContext": None},
    "requestContext a string": {"requestContext": "x"},
    "requestId a number": {"requestContext": {"requestId": 7}},
    "headers a list": {"headers": ["Content-Type"]},
    "a header value a number": {"headers": {"Content-Type": 5}},
    "multiValueHeaders not lists": {"multiValueHeaders": {"Content-Type": "application/json"}},
    "httpMethod missing": {"httpMethod": None},
    "httpMethod 65 000 characters": {"httpMethod": "G" * 65_000},
    "path missing": {"path": None},
    "path relative": {"path": "v1/predict"},
    "path with a newline": {"path": "/v1/predict\n"},
    "body an object": {"body": {"bmi": 27.3}},
    "body a list": {"body": ["27.3"]},
    "isBase64Encoded a string": {"isBase64Encoded": "yes"},
}


@pytest.mark.parametrize("change", MALFORMED_EVENTS.values(), ids=list(MALFORMED_EVENTS))
def test_a_malformed_event_is_a_400_and_one_log_line_never_an_exception(
    invoke: Invoker, change: dict[str, Any]
) -> None:
    event = {**api_event("POST", "/v1/predict", '{"bmi": 27.3}'), **change}
    result = invoke.event(event)
    assert (result.status, result.body["error"]["code"]) == (400, "bad_request")
    assert_error_shape(result)
    assert len(result.raw_body) < 300
    (line,) = result.logs
    assert (line["message"], line["status"], line["error_code"]) == ("request rejected", 400, "bad_request")
    assert line["problem"]


@pytest.mark.parametrize("event", [None, [], "GET /health", 42], ids=["null", "list", "string", "number"])
def test_an_event_that_is_not_an_object_is_a_400(invoke: Invoker, event: Any) -> None:
    result = invoke.event(event)
    assert (result.status, result.body["error"]["code"]) == (400, "bad_request")


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, 415, "unsupported_media_type"),
        ({"Content-Type": "application/json", "content-encoding": "br"}, 415, "unsupported_media_type"),
        ({"Content-Type": "application/json", "Content-Encoding": "identity"}, 200, None),
        ({"Content-Type": "application/json", "content-type": "text/plain"}, 400, "bad_request"),
    ],
)
def test_content_encodings_and_conflicting_types_are_refused(
    invoke: Invoker, headers: dict[str, str], status: int, code: str | None
) -> None:
    result = invoke("POST", "/v1/predict", '{"bmi": 27.3}', headers=headers)
    assert result.status == status
    if code:
        assert result.body["error"]["code"] == code


def test_a_content_type_repeated_with_another_value_is_a_400(invoke: Invoker) -> None:
    # Given two Content-Type headers: API Gateway keeps the last in headers and both in multiValueHeaders
    event = api_event("POST", "/v1/predict", '{"bmi": 27.3}')
    event["multiValueHeaders"] = {"Content-Type": ["text/plain", "application/json"]}
    assert invoke.event(event).status == 400


@pytest.mark.parametrize("path", ["/v1/predict/", "/v1/predict//", "/health/", "/v1//predict"])
def test_paths_match_exactly_as_the_deployed_gateway_routes_them(invoke: Invoker, path: str) -> None:
    result = invoke("POST", path, '{"bmi": 27.3}')
    assert (result.status, result.body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("path", ["/v1/predict/27.3456789", "/" + "p" * 100_000])
def test_a_path_that_is_no_route_never_reaches_the_log(invoke: Invoker, path: str) -> None:
    result = invoke("GET", path)
    assert result.status == 404
    text = "\n".join(result.output)
    assert "27.3456789" not in text
    assert len(text) < 2_000
    (line,) = result.logs
    assert line.get("route") is None  # Powertools leaves out keys whose value is None


def test_a_lone_surrogate_in_the_body_is_malformed_text_not_a_500(invoke: Invoker) -> None:
    result = invoke("POST", "/v1/predict", '{"bmi": 27.3, "x": "\ud800"}')
    assert (result.status, result.body["error"]["code"]) == (400, "malformed_json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"\\ud800": 27.3}', "\\ud800"),
        ('{"bmi": 27.3, "\\udfff\\u0000\\u001b[2J": 1}', "\\udfff\\x00\\x1b[2J"),
        ('{"bmi": {"\\ud83d": 1}}', "bmi"),
    ],
    ids=["lone-high", "lone-low-nul-and-escape", "nested"],
)
def test_a_lone_surrogate_escaped_in_a_key_is_named_escaped_not_a_500(
    invoke: Invoker, body: str, field: str
) -> None:
    # The key is valid JSON (escapes), not valid text: it is echoed escaped, in the error shape
    result = invoke("POST", "/v1/predict", body)
    assert (result.status, result.body["error"]["code"]) == (422, "validation_error")
    assert field in [detail["field"] for detail in result.body["error"]["details"]]


@pytest.mark.parametrize(
    "body",
    ["[" * contract.BODY_MAX_BYTES, '{"bmi": ' + "[" * 100_000, "{" * 50_000 + '"a": 1'],
    ids=["1 MiB of [", "truncated deep array", "unclosed objects"],
)
def test_nesting_that_is_never_closed_is_malformed_json_not_a_422(invoke: Invoker, body: str) -> None:
    result = invoke("POST", "/v1/predict", body)
    assert (result.status, result.body["error"]["code"]) == (400, "malformed_json")


def _standard_library_only(text: str) -> Any:
    raise orjson.JSONDecodeError("the fast parser, switched off", text, 0)


NUMBERS = ["30", "-0", "30.0", "3e1", "3E+1", "300e-1", "18446744073709551616", "1" + "0" * 300, "9" * 400]


@pytest.mark.parametrize(
    ("path", "body"),
    [(path, body) for path, body, *_ in CASES]
    + [("/v1/predict/batch", body) for body in hostile_bodies().values()]
    + [
        (path, f'{{"{field}": {number}}}')
        for number in NUMBERS
        for path, field in [("/v1/predict", "bmi"), ("/stream", "input")]
    ]
    + [("/v1/predict/batch", f'{{"bmi": [{number}, 30]}}') for number in NUMBERS]
    + [("/v1/predict", '\ufeff{"bmi": 30}'), ("/v1/predict", '{"bmi": 30, "note": "\\ud800"}')],
)
def test_the_fast_parser_answers_every_body_as_the_standard_library_alone_would(
    invoke: Invoker, monkeypatch: pytest.MonkeyPatch, path: str, body: str
) -> None:
    fast = invoke("POST", path, body)
    monkeypatch.setattr(orjson, "loads", _standard_library_only)
    assert (fast.status, fast.body) == ((slow := invoke("POST", path, body)).status, slow.body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(POST_ROUTES), request=bodies)
def test_the_fast_parser_answers_any_json_as_the_standard_library_alone_would(
    invoke: Invoker, monkeypatch: pytest.MonkeyPatch, path: str, request: Any
) -> None:
    body = json.dumps(request)
    fast = invoke("POST", path, body)
    with monkeypatch.context() as patched:
        patched.setattr(orjson, "loads", _standard_library_only)
        slow = invoke("POST", path, body)
    assert (fast.status, fast.body) == (slow.status, slow.body)
