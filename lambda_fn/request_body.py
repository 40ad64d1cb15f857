"""Request-body validation: a per-route middleware that turns the raw body into a typed, strict model.

Why not Powertools' ``enable_validation``: it decodes the body with ``json.loads`` (which accepts NaN and
Infinity) and then validates the Python objects, reports malformed JSON as a 422 in its own error shape,
and costs more per request (37 µs against 29 µs for the same one-route resolver, docs/benchmarks.md).
Here the checks that need no parsing come first, then pydantic parses and validates the JSON in one pass
in its Rust core (``model_validate_json``). The route still declares ``body: Model`` in its signature (to
Powertools, as to FastAPI, a pydantic model parameter is the request body), so Powertools documents the
same model in the OpenAPI document; this middleware is what supplies that argument.

Order of checks, each a clear 4xx: content type (415), size (413), emptiness (400), JSON syntax (400),
schema (422), a field given twice (422: JSON parsers keep the last value, so ``{"bmi": 30, "bmi": 31}``
would otherwise be answered for a value the client may not have meant).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from lambda_fn import contract, errors

BODY_ARGUMENT: Final = "body"  # the name of the route parameter this middleware fills in
JSON_MEDIA_TYPE: Final = content_types.APPLICATION_JSON

Middleware = Callable[[APIGatewayRestResolver, NextMiddleware], Response[object]]


def is_json_media_type(content_type: str | None) -> bool:
    """True for a missing header, ``application/json`` (any parameters, e.g. charset) and ``*/*+json``."""
    if not content_type or not content_type.strip():
        return True  # no declared type: the body is judged on its content (valid JSON is accepted)
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def json_body(model: type[BaseModel]) -> Middleware:
    """A route middleware that validates the body against ``model`` and passes it as ``body``."""

    def validate_body(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[object]:
        event = app.current_event
        if not is_json_media_type(event.headers.get("content-type")):
            raise errors.unsupported_media_type()
        raw = _raw_body(event.body, base64_encoded=bool(event.is_base64_encoded))
        if _size_in_bytes(raw) > contract.BODY_MAX_BYTES:
            raise errors.body_too_large()
        if not raw or raw.isspace():
            raise errors.empty_body()
        try:
            parsed = model.model_validate_json(raw)
        except ValidationError as error:
            raise errors.InvalidBodyError(
                error.errors(include_url=False, include_input=False, include_context=False)
            ) from None
        _reject_repeated_fields(raw, model)
        # Powertools calls the route with the arguments in this dict (its own validation middleware fills
        # it the same way); adding ours is what makes ``body`` arrive typed.
        app.context["_route_args"][BODY_ARGUMENT] = parsed
        return next_middleware(app)

    validate_body.__name__ = f"json_body_{model.__name__}"
    return validate_body


class _RepeatedFieldError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reject_repeated_fields(raw: str | bytes, model: type[BaseModel]) -> None:
    """422 when a field of ``model`` appears twice in the (already valid) JSON object.

    Unknown fields are rejected by the schema, so only a repeated known field can slip through. Without
    escape sequences, a repeat needs the quoted name twice in the text; counting runs in C, so the usual
    body pays nothing and only suspicious ones are parsed again to be sure."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    names = [field.alias or name for name, field in model.model_fields.items()]
    if "\\" not in text and all(text.count(f'"{name}"') < 2 for name in names):
        return
    try:
        json.loads(text, object_pairs_hook=_unique_object)
    except _RepeatedFieldError as repeated:
        detail: ErrorDetails = {"type": "duplicate_key", "loc": (repeated.name,), "msg": "", "input": None}
        raise errors.InvalidBodyError([detail]) from None


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _RepeatedFieldError(key)
        seen.add(key)
    return dict(pairs)


def _size_in_bytes(raw: str | bytes) -> int:
    # API Gateway hands the body over as text; its size on the wire is its UTF-8 length.
    return len(raw) if isinstance(raw, bytes) or raw.isascii() else len(raw.encode())


def _raw_body(body: str | None, *, base64_encoded: bool) -> str | bytes:
    if body is None:
        return ""
    if not base64_encoded:
        return body
    try:
        # pydantic reads bytes directly and reports invalid UTF-8 as malformed JSON (400).
        return base64.b64decode(body, validate=True)
    except ValueError:  # binascii.Error, invalid base64, is a ValueError
        raise errors.malformed_body() from None
