"""HTTP request -> API Gateway REST proxy event -> HTTP response, as API Gateway maps them."""

from __future__ import annotations

import base64
import json

import pytest

from scripts.dev import apigw_proxy
from scripts.dev.apigw_proxy import (
    HttpRequest,
    build_event,
    map_result,
    request_too_large,
)

NOW = 1_764_133_200.123  # 2025-11-26T05:00:00.123Z


def request(method="GET", target="/health", headers=(), body=b"") -> HttpRequest:
    return HttpRequest(method=method, target=target, headers=tuple(headers), body=body, source_ip="127.0.0.1")


def event_for(req: HttpRequest) -> dict:
    return build_event(req, request_id="req-1", stage="local", now=NOW)


class TestEvent:
    def test_has_every_field_of_a_rest_proxy_event(self):
        event = event_for(request())
        assert set(event) == {
            "resource",
            "path",
            "httpMethod",
            "headers",
            "multiValueHeaders",
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "requestContext",
            "body",
            "isBase64Encoded",
        }
        context = event["requestContext"]
        assert context["requestId"] == "req-1"
        assert context["stage"] == "local"
        assert context["path"] == "/health"  # served at the root, as behind a custom domain
        assert context["httpMethod"] == "GET"
        assert context["requestTimeEpoch"] == 1_764_133_200_123
        assert context["requestTime"] == "26/Nov/2025:05:00:00 +0000"
        assert context["identity"]["sourceIp"] == "127.0.0.1"

    def test_request_without_headers_query_or_body_has_nulls(self):
        event = event_for(request())
        assert event["headers"] is None
        assert event["multiValueHeaders"] is None
        assert event["queryStringParameters"] is None
        assert event["multiValueQueryStringParameters"] is None
        assert event["body"] is None
        assert event["isBase64Encoded"] is False

    def test_repeated_headers_keep_the_last_value_and_all_values(self):
        event = event_for(request(headers=[("Accept", "text/html"), ("X-Tag", "a"), ("X-Tag", "b")]))
        assert event["headers"] == {"Accept": "text/html", "X-Tag": "b"}
        assert event["multiValueHeaders"] == {"Accept": ["text/html"], "X-Tag": ["a", "b"]}

    def test_query_string_is_decoded_single_and_multi_valued(self):
        event = event_for(request(target="/docs?format=json&tag=a&tag=b%20c&empty="))
        assert event["path"] == "/docs"
        assert event["queryStringParameters"] == {"format": "json", "tag": "b c", "empty": ""}
        assert event["multiValueQueryStringParameters"] == {
            "format": ["json"],
            "tag": ["a", "b c"],
            "empty": [""],
        }

    def test_a_contract_route_arrives_through_its_own_resource(self):
        # The stage has one explicit resource per route, so API Gateway names it and sets no path parameter.
        event = event_for(request(target="/v1/pre%64ict"))
        assert event["path"] == "/v1/predict"
        assert event["resource"] == event["requestContext"]["resourcePath"] == "/v1/predict"
        assert event["pathParameters"] is None

    def test_any_other_path_is_percent_decoded_and_exposed_as_the_proxy_parameter(self):
        event = event_for(request(target="/v1/pre%64ictions"))
        assert event["path"] == "/v1/predictions"
        assert event["pathParameters"] == {"proxy": "v1/predictions"}
        assert event["resource"] == "/{proxy+}"

    def test_proxy_event_is_the_json_request_shorthand(self):
        event = apigw_proxy.proxy_event("POST", "/v1/predict", b'{"bmi": 27.3}', request_id="r-1")
        assert event["body"] == '{"bmi": 27.3}'
        assert event["headers"] == {"Content-Type": "application/json"}
        assert event["requestContext"]["requestId"] == "r-1"

    def test_text_body_is_passed_as_is(self):
        body = json.dumps({"bmi": 30.5}).encode()
        event = event_for(request("POST", "/v1/predict", [("Content-Type", "application/json")], body))
        assert event["httpMethod"] == "POST"
        assert event["body"] == '{"bmi": 30.5}'
        assert event["isBase64Encoded"] is False

    def test_binary_body_is_base64_encoded(self):
        body = b"\xff\xfe\x00binary"
        event = event_for(request("POST", "/v1/predict", body=body))
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


def test_request_too_large_is_api_gateways_413():
    response = request_too_large("req-2")
    assert response.status == 413
    assert json.loads(response.body) == {
        "error": {"code": "payload_too_large", "message": "Request Too Long", "details": []}
    }
