"""Public routes: health, the OpenAPI document and the docs page."""

from __future__ import annotations

import pytest

from model.core import contract
from tests.e2e.assertions import json_of


@pytest.mark.smoke
def test_health_names_the_served_model(api):
    body = json_of(api.get("/health"), 200)
    assert body["status"] == "ok"
    assert body["model_version"].startswith("bmi-linear-")


@pytest.mark.smoke
def test_health_matches_the_model_route(api):
    health = json_of(api.get("/health"), 200)
    model = json_of(api.get("/v1/model"), 200)["artifact"]
    assert health["model_version"] == model["model_version"]


@pytest.mark.smoke
def test_openapi_document_describes_every_route_of_the_contract(api):
    document = json_of(api.get("/openapi.json"), 200)
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == {(route.method, route.path) for route in contract.ROUTES}


def test_openapi_document_marks_legacy_routes_deprecated_and_protected_routes_signed(api):
    paths = json_of(api.get("/openapi.json"), 200)["paths"]
    for route in contract.ROUTES:
        operation = paths[route.path][route.method.lower()]
        legacy = route.path in {contract.PATH_LEGACY_STREAM, contract.PATH_LEGACY_BATCH}
        assert operation.get("deprecated", False) is legacy, route
        assert bool(operation.get("security")) is not route.public, route


@pytest.mark.smoke
def test_docs_page_is_a_self_contained_swagger_ui(api, target):
    response = api.get("/docs")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "swagger-ui" in response.text
    assert "cdn." not in response.text.lower()  # works without any third-party host
    # No "Authorize" box asking for a value nobody can type; a deployed stage says how to sign instead
    assert ".auth-wrapper {display: none}" in response.text
    assert ("works for the public routes only" in response.text) is (not target.is_loopback)


@pytest.mark.smoke
def test_the_root_redirects_to_the_docs_page(api):
    # Given the address alone, as a person types it (with a stage URL: ".../prod/")
    response = api.get("/")
    # Then the answer points at the docs page of the same stage (the client follows no redirect)
    assert response.status == 302
    location = response.headers["Location"]
    assert api.url("/docs").endswith(location)
    assert location.endswith("/docs")
    assert api.get("/docs").status == 200


def test_every_response_carries_the_request_id_header(api):
    response = api.get("/health")
    assert response.headers.get("x-amzn-RequestId")
