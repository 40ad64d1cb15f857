"""The one error shape, and the translation of every failure into it.

``{"error": {"code": ..., "message": ..., "details": [{"field": ..., "issue": ...}]}}`` is returned for
every 4xx and 5xx. The texts are ours: a library's message (pydantic's wording, a JSON decoder's position
report, a stack trace) never reaches a client, because it can change with a dependency upgrade and can
leak internals. What went wrong internally is logged instead.

Patient inputs are health data: no error text or log line repeats a submitted value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from pydantic_core import ErrorDetails

from lambda_fn import contract
from lambda_fn.observability import logger, note_error, record_rejection
from lambda_fn.prediction import ImplausibleBmiError
from lambda_fn.schemas import ErrorBody, ErrorDetail, ErrorResponse

# A 10 000-value batch of strings would otherwise produce a 10 000-entry error; the first few say enough.
MAX_DETAILS: Final = 20
MAX_FIELD_NAME: Final = 64

_ALLOW_BY_PATH: Final = {
    path: ", ".join(sorted(r.method for r in contract.ROUTES if r.path == path))
    for path in {r.path for r in contract.ROUTES}
}
_RANGE = f"between {contract.BMI_MIN:g} and {contract.BMI_MAX:g} kg/m^2"

# pydantic error type -> our wording. Anything unlisted gets a generic issue rather than pydantic's text.
_ISSUES: Final = {
    "missing": "is required",
    "extra_forbidden": "is not an accepted field",
    "duplicate_key": "appears more than once (send each field once)",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number (no NaN, Infinity or overflowing value)",
    "greater_than_equal": f"must be {_RANGE}",
    "less_than_equal": f"must be {_RANGE}",
    "list_type": "must be a JSON array of numbers",
    "too_short": "must contain at least one value",
    "too_long": f"must contain at most {contract.BATCH_MAX} values",
    "model_type": "the request body must be a JSON object",
    "model_attributes_type": "the request body must be a JSON object",
}


class ApiError(Exception):
    """A client-facing error raised anywhere in request handling; rendered by :func:`register`."""

    def __init__(
        self,
        status: HTTPStatus,
        code: str,
        message: str,
        details: Sequence[ErrorDetail] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = headers or {}

    def body(self) -> ErrorResponse:
        return _error_body(self.code, self.message, self.details)


# --- The request-body errors, each built in one place: raised by the body checks, and shown as the
# examples of their status in the OpenAPI document (lambda_fn.api_docs), so that the documentation shows
# exactly what the function answers.
def unsupported_media_type() -> ApiError:
    json_type = content_types.APPLICATION_JSON
    return ApiError(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        f"Send the request body as {json_type}.",
        headers={"Accept-Post": json_type},
    )


def body_too_large() -> ApiError:
    return ApiError(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "body_too_large",
        f"The request body exceeds {contract.BODY_MAX_BYTES} bytes; "
        f"send at most {contract.BATCH_MAX} values per request.",
    )


def empty_body() -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, "empty_body", "The request body is empty; send a JSON object.")


def malformed_body() -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, "malformed_body", "The request body is not valid base64.")


def malformed_json() -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, "malformed_json", "The request body is not valid JSON.")


class InvalidBodyError(Exception):
    """The request body failed its schema. Raised by the body validator only, so that a ValidationError
    from anywhere else (a bug building a response) stays a 5xx instead of being blamed on the client."""

    def __init__(self, errors: list[ErrorDetails]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


def error_response(
    status: HTTPStatus,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: dict[str, str] | None = None,
) -> Response[ErrorResponse]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=_error_body(code, message, details),
        headers=headers,
    )


def _error_body(code: str, message: str, details: Sequence[ErrorDetail]) -> ErrorResponse:
    return ErrorResponse(error=ErrorBody(code=code, message=message, details=list(details)))


def field_path(loc: Iterable[int | str]) -> str | None:
    """("bmi", 3) -> "bmi[3]"; () -> None (the problem is the body as a whole). An unknown key is the
    client's own text: it is shortened so that a huge key cannot become a huge error response."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = part if len(part) <= MAX_FIELD_NAME else part[: MAX_FIELD_NAME - 1] + "…"
            path += f".{name}" if path else name
    return path or None


def _detail(error: ErrorDetails) -> ErrorDetail:
    return ErrorDetail(field=field_path(error["loc"]), issue=_ISSUES.get(error["type"], "is not valid"))


def _capped(details: list[ErrorDetail]) -> list[ErrorDetail]:
    if len(details) <= MAX_DETAILS:
        return details
    hidden = len(details) - MAX_DETAILS
    return [*details[:MAX_DETAILS], ErrorDetail(field=None, issue=f"... and {hidden} more problems")]


def _loggable(detail: ErrorDetail) -> str | None:
    # An unknown key is arbitrary client text (it could even be a value typed in the wrong place): the log
    # says that there was one, not what it was.
    return "(unknown field)" if detail.issue == _ISSUES["extra_forbidden"] else detail.field


def _reject(error: ApiError) -> Response[ErrorResponse]:
    record_rejection(code=error.code, fields=[_loggable(d) for d in error.details])
    return error_response(error.status, error.code, error.message, error.details, error.headers)


def _invalid_body(error: InvalidBodyError) -> Response[ErrorResponse]:
    if any(e["type"] == "json_invalid" for e in error.errors):
        return _reject(malformed_json())
    details = _capped([_detail(e) for e in error.errors])
    return _reject(
        ApiError(
            HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", "The request body is not valid.", details
        )
    )


def _implausible(error: ImplausibleBmiError) -> Response[ErrorResponse]:
    issue = f"converts to a BMI outside the plausible range ({_RANGE})"
    details = [
        ErrorDetail(field="input" if r.index is None else f"input[{r.index}]", issue=issue)
        for r in error.rejected
    ]
    return _reject(
        ApiError(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "validation_error",
            "The request body is not valid.",
            _capped(details),
        )
    )


def _unexpected(error: Exception) -> Response[ErrorResponse]:
    # The one path to a 5xx: a bug. Its detail goes to the log (with the stack), never to the client.
    logger.exception("unhandled error", extra={"error_type": type(error).__name__})
    note_error("internal_error")
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "The service failed to handle the request."
    )


def register(app: APIGatewayRestResolver) -> None:
    """Installs the handlers that map every failure to the error shape (Powertools picks the handler of
    the most specific registered class, so ``Exception`` only catches what nothing else does)."""

    def not_found(_: NotFoundError) -> Response[ErrorResponse]:
        # Powertools answers a known path with the wrong method as "not found"; HTTP says 405 + Allow.
        event = app.current_event
        allowed = _ALLOW_BY_PATH.get(event.path)
        if allowed is not None:
            note_error("method_not_allowed")
            return error_response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                f"{event.http_method} is not allowed on {event.path}; use {allowed}.",
                headers={"Allow": allowed},
            )
        note_error("not_found")
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "There is no resource at this path.")

    # Registered by call rather than as decorators: Powertools' decorator is untyped.
    app.exception_handler(ApiError)(_reject)
    app.exception_handler(InvalidBodyError)(_invalid_body)
    app.exception_handler(ImplausibleBmiError)(_implausible)
    app.exception_handler(Exception)(_unexpected)
    app.not_found(not_found)
