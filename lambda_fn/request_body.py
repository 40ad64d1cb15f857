"""Reading a request body: from the raw event to a value of the route's declared request type.

The checks that need no parsing come first, each a clear 4xx: content type and encoding (415, or 400 when the
headers disagree), size (413), emptiness (400); then JSON syntax (400), the declared type (422) and a field
given twice (422: a parser keeps the last value, which the client may not have meant). Work is bounded by
size and shape: more commas than a valid request can hold are refused before parsing, and no integer longer
than 64 bits is read as a Python int (CPython parses long integers in quadratic time): orjson reads it as a
float, and the standard library is told to. docs/operations.md ("Threat model")."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any, Final

import orjson

from lambda_fn import errors
from model.core import contract
from model.core.jsontypes import Issue, ValidationError, read

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

# A valid body holds at most BATCH_MAX values, so at most that many commas; twice that is certainly not a
# request, and parsing it would cost more than the largest valid one.
MAX_COMMAS: Final = 2 * contract.BATCH_MAX
# JSON strings, whose brackets are text; an unclosed one runs to the end of the body. Possessive, so every
# match attempt succeeds and the scan is linear: the backtracking form rescanned to the end from every
# escaped quote of an unclosed string (12 s for 74 kB).
_STRINGS: Final = re.compile(r'"(?:[^"\\]|\\.)*+"?', re.DOTALL)


def header_values(event: APIGatewayProxyEvent, name: str) -> set[str]:
    """Every distinct value of header ``name`` (any case), from both of API Gateway's header maps."""
    wanted = name.lower()
    single = event.get("headers") or {}
    multi = event.get("multiValueHeaders") or {}
    values = {v for k, v in single.items() if k.lower() == wanted}
    values.update(v for k, vs in multi.items() if k.lower() == wanted for v in vs)
    return {v.strip().lower() for v in values}


def read_body[T](event: APIGatewayProxyEvent, kind: type[T]) -> T:
    """The body as ``kind``, or an :class:`errors.ApiError` / :class:`.jsontypes.ValidationError`."""
    _check_declared_encoding(event)
    text = _text(event.get("body"), base64_encoded=event.get("isBase64Encoded") is True)
    if not text or text.isspace():
        raise errors.empty_body()
    if text.count(",") > MAX_COMMAS:
        raise ValidationError([Issue(None, f"holds more values than a request may ({contract.BATCH_MAX})")])
    try:
        # orjson reads a 1 000-value batch in a sixth of the standard library's time; whatever it refuses
        # (NaN, a BOM, a lone surrogate, an overflowing number, deep nesting) the standard library reads or
        # refuses as before. Where both read a body, they read the same values.
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        document = _parse_leniently(text)
    value = read(document, kind)
    _refuse_repeated_fields(text, value)
    return value


def _parse_leniently(text: str) -> Any:
    """The standard library's reading of ``text``: JSON's NaN and Infinity literals and lone surrogates are
    read (to be refused by name), deep nesting is told apart from broken syntax."""
    try:
        return json.loads(text, parse_int=float)
    except RecursionError:
        # Nested deeper than the parser goes: JSON no request is if it closes all it opens, else not JSON
        bare = _STRINGS.sub("", text)
        if bare.count("[") != bare.count("]") or bare.count("{") != bare.count("}"):
            raise errors.malformed_json() from None
        raise ValidationError([Issue(None, "is nested too deeply to be a request")]) from None
    except ValueError:
        raise errors.malformed_json() from None


def _check_declared_encoding(event: APIGatewayProxyEvent) -> None:
    """``application/json`` (optionally ``; charset=utf-8``) or no Content-Type at all, in which case the
    body is judged on its content; no Content-Encoding but ``identity``."""
    declared = header_values(event, "content-type")
    if len(declared) > 1:
        raise errors.conflicting_content_type()
    if declared and not _is_json(declared.pop()):
        raise errors.unsupported_media_type()
    if header_values(event, "content-encoding") - {"identity", ""}:
        raise errors.unsupported_media_type()


def _is_json(content_type: str) -> bool:
    """``application/json`` with at most a UTF-8 charset; an empty header is no Content-Type at all."""
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    return content_type == "" or (media_type == errors.JSON and all(_is_utf8(p) for p in parameters))


def _is_utf8(parameter: str) -> bool:
    """``charset=utf-8``, the value a token or a quoted string with quoted-pairs (RFC 9110 §5.6.4, §8.3.1)."""
    name, _, value = (part.strip() for part in parameter.partition("="))
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return name == "charset" and value == "utf-8"


def _text(body: str | None, *, base64_encoded: bool) -> str:
    """The body as text (``event_guard`` let only text or None through), within BODY_MAX_BYTES."""
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
    if "\\" not in text and all(text.count(f'"{name}"') < 2 for name in value):
        return
    json.loads(text, object_pairs_hook=_unique_object, parse_int=float)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValidationError([Issue(key, "appears more than once (send each field once)")])
        seen.add(key)
    return dict(pairs)
