"""Every failure in the contract's one error shape (:func:`model.core.contract.error_body`). The texts are
ours: a library's message never reaches a client, and no error text or log line repeats a submitted value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from lambda_fn.encoding import to_json
from lambda_fn.observability import logger, note_error, record_rejection
from model.core import contract
from model.core.jsontypes import UNKNOWN_FIELD, Issue, ValidationError

JSON: Final = "application/json"
_ALLOW_BY_PATH: Final = {route.path: ", ".join(sorted(route.methods)) for route in contract.ROUTES}


class ApiError(Exception):
    """A client-facing error, raised anywhere in request handling and rendered by :func:`register`."""

    def __init__(
        self, code: str, message: str, details: Sequence[Issue] = (), headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.headers = code, message, list(details), headers or {}

    def body(self) -> dict[str, Any]:
        return contract.error_body(self.code, self.message, [i._asdict() for i in self.details])

    def response(self) -> Response[str]:
        return Response(contract.ERRORS[self.code].status, JSON, to_json(self.body()), headers=self.headers)

    def as_proxy_response(self) -> dict[str, Any]:
        """The Lambda proxy result, for answers given before (or instead of) the resolver."""
        headers = {"Content-Type": JSON, **self.headers}
        return {
            "statusCode": contract.ERRORS[self.code].status,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "body": to_json(self.body()),
            "isBase64Encoded": False,
        }


# The request-body errors, each built in one place: raised by the body checks and shown as the examples of
# their status in the OpenAPI document, which therefore shows exactly what the function answers.
def unsupported_media_type() -> ApiError:
    return ApiError(
        "unsupported_media_type", f"Send the request body as {JSON}.", headers={"Accept-Post": JSON}
    )


def payload_too_large() -> ApiError:
    return ApiError(
        "payload_too_large",
        f"The request body exceeds {contract.BODY_MAX_BYTES} bytes; "
        f"send at most {contract.BATCH_MAX} values per request.",
    )


def conflicting_content_type() -> ApiError:
    return ApiError("bad_request", "The request has conflicting Content-Type headers; send one.")


def empty_body() -> ApiError:
    return ApiError("empty_body", "The request body is empty; send a JSON object.")


def malformed_json() -> ApiError:
    return ApiError("malformed_json", "The request body is not valid UTF-8 JSON.")


def invalid(error: ValidationError) -> ApiError:
    hidden = [Issue(None, f"... and {error.hidden} more problems")] if error.hidden else []
    return ApiError("validation_error", "The request body is not valid.", [*error.issues, *hidden])


def _reject(error: ApiError) -> Response[str]:
    # An unknown key is arbitrary client text (it could even be a value typed in the wrong place): the log
    # says that there was one, not what it was.
    fields = ["(unknown field)" if d.issue == UNKNOWN_FIELD else d.field for d in error.details]
    record_rejection(code=error.code, fields=fields)
    return error.response()


def internal_error() -> ApiError:
    return ApiError("internal_error", contract.ERRORS["internal_error"].meaning)


def unexpected_error() -> ApiError:
    """The one path to a 5xx: a bug. Its detail goes to the log (with the stack), never to the client;
    call it inside the ``except`` that caught the bug."""
    logger.exception("unhandled error")
    note_error("internal_error")
    return internal_error()


def not_routed(method: str, path: str) -> ApiError:
    """No route answers ``method path``: 405 with Allow on a known path (Powertools calls that "not found";
    HTTP does not), else 404."""
    allowed = _ALLOW_BY_PATH.get(path)
    if allowed is None:
        note_error("not_found")
        return ApiError("not_found", contract.ERRORS["not_found"].meaning)
    note_error("method_not_allowed")
    message = f"{method} is not allowed on {path}; use {allowed}."
    return ApiError("method_not_allowed", message, headers={"Allow": allowed})


def register(app: ApiGatewayResolver) -> None:
    """Installs the handlers that map every failure to the error shape (Powertools picks the handler of the
    most specific registered class, so ``Exception`` only catches what nothing else does)."""

    def not_found(_: NotFoundError) -> Response[str]:
        return not_routed(app.current_event.http_method, app.current_event.path).response()

    # Registered by call rather than as decorators: Powertools' decorator is untyped.
    app.exception_handler(ApiError)(_reject)
    app.exception_handler(ValidationError)(lambda error: _reject(invalid(error)))
    app.exception_handler(Exception)(lambda _: unexpected_error().response())
    app.not_found(not_found)
