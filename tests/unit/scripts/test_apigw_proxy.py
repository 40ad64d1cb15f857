"""HTTP request -> API Gateway REST proxy event -> HTTP response, as API Gateway maps them."""

from __future__ import annotations

import base64
import json
import time

import pytest

from scripts.dev.apigw_proxy import gateway_response, map_result, proxy_event


def event_for(target="/health", method="GET", headers=(), body=b"") -> dict:
    return proxy_event(method, target, body, headers=tuple(headers), request_id="req-1", stage="local")


class TestEvent:
    def test_has_every_field_a_rest_proxy_event_needs(self):
        before = int(time.time() * 1000)
        event = event_for()
        assert set(event) == {
            "resource",
            "path",
            "httpMethod",
            "headers",
            "multiValueHeaders",
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "requestContext",
            "body",
            "isBase64Encoded",
        }
        context = event["requestContext"]
        assert context["requestId"] == "req-1"
        assert context["stage"] == "local"
        assert context["path"] == "/health"  # served at the root, as behind a custom domain
        assert context["httpMethod"] == "GET"
        assert before <= context["requestTimeEpoch"] <= int(time.time() * 1000)
        assert context["identity"]["sourceIp"] == "127.0.0.1"

    def test_request_without_headers_query_or_body_has_nulls(self):
        event = event_for()
        assert event["headers"] is None
        assert event["multiValueHeaders"] is None
        assert event["queryStringParameters"] is None
        assert event["multiValueQueryStringParameters"] is None
        assert event["body"] is None
        assert event["isBase64Encoded"] is False

    def test_repeated_headers_keep_the_last_value_and_all_values(self):
        event = event_for(headers=[("Accept", "text/html"), ("X-Tag", "a"), ("X-Tag", "b")])
        assert event["headers"] == {"Accept": "text/html", "X-Tag": "b"}
        assert event["multiValueHeaders"] == {"Accept": ["text/html"], "X-Tag": ["a", "b"]}

    def test_query_string_is_decoded_single_and_multi_valued(self):
        event = event_for("/docs?format=json&tag=a&tag=b%20c&empty=")
        assert event["path"] == "/docs"
        assert event["queryStringParameters"] == {"format": "json", "tag": "b c", "empty": ""}
        assert event["multiValueQueryStringParameters"] == {
            "format": ["json"],
            "tag": ["a", "b c"],
            "empty": [""],
        }

    def test_a_contract_route_arrives_through_its_own_resource(self):
        # The stage has one explicit resource per route, so API Gateway names it and sets no path parameter.
        event = event_for("/v1/pre%64ict")
        assert event["path"] == "/v1/predict"
        assert event["resource"] == event["requestContext"]["resourcePath"] == "/v1/predict"
        assert event["pathParameters"] is None

    def test_any_other_path_is_percent_decoded_and_exposed_as_the_proxy_parameter(self):
        event = event_for("/v1/pre%64ictions")
        assert event["path"] == "/v1/predictions"
        assert event["pathParameters"] == {"proxy": "v1/predictions"}
        assert event["resource"] == "/{proxy+}"

    @pytest.mark.parametrize(
        ("target", "path", "query"),
        [
            ("//x/v1/predict/batch", "//x/v1/predict/batch", None),  # a path, not a host and a path
            ("//health?a=1", "//health", {"a": "1"}),
            ("//[/health", "//[/health", None),  # not a malformed IPv6 host
            ("/v1/model?x=//y", "/v1/model", {"x": "//y"}),
        ],
    )
    def test_a_target_is_a_path_and_a_query_however_it_starts(self, target, path, query):
        event = event_for(target)
        assert (event["path"], event["queryStringParameters"]) == (path, query)

    def test_by_default_the_body_is_json_and_passed_as_is(self):
        event = proxy_event("POST", "/v1/predict", b'{"bmi": 27.3}')
        assert event["httpMethod"] == "POST"
        assert event["body"] == '{"bmi": 27.3}'
        assert event["isBase64Encoded"] is False
        assert event["headers"] == {"Content-Type": "application/json"}

    def test_binary_body_is_base64_encoded(self):
        body = b"\xff\xfe\x00binary"
        event = event_for("/v1/predict", "POST", body=body)
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == body


class TestResponse:
    def test_maps_status_headers_and_body(self):
        result = {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": '{"ok":true}'}
        response = map_result(result, request_id="req-1")
        assert response.status == 201
        assert ("Content-Type", "application/json") in response.headers
        assert ("x-amzn-RequestId", "req-1") in response.headers
        assert response.body == b'{"ok":true}'

    def test_merges_headers_and_multi_value_headers_without_duplicating_pairs(self):
        result = {
            "statusCode": 200,
            "headers": {"Set-Cookie": "a=1", "X-One": "1", "Content-Type": "text/plain"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "Vary": ["Accept", "Origin"]},
            "body": "hi",
        }
        headers = map_result(result, request_id="r").headers
        assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2"]
        assert [v for k, v in headers if k == "Vary"] == ["Accept", "Origin"]
        assert ("X-One", "1") in headers

    def test_scalar_header_values_are_rendered_as_text(self):
        result = {"statusCode": 200, "headers": {"X-Count": 5, "X-Flag": True}, "body": ""}
        headers = map_result(result, request_id="r").headers
        assert ("X-Count", "5") in headers
        assert ("X-Flag", "true") in headers

    def test_missing_content_type_defaults_to_json_like_api_gateway(self):
        headers = map_result({"statusCode": 204}, request_id="r").headers
        assert ("Content-Type", "application/json") in headers

    def test_base64_body_is_decoded(self):
        payload = b"\x1f\x8b\x08compressed"
        result = {
            "statusCode": 200,
            "headers": {"Content-Encoding": "gzip"},
            "body": base64.b64encode(payload).decode(),
            "isBase64Encoded": True,
        }
        assert map_result(result, request_id="r").body == payload

    @pytest.mark.parametrize(
        "result",
        [
            None,
            "a string",
            [],
            {},
            {"statusCode": "200"},
            {"statusCode": True},
            {"statusCode": 99},
            {"statusCode": 200, "body": {"not": "a string"}},
            {"statusCode": 200, "headers": ["X", "Y"]},
            {"statusCode": 200, "headers": {"X": {"nested": 1}}},
            {"statusCode": 200, "multiValueHeaders": {"X": "not-a-list"}},
            {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
        ],
    )
    def test_unmappable_results_are_the_gateways_502(self, result):
        response = map_result(result, request_id="req-9")
        assert response.status == 502
        assert json.loads(response.body) == {
            "error": {"code": "bad_gateway", "message": "Internal server error", "details": []}
        }
        assert ("x-amzn-RequestId", "req-9") in response.headers


def test_api_gateways_own_answers_have_the_services_error_shape():
    response = gateway_response("payload_too_large", "Request Too Long", request_id="req-2")
    assert response.status == 413
    assert ("x-amzn-RequestId", "req-2") in response.headers
    assert json.loads(response.body) == {
        "error": {"code": "payload_too_large", "message": "Request Too Long", "details": []}
    }
