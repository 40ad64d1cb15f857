"""The REST API: authorization per contract route, the 404 catch-alls, the error shape, validation,
throttling, logging and the resource policy, on both stages."""

from __future__ import annotations

import fnmatch
import json
import re

import pytest
from aws_cdk.assertions import Template

from infra_cdk.api import NOT_FOUND_BODY, principal_patterns
from infra_cdk.settings import StageSettings
from model.core import contract
from tests.infra.cfn import api_paths, as_list, mentions, methods_by_path, one, props, resources
from tests.infra.conftest import CLINIC_APP, STACK_NAMES, Assembly


def template_of(assembly: Assembly, settings: StageSettings) -> dict:
    return assembly.templates[STACK_NAMES[settings.name]]


def test_the_api_is_regional(stage: tuple[StageSettings, Template]) -> None:
    _, template = stage
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"EndpointConfiguration": {"Types": ["REGIONAL"]}}
    )


@pytest.mark.parametrize("route", contract.ROUTES, ids=[f"{r.method} {r.path}" for r in contract.ROUTES])
def test_every_contract_route_reaches_the_live_alias_with_its_authorization(
    route: contract.Route, stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    template = template_of(assembly, settings)
    alias_id, _ = one(template, "AWS::Lambda::Alias")
    methods = methods_by_path(template)
    expected_auth = "NONE" if route.public else "AWS_IAM"
    # ANY only: a wrong method still reaches the function, which answers 405 with Allow, and every body is
    # judged by the function alone (no edge validator with error codes of its own).
    assert {m for p, m in methods if p == route.path} == {"ANY"}
    method = methods[(route.path, "ANY")]
    assert method["AuthorizationType"] == expected_auth
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert mentions(method["Integration"]["Uri"], alias_id), "integration must target the live alias"
    assert not resources(template, "AWS::ApiGateway::RequestValidator")


def test_unknown_paths_get_a_mock_404_in_the_error_shape_without_authentication(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    template = template_of(assembly, settings)
    methods = methods_by_path(template)
    paths = api_paths(template)
    route_paths = {r.path for r in contract.ROUTES}
    # Every resource that exists answers unknown children; prefixes that are no route answer themselves.
    for path in paths:
        if path.endswith("{proxy+}"):
            continue
        children = f"{path.rstrip('/')}/{{proxy+}}"
        targets = [children] if path in route_paths else [children, path]
        for target in targets:
            method = methods[(target, "ANY")]
            assert method["AuthorizationType"] == "NONE"
            assert method["Integration"]["Type"] == "MOCK"
            assert method["Integration"]["PassthroughBehavior"] == "NEVER"
            (response,) = method["Integration"]["IntegrationResponses"]
            assert response["StatusCode"] == "404"
            body = json.loads(response["ResponseTemplates"]["application/json"])
            assert body == json.loads(NOT_FOUND_BODY)
            assert body["error"]["code"] == "not_found"
    assert ("/", "ANY") in methods
    assert ("/v1", "ANY") in methods


def test_no_route_is_shadowed_by_a_catch_all(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    methods = methods_by_path(template_of(assembly, settings))
    for route in contract.ROUTES:
        assert methods[(route.path, "ANY")]["Integration"]["Type"] == "AWS_PROXY"


EXPECTED_GATEWAY_RESPONSES = {
    "DEFAULT_4XX": None,
    "DEFAULT_5XX": None,
    "ACCESS_DENIED": "403",
    "MISSING_AUTHENTICATION_TOKEN": "403",
    "INVALID_SIGNATURE": "403",
    "EXPIRED_TOKEN": "403",
    "WAF_FILTERED": "403",
    "THROTTLED": "429",
    "REQUEST_TOO_LARGE": "413",
    "UNSUPPORTED_MEDIA_TYPE": "415",
    "INTEGRATION_TIMEOUT": "504",
}


def test_api_gateway_errors_use_the_one_error_shape(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    responses = {
        props(r)["ResponseType"]: props(r)
        for r in resources(template_of(assembly, settings), "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(EXPECTED_GATEWAY_RESPONSES) <= set(responses)
    for response_type, response in responses.items():
        if response_type in EXPECTED_GATEWAY_RESPONSES:
            assert response.get("StatusCode") == EXPECTED_GATEWAY_RESPONSES[response_type]
        assert response["ResponseParameters"] == {"gatewayresponse.header.Content-Type": "'application/json'"}
        # API Gateway substitutes $context.error.messageString with a quoted JSON string.
        rendered = response["ResponseTemplates"]["application/json"].replace(
            "$context.error.messageString", json.dumps("Forbidden")
        )
        document = json.loads(rendered)
        assert set(document) == {"error"}
        assert set(document["error"]) == {"code", "message", "details"}
        assert re.fullmatch(r"[a-z_]+", document["error"]["code"])
        assert document["error"]["details"] == []


def test_the_stage_throttles_logs_traces_and_keeps_bodies_out_of_logs(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, api_stage = one(template_of(assembly, settings), "AWS::ApiGateway::Stage")
    p = props(api_stage)
    assert p["StageName"] == settings.slug
    assert p["TracingEnabled"] is True
    (method_settings,) = p["MethodSettings"]
    assert method_settings == {
        "ResourcePath": "/*",
        "HttpMethod": "*",
        "ThrottlingRateLimit": settings.throttle_rate_per_second,
        "ThrottlingBurstLimit": settings.throttle_burst,
        "LoggingLevel": "ERROR",
        "DataTraceEnabled": False,
        "MetricsEnabled": True,
    }
    access_log = p["AccessLogSetting"]
    # The access log group's ARN, without the ":*" suffix API Gateway does not want (a CDK feature flag)
    destination = json.dumps(access_log["DestinationArn"])
    assert ":log-group:" in destination
    assert not destination.endswith(':*"]]}')
    # One JSON object per line for every request, successful or not: each variable rendered as API Gateway
    # renders it, as a typical value and as the "-" it writes for an empty one, alone and all together
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", access_log["Format"]))
    assert variables <= set(QUOTE_FREE_ACCESS_LOG_VALUES), "a free-text value could break the JSON"

    def render(values: dict[str, str]) -> dict[str, str]:
        return json.loads(re.sub(r"\$context\.[A-Za-z.]+", lambda v: values[v.group()], access_log["Format"]))

    typical = {variable: QUOTE_FREE_ACCESS_LOG_VALUES[variable] for variable in variables}
    assert render(typical)["status"] == "200"
    for empty in variables:
        assert render(typical | {empty: "-"})
    fields = render(dict.fromkeys(variables, "-"))
    assert {"requestId", "ip", "httpMethod", "resourcePath", "status", "responseLatency", "errorType"} <= set(
        fields
    )
    assert "body" not in access_log["Format"].lower()


# What API Gateway writes for each variable the access log may hold: none can contain a quote or a backslash.
QUOTE_FREE_ACCESS_LOG_VALUES = {
    "$context.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
    "$context.extendedRequestId": "TjtTXHJkjoEFbNw=",
    "$context.requestTimeEpoch": "1796554856172",
    "$context.identity.sourceIp": "198.51.100.7",
    "$context.identity.caller": "AROAEXAMPLEID:session",
    "$context.identity.userArn": "arn:aws:sts::123456789012:assumed-role/clinic-app/session",
    "$context.httpMethod": "POST",
    "$context.resourcePath": "/v1/predict",
    "$context.status": "200",
    "$context.protocol": "HTTP/1.1",
    "$context.responseLength": "120",
    "$context.responseLatency": "35",
    "$context.integrationLatency": "30",
    "$context.integrationStatus": "200",
    "$context.error.responseType": "WAF_FILTERED",
    "$context.wafResponseCode": "WAF_ALLOW",
    "$context.xrayTraceId": "1-5e1b4151-43a974ef8fb0d0a8b2a4c2d8",
}


def test_protected_routes_admit_only_the_listed_invokers(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, api = one(template_of(assembly, settings), "AWS::ApiGateway::RestApi")
    allow, deny = props(api)["Policy"]["Statement"]
    assert (allow["Effect"], allow["Principal"], allow["Resource"]) == (
        "Allow",
        {"AWS": "*"},
        "execute-api:/*",
    )
    assert deny["Effect"] == "Deny"
    # Each protected path, with or without a trailing slash; nothing public, and not the unknown paths below
    # a protected one (MOCK 404s that reach nothing: an unsigned caller gets the 404, not a 403).
    assert sorted(deny["Resource"]) == sorted(
        f"execute-api:/*/*{p}{slash}" for p in contract.PROTECTED_PATHS for slash in ("", "/")
    )
    for path in [*contract.PROTECTED_PATHS, *(f"{p}/" for p in contract.PROTECTED_PATHS)]:
        assert denied(deny["Resource"], f"/{settings.slug}/POST{path}"), path
    for path in [*contract.PUBLIC_PATHS, "/v1/predict/batch/1", "/v1/predictions"]:
        assert not denied(deny["Resource"], f"/{settings.slug}/GET{path}"), path
    # Without extra invoker_principals in the settings, only the stage's delivery role (end-to-end tests).
    (invoker,) = as_list(deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"])
    assert f":role/{settings.delivery_role_name}" in json.dumps(invoker)


def test_invoker_principals_from_the_settings_are_admitted_by_their_stage_only(
    per_account_assembly: Assembly,
) -> None:
    # Given Production lists a client role in its committed settings (the one way to add a caller)
    policies = {
        name: json.dumps(
            props(one(per_account_assembly.templates[name], "AWS::ApiGateway::RestApi")[1])["Policy"]
        )
        for name in ("Staging-Service", "Production-Service")
    }
    # Then Production's resource policy admits it on the protected routes, and Staging's does not
    assert CLINIC_APP in policies["Production-Service"]
    assert CLINIC_APP not in policies["Staging-Service"]


def test_an_account_invoker_admits_the_principals_of_that_account_and_roles_stay_exact() -> None:
    assert principal_patterns(
        ["arn:aws:iam::123456789012:root", "arn:aws:iam::210987654321:role/clinic/app"]
    ) == ["arn:aws:iam::123456789012:*", "arn:aws:iam::210987654321:role/clinic/app"]


def denied(resources: list[str], request: str) -> bool:
    """Whether a request ("/<stage>/<METHOD><path>") falls under one of the policy's resources; in
    execute-api resource policies "*" matches any characters, "/" included."""
    return any(fnmatch.fnmatchcase(request, r.removeprefix("execute-api:")) for r in resources)
