"""The client's words: what it raises (all :class:`ClientError`) and the checks that raise it, the raw answer
an :class:`ApiError` is read from, and when it tries again (:class:`Retry`)."""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from email.message import Message
from typing import Any, Final, NamedTuple, TypeGuard

from ..core.jsontypes import read
from ..core.schemas import ErrorDetail, ErrorResponse
from ..core.untrusted import printable

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
        and 100 kg/m^2 (HTTP 422, validation_error)``: the server's text escaped and bounded, to print."""
        issues = "; ".join(f"{d['field']}: {d['issue']}" if d["field"] else d["issue"] for d in self.details)
        said = printable(f"{self.message}{' ' + issues if issues else ''}", _MAX_ERROR_TEXT)
        return f"{said} (HTTP {self.status}, {printable(self.code, 64)})"

    @classmethod
    def from_response(cls, response: Response) -> ApiError:
        request_id = response.headers.get("x-amzn-RequestId")
        try:
            error = read(response.json(), ErrorResponse)["error"]
        except (ValueError, RecursionError):  # not JSON, too deep, or JSON of another shape
            text = " ".join(response.text[: 4 * _MAX_ERROR_TEXT].split())[:_MAX_ERROR_TEXT] or "(empty body)"
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


class Retry(NamedTuple):
    """At most ``attempts`` tries; before try n + 1, a random wait in [0, min(cap, base * 2**n)] seconds
    ("full jitter"), or the server's ``Retry-After`` (seconds or an HTTP date) if that is longer, still at
    most ``cap``. The call's deadline bounds it all: a wait that would pass it is not made."""

    attempts: int = 4
    base_seconds: float = 0.25
    cap_seconds: float = 8.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def delay(self, retry: int, retry_after: str | None, uniform: Callable[[float, float], float]) -> float:
        wait = uniform(0.0, min(self.cap_seconds, self.base_seconds * 2**retry))
        return min(max(wait, _retry_after_seconds(retry_after)), self.cap_seconds)


def checked_retry(retry: object) -> Retry:
    """``retry``, if it is a :class:`Retry` whose every field could be used: else :class:`ConfigurationError`
    now, not a TypeError at the first call that retries."""
    if not (isinstance(retry, Retry) and _is_int(retry.attempts) and retry.attempts >= 1):
        raise ConfigurationError("retry must be a Retry of at least one attempt (an int)")
    if not all(_is_real(s) and 0 <= s < math.inf for s in (retry.base_seconds, retry.cap_seconds)):
        raise ConfigurationError("retry's base_seconds and cap_seconds must be finite seconds, 0 or more")
    statuses = retry.statuses
    if not (isinstance(statuses, Collection) and not isinstance(statuses, str | bytes)) or not all(
        _is_int(s) for s in statuses
    ):
        raise ConfigurationError("retry's statuses must be a collection of HTTP statuses (ints)")
    return retry


def checked_seconds(timeout: object, maximum: float) -> float:
    if not (_is_real(timeout) and 0 < timeout <= maximum):  # True is not 1 s
        raise ConfigurationError(f"timeout must be more than 0 and at most {maximum:g} s")
    return float(timeout)


def expect_type(name: str, value: object, kind: Any) -> None:
    """:class:`ConfigurationError` unless ``value`` is a ``kind``."""
    if not isinstance(value, kind):
        raise ConfigurationError(f"{name} must be {kind}, not {type(value).__name__}")


def check_rows(path: str, count: int, predictions: list[float], *columns: list[Any]) -> None:
    """:class:`ResponseError` unless the answer holds one prediction per BMI sent, each inside its
    interval (``columns``: lower bounds, upper bounds, then any other per-BMI column): an unreadable
    answer, never an IndexError later."""
    if any(len(column) != count for column in (predictions, *columns)):
        raise ResponseError(f"POST {path} answered {len(predictions)} predictions for {count} BMIs")
    lower, upper = columns[0], columns[1]
    if not all(low <= p <= high for p, low, high in zip(predictions, lower, upper, strict=True)):
        raise ResponseError(f"POST {path} answered an interval that does not hold its prediction")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _retry_after_seconds(value: str | None) -> float:
    """What ``Retry-After`` asks for (RFC 9110 §10.2.3: delta-seconds or an HTTP date), else 0."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        return float(value) if len(value) < 16 else math.inf
    try:
        when = email.utils.parsedate_to_datetime(value)
        return (when.replace(tzinfo=when.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return 0.0
