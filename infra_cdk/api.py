"""The REST API: one explicit resource per contract route, proxied to the function's ``live`` alias.

Every route gets an ``ANY`` method, so a wrong method still reaches the function (its 405 with ``Allow``) and
bodies are judged by the function alone; protected routes require SigV4 (``AWS_IAM``). Unknown paths hit
``{proxy+}`` MOCK catch-alls answering 404 in the error shape: they never reach (or bill) the function, and an
unsigned typo is not told "missing authentication token". API Gateway's own errors (throttling, auth, too
large, WAF block...) are rewritten into the error shape. Execution logs stay at ERROR without data tracing:
request bodies are health data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Size
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, ConstructOrder

from infra_cdk.compliance import acknowledge_nag, skip_checkov
from infra_cdk.gateway_responses import GATEWAY_RESPONSES
from infra_cdk.log_groups import stage_log_group
from infra_cdk.settings import StageSettings
from model.core import contract

NOT_FOUND_BODY = json.dumps(contract.error_body("not_found", contract.ERRORS["not_found"].meaning))
# API Gateway's own error message, which it renders as a quoted and escaped JSON string.
_GATEWAY_MESSAGE = apigw.AccessLogField.context_error_message_string()


class PredictionApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        alias: lambda_.IFunction,
        key: kms.IKey,
        invoker_principals: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.api_name = f"{contract.SERVICE_NAME}-{settings.slug}"
        access_logs = stage_log_group(self, "AccessLogs", settings=settings, key=key)
        self.rest_api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=self.api_name,
            description=f"Diabetes progression predictions ({settings.slug})",
            endpoint_configuration=apigw.EndpointConfiguration(types=[apigw.EndpointType.REGIONAL]),
            policy=_resource_policy(invoker_principals),
            # Execution logging needs the account-level API Gateway CloudWatch role: one setting per account
            # and region, which the DeliveryAccess stack owns (two stages in one account would fight over it).
            cloud_watch_role=False,
            min_compression_size=Size.kibibytes(1),  # the OpenAPI UI page is ~1.7 MB uncompressed
            fail_on_warnings=True,
            deploy_options=apigw.StageOptions(
                stage_name=settings.slug,
                throttling_rate_limit=settings.throttle_rate_per_second,
                throttling_burst_limit=settings.throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=_access_log_format(),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        self.stage = self.rest_api.deployment_stage
        # The stack's outputs are the contract's (ApiUrl, ...); drop RestApi's own auto-named endpoint output.
        self.rest_api.node.try_remove_child("Endpoint")
        acknowledge_nag(
            self.rest_api,
            "APIG2",
            "every body is validated by the function against the one definition of its request type "
            "(model/core/schemas.py); an edge validator would judge the same bodies a second time, with "
            "codes of its own",
        )
        skip_checkov(
            self.stage,
            CKV_AWS_120="no response caching: predictions are POSTs and cheap; a cache would also hold "
            "health data",
        )
        self._build_gateway_responses()
        self._build_routes(apigw.LambdaIntegration(alias, allow_test_invoke=False))

    def _build_gateway_responses(self) -> None:
        for response_type, code in GATEWAY_RESPONSES.items():
            # The two defaults cover many statuses: API Gateway's own is kept.
            status = None if response_type.startswith("DEFAULT_") else str(contract.ERRORS[code].status)
            body = json.dumps(contract.error_body(code, _GATEWAY_MESSAGE))
            self.rest_api.add_gateway_response(
                f"Gateway{response_type}",
                type=apigw.ResponseType.of(response_type),
                status_code=status,
                response_headers={"Content-Type": "'application/json'"},
                # Unquoted in the body: API Gateway quotes and escapes the message itself, so a message
                # holding a quote still leaves a valid JSON error body.
                templates={"application/json": body.replace(f'"{_GATEWAY_MESSAGE}"', _GATEWAY_MESSAGE)},
            )

    def _build_routes(self, integration: apigw.Integration) -> None:
        root = self.rest_api.root
        for route in contract.ROUTES:
            resource = root.resource_for_path(route.path)
            authorization = apigw.AuthorizationType.NONE if route.public else apigw.AuthorizationType.IAM
            method = resource.add_method("ANY", integration, authorization_type=authorization)
            if route.public:
                reason = (
                    f"{route.path} is public by contract (health and the API's documentation), rate-limited "
                    "by the WAF"
                )
                acknowledge_nag(method, "APIG4", reason)
                skip_checkov(method, CKV_AWS_59=reason)
            else:
                reason = (
                    "callers authenticate with SigV4 (AWS_IAM): they are AWS principals, not Cognito users"
                )
            acknowledge_nag(method, "COG4", reason)
        # Every resource answers unknown children with the MOCK 404, and so does each bare path prefix (/v1).
        not_found = apigw.MockIntegration(
            request_templates={"application/json": '{"statusCode": 404}'},
            passthrough_behavior=apigw.PassthroughBehavior.NEVER,
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="404",
                    response_templates={"application/json": NOT_FOUND_BODY},
                    response_parameters={"method.response.header.Content-Type": "'application/json'"},
                )
            ],
        )
        # Last child first: the deployment's logical id hashes the methods in the order they are added.
        tree = reversed(root.node.find_all(ConstructOrder.POSTORDER))
        for node in [node for node in tree if isinstance(node, apigw.ResourceBase)]:
            _add_not_found(node.add_resource("{proxy+}"), not_found)
            if node.path not in contract.ROUTE_PATHS:
                _add_not_found(node, not_found)


def _add_not_found(resource: apigw.IResource, integration: apigw.Integration) -> None:
    method = resource.add_method(
        "ANY",
        integration,
        authorization_type=apigw.AuthorizationType.NONE,
        method_responses=[
            apigw.MethodResponse(
                status_code="404", response_parameters={"method.response.header.Content-Type": True}
            )
        ],
    )
    reason = "MOCK integration that only answers 404 in the error shape: it reaches no backend and no data"
    acknowledge_nag(method, "APIG4", reason)
    acknowledge_nag(method, "COG4", reason)
    skip_checkov(method, CKV_AWS_59=reason)


def _resource_policy(invoker_principals: Sequence[str]) -> iam.PolicyDocument:
    # Anyone may reach the API (public routes, 404s); on protected routes only the listed principals pass,
    # whatever their own IAM policies say. Unsigned requests never get that far: AWS_IAM rejects them.
    # Each path with and without a trailing slash, so the slash cannot slip past the Deny. Not "<path>/*":
    # longer paths are {proxy+} MOCK 404s that reach nothing, and an unsigned caller should get that 404,
    # not a 403 (the end-to-end suite checks it).
    protected = [f"execute-api:/*/*{path}{slash}" for path in contract.PROTECTED_PATHS for slash in ("", "/")]
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="AnyoneMayReachTheApi",
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=["execute-api:/*"],
            ),
            iam.PolicyStatement(
                sid="OnlyInvokersOnProtectedRoutes",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=protected,
                conditions={"ArnNotLike": {"aws:PrincipalArn": principal_patterns(invoker_principals)}},
            ),
        ]
    )


def principal_patterns(invoker_principals: Sequence[str]) -> list[str]:
    """``aws:PrincipalArn`` patterns for the invokers. A role session's PrincipalArn is its role's ARN, never
    an account root, so an account entry (``arn:aws:iam::<id>:root``) becomes "any principal of that account"
    (that account's own IAM policies must still allow the call)."""
    return [arn.removesuffix(":root") + ":*" if arn.endswith(":root") else arn for arn in invoker_principals]


def _access_log_format() -> apigw.AccessLogFormat:
    """One JSON object per request; no bodies, no query strings (they could hold health data). Only values
    that cannot hold a quote or a backslash (ids, numbers, enumerations, ARNs, addresses), quoted: API
    Gateway writes ``-`` for an empty one, which stays a valid string, so every line is JSON whether the
    request succeeded or not. Free text (an error's message) goes to the execution log instead; the error's
    class is ``errorType``, API Gateway's response type."""
    fields = apigw.AccessLogField
    return apigw.AccessLogFormat.custom(
        json.dumps(
            {
                "requestId": fields.context_request_id(),
                "extendedRequestId": fields.context_extended_request_id(),
                "requestTimeEpoch": fields.context_request_time_epoch(),
                "ip": fields.context_identity_source_ip(),
                "caller": fields.context_identity_caller(),
                "userArn": fields.context_identity_user_arn(),
                "httpMethod": fields.context_http_method(),
                "resourcePath": fields.context_resource_path(),
                "status": fields.context_status(),
                "protocol": fields.context_protocol(),
                "responseLength": fields.context_response_length(),
                "responseLatency": fields.context_response_latency(),
                "integrationLatency": fields.context_integration_latency(),
                "integrationStatus": fields.context_integration_status(),
                "errorType": fields.context_error_response_type(),
                "wafStatus": fields.context_waf_response_code(),
                "xrayTraceId": fields.context_xray_trace_id(),
            }
        )
    )
