"""What the client raises (all :class:`ClientError`), and the raw answer an :class:`ApiError` is read from."""

from __future__ import annotations

import json
from collections.abc import Iterable
from email.message import Message
from typing import Any, Final, NamedTuple

from ..core.jsontypes import ValidationError, read
from ..core.schemas import ErrorDetail, ErrorResponse

_MAX_ERROR_TEXT: Final = 300


class ClientError(Exception):
    """Anything this client raises."""


class ConfigurationError(ClientError):
    """The call cannot be made as configured: botocore missing, no credentials or region, no such stack."""


class TransportError(ClientError):
    """No answer: the connection failed, was reset, or timed out."""


class ResponseError(ClientError):
    """A success whose body is not what the API documents for the route."""


class ApiError(ClientError):
    """The API answered with an error, in its one shape (``{"error": {"code", "message", "details"}}``);
    an answer not in that shape (a proxy's page, say) gets the code ``http_<status>``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Iterable[ErrorDetail] = (),
        *,
        request_id: str | None = None,
    ) -> None:
        self.status, self.code, self.message = status, code, message
        self.details: list[ErrorDetail] = list(details)
        self.request_id = request_id
        super().__init__(self.describe())

    def describe(self) -> str:
        """The API's message and its details, e.g. ``The request body is not valid. bmi: must be between 10
        and 100 kg/m^2 (HTTP 422, validation_error)``."""
        issues = "; ".join(f"{d['field']}: {d['issue']}" if d["field"] else d["issue"] for d in self.details)
        return f"{self.message}{' ' + issues if issues else ''} (HTTP {self.status}, {self.code})"

    @classmethod
    def from_response(cls, response: Response) -> ApiError:
        request_id = response.headers.get("x-amzn-RequestId")
        try:
            error = read(response.json(), ErrorResponse)["error"]
        except (ValueError, ValidationError):  # not JSON, or JSON of another shape
            text = " ".join(response.text.split())[:_MAX_ERROR_TEXT] or "(empty body)"
            return cls(response.status, f"http_{response.status}", text, request_id=request_id)
        return cls(response.status, error["code"], error["message"], error["details"], request_id=request_id)


class Response(NamedTuple):
    """One HTTP answer, whatever its status. ``headers`` is case-insensitive (``headers["content-type"]``)."""

    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The decoded body; :class:`ValueError` if it is not JSON."""
        return json.loads(self.body)
