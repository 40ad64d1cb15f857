"""Reading a request body: from the raw event to a value of the route's declared request type.

The checks that need no parsing come first, each a clear 4xx: content type (415), size (413), emptiness
(400), then JSON syntax (400), then the declared type (422: :mod:`model.jsontypes`), then a field given twice
(422: JSON parsers keep the last value, so ``{"bmi": 30, "bmi": 31}`` would otherwise be answered for a
value the client may not have meant). Parsing is the standard library's C decoder; only a body that could
hide a repeated field is parsed a second time.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from lambda_fn import contract, errors
from model.jsontypes import Issue, ValidationError, read

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent


def is_json_media_type(content_type: str | None) -> bool:
    """True for a missing header, ``application/json`` (any parameters, e.g. charset) and ``*/*+json``."""
    if not content_type or not content_type.strip():
        return True  # no declared type: the body is judged on its content (valid JSON is accepted)
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def read_body[T](event: APIGatewayProxyEvent, kind: type[T]) -> T:
    """The body as ``kind``, or an :class:`errors.ApiError` / :class:`model.jsontypes.ValidationError`."""
    if not is_json_media_type(event.headers.get("content-type")):
        raise errors.unsupported_media_type()
    text = _text(event.body, base64_encoded=bool(event.is_base64_encoded))
    if not text or text.isspace():
        raise errors.empty_body()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise errors.malformed_json() from None
    except (ValueError, RecursionError):  # an integer past 4 300 digits; nesting past the parser's depth
        raise ValidationError([Issue(None, "holds a number too long or nesting too deep to read")]) from None
    value = read(document, kind)
    _refuse_repeated_fields(text, value)
    return value


def _text(body: str | None, *, base64_encoded: bool) -> str:
    if not body:
        return ""
    try:
        # API Gateway hands the body over as text; its size on the wire is its UTF-8 length. A lone
        # surrogate cannot have come from UTF-8 on the wire: the body is not readable text.
        size = len(body) if body.isascii() else len(body.encode())
        if base64_encoded:
            raw = base64.b64decode(body, validate=True)
            size, body = len(raw), raw.decode()
    except (binascii.Error, UnicodeError):
        raise errors.malformed_json() from None
    if size > contract.BODY_MAX_BYTES:
        raise errors.payload_too_large()
    return body


def _refuse_repeated_fields(text: str, value: Any) -> None:
    """Only a valid body gets here, so it is one flat object: a repeat needs its quoted name twice in the
    text (or an escape sequence spelling it), and only then is the body parsed again to be sure."""
    names = list(value)
    if "\\" not in text and all(text.count(f'"{name}"') < 2 for name in names):
        return
    json.loads(text, object_pairs_hook=_unique_object)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValidationError([Issue(key, "appears more than once (send each field once)")])
        seen.add(key)
    return dict(pairs)
