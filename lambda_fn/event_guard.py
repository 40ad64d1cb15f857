"""What an API Gateway REST proxy event must look like before the resolver may read it. The entry point never
raises: a malformed event is answered 400, and a method or path reaches a message or log line only once it
is known to be short and printable."""

from __future__ import annotations

from typing import Any, Final

from model.core import contract

_MAPS: Final = ("headers", "queryStringParameters", "pathParameters", "stageVariables")
_MULTI_MAPS: Final = ("multiValueHeaders", "multiValueQueryStringParameters")


def problem(event: Any) -> str | None:
    """What makes ``event`` unreadable, in a few words, or None when the resolver can take it."""
    if not isinstance(event, dict):
        return "the event is not an object"
    if loggable_method(event) is None:
        return "httpMethod is not an HTTP method"
    if not isinstance(path := event.get("path"), str) or not path.startswith("/") or not path.isprintable():
        return "path is not a printable absolute path"
    for name in _MAPS:
        if not _map_of(event.get(name), str):
            return f"{name} is not an object of strings"
    for name in _MULTI_MAPS:
        values = event.get(name)
        if not _map_of(values, list) or not all(_strings(v) for v in (values or {}).values()):
            return f"{name} is not an object of string lists"
    if not isinstance(event.get("body"), str | None) or not isinstance(
        event.get("isBase64Encoded"), bool | None
    ):
        return "body is not text"
    context = event.get("requestContext")
    if not isinstance(context, dict) or not all(
        isinstance(context.get(k), str | None) for k in ("requestId", "stage", "path")
    ):
        return "requestContext is not API Gateway's request context"
    return None


def loggable_route(event: dict[str, Any]) -> str | None:
    """The contract path a request was for, or None: a path that is no route may carry anything (a
    patient's value in a segment, a 100 kB string), so it is never written to a log."""
    path = event.get("path")
    return path if path in contract.ROUTE_PATHS else None


def loggable_method(event: dict[str, Any]) -> str | None:
    method = event.get("httpMethod")
    return method if isinstance(method, str) and contract.HTTP_METHOD.fullmatch(method) else None


def request_id(event: Any) -> str | None:
    context = event.get("requestContext") if isinstance(event, dict) else None
    value = context.get("requestId") if isinstance(context, dict) else None
    return value if isinstance(value, str) and len(value) <= 128 and value.isprintable() else None


def _map_of(value: Any, kind: type) -> bool:
    return value is None or (
        isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, kind) for k, v in value.items())
    )


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)
