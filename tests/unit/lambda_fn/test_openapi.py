"""The OpenAPI document: complete, truthful, and derived from the same code that serves requests."""

from __future__ import annotations

import math
from typing import Any

import pytest

from infra_cdk.gateway_responses import GATEWAY_RESPONSES
from model.core import contract

from .conftest import Invoker

ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def document(invoke: Invoker) -> dict[str, Any]:
    result = invoke("GET", "/openapi.json", headers={})
    assert result.status == 200
    assert result.header("Content-Type") == "application/json"
    body: dict[str, Any] = result.body
    return body


def operation(document: dict[str, Any], route: contract.Route) -> dict[str, Any]:
    op: dict[str, Any] = document["paths"][route.path][route.method.lower()]
    return op


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].rsplit("/", 1)[-1]
    resolved: dict[str, Any] = document["components"]["schemas"][name]
    return resolved


def test_every_contract_route_is_documented_and_only_the_legacy_ones_are_deprecated(
    document: dict[str, Any],
) -> None:
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in contract.ROUTES}
    legacy = {contract.PATH_LEGACY_STREAM, contract.PATH_LEGACY_BATCH}
    for route in contract.ROUTES:
        assert operation(document, route).get("deprecated", False) is (route.path in legacy)


@pytest.mark.parametrize("route", [r for r in contract.ROUTES if r.method == "POST"], ids=lambda r: r.path)
def test_post_routes_document_request_success_and_every_error_with_examples(
    document: dict[str, Any], route: contract.Route
) -> None:
    op = operation(document, route)
    request = resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
    assert op["requestBody"]["required"] is True
    assert request["examples"]
    assert request["additionalProperties"] is False
    success = resolve(document, op["responses"]["200"]["content"]["application/json"]["schema"])
    assert success["examples"]
    for status in ("400", "413", "415", "422"):
        assert op["responses"][status]["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}


def test_every_route_documents_its_success_response_with_an_example(document: dict[str, Any]) -> None:
    for route in contract.ROUTES:
        if route.path == contract.PATH_ROOT:  # a redirect: no body, a Location
            found = operation(document, route)["responses"]["302"]
            assert set(found) == {"description", "headers"}
            assert "Location" in found["headers"]
            continue
        (media_type, content), *_ = operation(document, route)["responses"]["200"]["content"].items()
        if "$ref" in content["schema"]:  # a model (the documentation routes return a document or a page)
            assert resolve(document, content["schema"])["examples"], route
        else:
            assert route.path in {"/openapi.json", "/docs"}
            assert media_type == ("text/html" if route.path == "/docs" else "application/json")


def test_protected_routes_require_sigv4_and_public_ones_do_not(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    for route in contract.ROUTES:
        assert ("security" in operation(document, route)) is (not route.public), route


def test_the_error_shape_is_documented_and_no_foreign_error_shape_is(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(resolve(document, {"$ref": ERROR_REF})["properties"]) == {"error"}
    assert set(schemas["ErrorBody"]["properties"]) == {"code", "message", "details"}
    assert set(schemas["ErrorDetail"]["properties"]) == {"field", "issue"}
    # Powertools' own validation-error shapes are never returned by this API, so they are not documented
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


def test_request_schemas_state_the_contract_limits(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    bmi = schemas["PredictRequest"]["properties"]["bmi"]
    assert (bmi["minimum"], bmi["maximum"], bmi["type"]) == (contract.BMI_MIN, contract.BMI_MAX, "number")
    batch = schemas["BatchPredictRequest"]["properties"]["bmi"]
    assert (batch["minItems"], batch["maxItems"]) == (1, contract.BATCH_MAX)
    assert schemas["LegacyBatchRequest"]["properties"]["input"]["maxItems"] == contract.BATCH_MAX


# Requests that provoke each error the function builds, as (headers, body).
JSON = {"Content-Type": "application/json"}
PROVOKE: dict[str, tuple[dict[str, str], str]] = {
    "bad_request": ({"Content-Type": "application/json", "content-type": "text/plain"}, "{}"),
    "malformed_json": (JSON, '{"bmi": '),
    "empty_body": (JSON, ""),
    "payload_too_large": (JSON, " " * (contract.BODY_MAX_BYTES + 1)),
    "validation_error": (JSON, "{}"),
    "unsupported_media_type": ({"Content-Type": "text/plain"}, "27.3"),
}
EDGE = " (API Gateway)"


def error_examples(document: dict[str, Any], route: contract.Route) -> dict[str, tuple[str, Any]]:
    """Every documented error example of the route's operation: name -> (status, body)."""
    return {
        name: (status, example["value"])
        for status, response in operation(document, route)["responses"].items()
        if not status.startswith(("2", "3"))
        for name, example in response["content"]["application/json"]["examples"].items()
    }


@pytest.mark.parametrize("route", [r for r in contract.ROUTES if r.method == "POST"], ids=lambda r: r.path)
def test_the_function_error_examples_are_exactly_what_it_answers(
    invoke: Invoker, document: dict[str, Any], route: contract.Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples = {name: shown for name, shown in error_examples(document, route).items() if EDGE not in name}
    assert set(examples) == {*PROVOKE, "internal_error"}
    for code, (status, body) in examples.items():
        if code == "internal_error":
            # A bug: a valid request (the documented example) meets a domain that raises
            request = operation(document, route)["requestBody"]["content"]["application/json"]["schema"]
            with monkeypatch.context() as bug:
                bug.setattr("model.core.prediction.predict_batch", lambda *_: 1 / 0)
                result = invoke("POST", route.path, resolve(document, request)["examples"][0], headers=JSON)
        else:
            headers, text = PROVOKE[code]
            result = invoke("POST", route.path, text, headers=headers)
        assert (str(result.status), result.body) == (status, body), code


@pytest.mark.parametrize("route", contract.ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_operation_documents_what_the_edge_can_answer_it(
    document: dict[str, Any], route: contract.Route
) -> None:
    documented = {name.removesuffix(EDGE) for name in error_examples(document, route)}
    everywhere = {
        "bad_request",
        "request_blocked",
        "throttled",
        "internal_error",
        "bad_gateway",
        "gateway_timeout",
    }
    signed = {"missing_authentication", "invalid_signature", "expired_credentials", "forbidden"}
    assert everywhere <= documented
    assert bool(signed & documented) is (not route.public)
    for name, (status, body) in error_examples(document, route).items():
        code = body["error"]["code"]
        assert status == str(contract.ERRORS[code].status), name
        if EDGE in name:  # API Gateway answers it: one of the gateway responses the stage rewrites
            assert code in GATEWAY_RESPONSES.values(), name


def test_servers_point_at_the_stage_the_document_was_fetched_through(invoke: Invoker) -> None:
    assert invoke("GET", "/openapi.json", stage="staging").body["servers"] == [{"url": "/staging"}]


@pytest.mark.parametrize("route", [r for r in contract.ROUTES if r.method == "POST"], ids=lambda r: r.path)
def test_documented_request_examples_are_answered_like_the_documented_response(
    invoke: Invoker, document: dict[str, Any], route: contract.Route
) -> None:
    op = operation(document, route)
    request_schema = resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
    response_schema = resolve(document, op["responses"]["200"]["content"]["application/json"]["schema"])
    for example in request_schema["examples"]:
        result = invoke("POST", route.path, example)
        assert result.status == 200, result.body
        # Same fields as the documented example (values depend on the trained model and the input)
        assert set(result.body) == set(response_schema["examples"][0])


# The examples show the model the test session trains (the bundled default), at the precision they print;
# identities (model_version, artifact_sha256) are placeholders, as any real one changes with every model.
PLACEHOLDERS = {"model_version", "artifact_sha256"}


def assert_example_shows(example: Any, served: Any, where: str = "example") -> None:
    if isinstance(example, dict):
        assert isinstance(served, dict), where
        assert set(example) == set(served), where
        for key in example.keys() - PLACEHOLDERS:
            assert_example_shows(example[key], served[key], f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(served, list), where
        assert len(example) == len(served), where
        for i, (shown, actual) in enumerate(zip(example, served, strict=True)):
            assert_example_shows(shown, actual, f"{where}[{i}]")
    elif isinstance(example, float) and "e" in repr(example):
        # At the edge of float precision (the convergence gap) only the magnitude is stable across platforms.
        assert math.floor(math.log10(served)) == math.floor(math.log10(example)), (where, served)
    elif isinstance(example, float):
        decimals = len(repr(example).partition(".")[2])
        assert round(served, decimals) == example, (where, served)
    else:
        assert served == example, where


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", contract.PATH_PREDICT),
        ("POST", contract.PATH_PREDICT_BATCH),
        ("POST", contract.PATH_LEGACY_STREAM),  # its response example is also /batch's (one shared model)
        ("GET", contract.PATH_MODEL),
    ],
)
def test_response_examples_show_what_the_served_model_answers(
    invoke: Invoker, document: dict[str, Any], method: str, path: str
) -> None:
    # Given the route's documented request example, when it is sent
    op = document["paths"][path][method.lower()]
    body = None
    if "requestBody" in op:
        body = resolve(document, op["requestBody"]["content"]["application/json"]["schema"])["examples"][0]
    result = invoke(method, path, body)
    assert result.status == 200, result.body
    # Then the documented response example is that answer
    response_schema = resolve(document, op["responses"]["200"]["content"]["application/json"]["schema"])
    assert_example_shows(response_schema["examples"][0], result.body)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

    validate(document, cls=OpenAPIV31SpecValidator)
