"""API Gateway's REST (v1) Lambda proxy integration as pure functions: an HTTP request becomes the event
API Gateway would send, and the function's result the response it would return. The one event builder for
the development server, the tests and the benchmarks (the pre-traffic hook, which runs without this tree,
has its own: infra_cdk/deployment)."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from model.core import contract

LOCAL_ACCOUNT_ID: Final = "000000000000"  # there is no AWS account behind the local stage
PROXY_RESOURCE: Final = "/{proxy+}"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def gateway_response(code: str, message: str, *, request_id: str) -> HttpResponse:
    """An answer from API Gateway itself, in the service's error shape (``infra_cdk/api.py`` rewrites the
    stage's gateway responses into it)."""
    return HttpResponse(
        status=contract.ERRORS[code].status,
        headers=(("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)),
        body=json.dumps(contract.error_body(code, message)).encode(),
    )


def request_path(target: str) -> str:
    """The path of a request target (origin form: what precedes any "?"), decoded, as the function sees it.
    Not urlsplit: it reads "//x/health" as a host and a path, and refuses "//[" with ValueError."""
    return unquote(target.partition("?")[0]) or "/"


def proxy_event(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),),
    request_id: str = "local-request",
    stage: str = "local",
    source_ip: str = "127.0.0.1",
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """The proxy event (payload format 1.0) for ``method path`` (a "?query" may follow the path), with the
    headers in order, repeats kept. Each map is ``null`` when the request has none; the single-value maps
    keep the last of repeated names; a body that is not UTF-8 is base64-encoded."""
    query_string = path.partition("?")[2]
    path = request_path(path)
    # The stage has one resource per contract route; anything else falls to the catch-all.
    resource = path if path in contract.ROUTE_PATHS else PROXY_RESOURCE
    single_headers, multi_headers = _single_and_multi(headers)
    query, multi_query = _single_and_multi(tuple(parse_qsl(query_string, keep_blank_values=True)))
    try:
        text, is_base64 = body.decode() or None, False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": path.lstrip("/")} if resource == PROXY_RESOURCE and path != "/" else None,
        "requestContext": {  # the fields Powertools requires
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": "local",
            "httpMethod": method,
            "identity": {"sourceIp": source_ip},
            # Served at the root of the address, as behind a custom domain (not "/{stage}{path}").
            "path": path,
            "protocol": protocol,
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def map_result(result: Any, *, request_id: str) -> HttpResponse:
    """The HTTP response for the function's ``result``: 502 when API Gateway could not map it (not an object,
    no integer ``statusCode``, undecodable base64). ``Content-Type`` defaults to JSON, as on API Gateway."""
    try:
        status, headers, body = _parse_result(result)
    except (TypeError, ValueError):  # ValueError includes binascii.Error: undecodable base64
        return gateway_response("bad_gateway", "Internal server error", request_id=request_id)
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
    single, multi = result.get("headers") or {}, result.get("multiValueHeaders") or {}
    if not (isinstance(single, dict) and isinstance(multi, dict)) or any(
        not isinstance(values, list) for values in multi.values()
    ):
        raise TypeError("headers must be an object and multiValueHeaders an object of lists")
    # API Gateway merges both maps; a name/value pair present in both appears once.
    headers = [(str(name), _header_value(value)) for name, values in multi.items() for value in values]
    present = {(name.lower(), value) for name, value in headers}
    headers += [
        (str(name), _header_value(value))
        for name, value in single.items()
        if (str(name).lower(), _header_value(value)) not in present
    ]
    raw = "" if result.get("body") is None else result["body"]
    if not isinstance(raw, str):
        raise TypeError("body must be a string")
    body = base64.b64decode(raw, validate=True) if result.get("isBase64Encoded") is True else raw.encode()
    return status, headers, body


def _single_and_multi(
    pairs: tuple[tuple[str, str], ...],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()} or None, multi or None


def _header_value(value: Any) -> str:
    # API Gateway renders scalar header values as text (5 becomes "5"); objects cannot be headers.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"header value {value!r} is not a scalar")
