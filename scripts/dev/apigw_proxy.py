"""API Gateway's REST (v1) Lambda proxy integration, as pure functions for the development server.

An HTTP request becomes the event API Gateway would send to the function; the function's result becomes
the HTTP response API Gateway would return. Kept free of I/O so that every rule below is unit-tested:

- ``headers`` / ``queryStringParameters`` keep the *last* value of a repeated name, the ``multiValue*``
  maps keep all of them, and each map is ``null`` (not ``{}``) when the request has none.
- A body that is not valid UTF-8 is passed base64-encoded with ``isBase64Encoded: true`` (what API Gateway
  does for binary media types); an empty body is ``null``.
- A result API Gateway cannot map (not an object, no integer ``statusCode``, undecodable base64) is a 502;
  a body the stage refuses is a 413 (a declared ``Content-Length`` of at least
  ``contract.EDGE_BODY_LIMIT_BYTES``, which the web ACL blocks);
  framing that cannot be read is a 400. All in the error shape the stage's gateway responses give them
  (``infra_cdk/api.py`` rewrites API Gateway's own errors into the service's error shape).
- Response ``headers`` and ``multiValueHeaders`` are merged as API Gateway documents it; a response
  without ``Content-Type`` gets ``application/json``, API Gateway's default.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from lambda_fn import contract

# API Gateway's hard limit on a REST API request payload; larger requests never reach the function.
MAX_REQUEST_BODY_BYTES: Final = 10 * 1024 * 1024
LOCAL_ACCOUNT_ID: Final = "000000000000"  # placeholders: there is no AWS account behind the local stage
LOCAL_API_ID: Final = "local"
PROXY_RESOURCE: Final = "/{proxy+}"
_ROUTE_PATHS: Final = frozenset(route.path for route in contract.ROUTES)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str  # the request target as sent: path plus optional "?query"
    headers: tuple[tuple[str, str], ...]  # in order, repeats kept
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def gateway_response(code: str, message: str, *, request_id: str) -> HttpResponse:
    """A response produced by API Gateway itself (not by the function), as the stage's gateway responses
    render it: the service's error shape, with API Gateway's own message."""
    return HttpResponse(
        status=contract.ERRORS[code].status,
        headers=(("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)),
        body=json.dumps(contract.error_body(code, message)).encode(),
    )


def request_too_large(request_id: str) -> HttpResponse:
    return gateway_response("payload_too_large", "Request Too Long", request_id=request_id)


def bad_request(message: str, *, request_id: str) -> HttpResponse:
    """A request whose HTTP framing cannot be read (say, an invalid ``Content-Length``): the edge answers
    400 before anything reaches the function."""
    return gateway_response("bad_request", message, request_id=request_id)


def integration_failure(request_id: str) -> HttpResponse:
    return gateway_response("bad_gateway", "Internal server error", request_id=request_id)


def build_event(
    request: HttpRequest, *, request_id: str, stage: str, now: float | None = None
) -> dict[str, Any]:
    """The Lambda proxy event API Gateway sends for ``request`` (REST API, payload format 1.0)."""
    now = time.time() if now is None else now
    split = urlsplit(request.target)
    path = unquote(split.path) or "/"
    # The stage has one explicit resource per contract route; anything else falls to the catch-all.
    resource = path if path in _ROUTE_PATHS else PROXY_RESOURCE
    headers = _single_and_multi(request.headers)
    query = _single_and_multi(tuple(parse_qsl(split.query, keep_blank_values=True)))
    body, is_base64 = _encode_body(request.body)
    user_agent = next((v for k, v in reversed(request.headers) if k.lower() == "user-agent"), None)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": headers[0],
        "multiValueHeaders": headers[1],
        "queryStringParameters": query[0],
        "multiValueQueryStringParameters": query[1],
        "pathParameters": {"proxy": path.lstrip("/")} if resource == PROXY_RESOURCE and path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": LOCAL_API_ID,
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            # The path as the client requested it. The development server serves the API at the root of its
            # address, like a custom domain does (on the execute-api domain it would be "/{stage}{path}").
            "path": path,
            "protocol": request.protocol,
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def proxy_event(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),),
    request_id: str = "local-request",
    stage: str = "local",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The event for ``method path`` with a JSON body: a shorthand for tests, benchmarks and smoke checks."""
    request = HttpRequest(method=method, target=path, headers=headers, body=body, source_ip=source_ip)
    return build_event(request, request_id=request_id, stage=stage)


def map_result(result: Any, *, request_id: str) -> HttpResponse:
    """The HTTP response API Gateway returns for the function's ``result`` (a 502 if it cannot map it)."""
    try:
        status, headers, body = _parse_result(result)
    except (TypeError, ValueError):  # ValueError includes binascii.Error: undecodable base64
        return integration_failure(request_id)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    return HttpResponse(status=status, headers=tuple(headers), body=body)


def _parse_result(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    if not isinstance(result, dict):
        raise TypeError("the function result is not a JSON object")
    status = result.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"invalid statusCode {status!r}")
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise TypeError("headers and multiValueHeaders must be objects")
    merged = [(str(name), _header_value(v)) for name, values in multi.items() for v in _as_list(values)]
    # API Gateway merges both maps; a name/value pair present in both appears once.
    present = {(name.lower(), value) for name, value in merged}
    merged += [
        (str(name), _header_value(value))
        for name, value in single.items()
        if (str(name).lower(), _header_value(value)) not in present
    ]
    raw_body = result.get("body")
    if raw_body is None:
        body = b""
    elif not isinstance(raw_body, str):
        raise TypeError("body must be a string")
    elif result.get("isBase64Encoded") is True:
        body = base64.b64decode(raw_body, validate=True)
    else:
        body = raw_body.encode()
    return status, merged, body


def _single_and_multi(
    pairs: tuple[tuple[str, str], ...],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def _encode_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def _as_list(values: Any) -> list[Any]:
    if not isinstance(values, list):
        raise TypeError("multiValueHeaders values must be lists")
    return values


def _header_value(value: Any) -> str:
    # API Gateway renders scalar header values as text (a number 5 becomes "5"); objects cannot be headers.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"header value {value!r} is not a scalar")
