"""The HTTP client of a running stage: the Python API's answers, typed the same (README, docs/clients.md).

A deployed stage's protected routes are signed with AWS Signature Version 4 (:mod:`.aws`); a loopback URL is
not, unless ``sign=True``. An error answer raises :class:`ApiError`, and everything raised is a
:class:`ClientError`. 429 and 502-504, and connections closed or reset by the server, are retried with
full-jitter exponential backoff honouring ``Retry-After`` (every route is a pure function of its input, so a
repeat is safe); a timeout is not. Standard library HTTP; redirects are not followed (a signature is for one
URL)."""

from __future__ import annotations

import http.client
import json
import random
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import urlsplit

from ..core import __version__, contract
from ..core.jsontypes import ValidationError, read
from ..core.schemas import (
    BatchPredictResponse,
    HealthResponse,
    ModelInfoResponse,
    PredictResponse,
)
from .aws import Signer, region_of, stack_api_url
from .errors import ApiError, ClientError, ConfigurationError, Response, ResponseError, TransportError
from .predictor import as_number

if TYPE_CHECKING:
    from botocore.credentials import Credentials

__all__ = [
    "ApiError",
    "Client",
    "ClientError",
    "ConfigurationError",
    "Response",
    "ResponseError",
    "Retry",
    "TransportError",
    "region_of",
    "stack_api_url",
]

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_TIMEOUT_SECONDS: Final = 30.0  # API Gateway answers within 29 s or says 504


class Retry(NamedTuple):
    """At most ``attempts`` tries; before try n + 1, a random wait in [0, min(cap, base * 2**n)] seconds
    ("full jitter"), or the server's ``Retry-After`` if that is longer (still at most ``cap``)."""

    attempts: int = 4
    base_seconds: float = 0.25
    cap_seconds: float = 8.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})

    def delay(self, retry: int, retry_after: str | None, uniform: Callable[[float, float], float]) -> float:
        wait = uniform(0.0, min(self.cap_seconds, self.base_seconds * 2**retry))
        if retry_after is not None and retry_after.strip().isdigit():
            wait = max(wait, float(retry_after))
        return min(wait, self.cap_seconds)


DEFAULT_RETRY: Final = Retry()
NO_RETRY: Final = Retry(attempts=1)


# --- The client -------------------------------------------------------------------------------------------
class Client:
    """Calls one stage of the service, at ``url`` (its ``ApiUrl``, or ``http://127.0.0.1:3000`` locally)."""

    def __init__(
        self,
        url: str,
        *,
        sign: bool | None = None,
        region: str | None = None,
        profile: str | None = None,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry: Retry = DEFAULT_RETRY,
        opener: urllib.request.OpenerDirector | None = None,
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        """``sign``: ``None`` signs the protected routes unless the host is a loopback address; ``True`` or
        ``False`` forces it. ``credentials`` (botocore's) replace the credential chain. Signing is set up
        here, so a missing extra, credentials or region is a :class:`ConfigurationError` now, not later.
        ``opener`` replaces urllib's default one (which follows no redirect here); ``sleep`` and ``uniform``
        are the backoff's clock and randomness."""
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ConfigurationError(f"{url!r} is not an http(s) URL")
        self.base_url = url.rstrip("/")
        self.host = split.hostname
        self.timeout, self.retry = timeout, retry
        self._sleep, self._uniform = sleep, uniform
        self._opener = opener or urllib.request.build_opener(_NoRedirects)
        self.user_agent = (
            f"diabetes-progression/{__version__} Python-urllib/{sys.version_info[0]}.{sys.version_info[1]}"
        )
        self.signs = self.host not in LOOPBACK_HOSTS if sign is None else sign
        self._signer = Signer(self.host, region, profile, credentials) if self.signs else None

    @classmethod
    def for_stack(
        cls, stack_name: str, *, region: str | None = None, profile: str | None = None, **options: Any
    ) -> Client:
        """The client of the stage deployed as CloudFormation stack ``stack_name`` (e.g. Staging-Service),
        at the URL in its ``ApiUrl`` output."""
        url = stack_api_url(stack_name, region=region, profile=profile)
        return cls(url, region=region, profile=profile, **options)

    # --- The routes, typed as the API documents them ---------------------------------------------------
    def predict(self, bmi: float) -> PredictResponse:
        return self.call("POST", contract.PATH_PREDICT, PredictResponse, {"bmi": as_number(bmi)})

    def predict_batch(self, bmis: Iterable[float]) -> BatchPredictResponse:
        if isinstance(bmis, str | bytes):
            raise TypeError("bmis must be an iterable of numbers, not a string")
        payload = {"bmi": [as_number(bmi) for bmi in bmis]}
        return self.call("POST", contract.PATH_PREDICT_BATCH, BatchPredictResponse, payload)

    def model_info(self) -> ModelInfoResponse:
        return self.call("GET", contract.PATH_MODEL, ModelInfoResponse)

    def health(self) -> HealthResponse:
        return self.call("GET", contract.PATH_HEALTH, HealthResponse)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document the stage serves (not validated: it is a document, not a typed answer)."""
        document = self.request_json("GET", contract.PATH_OPENAPI)
        if not isinstance(document, dict):
            raise ResponseError(f"GET {contract.PATH_OPENAPI} answered JSON that is not an object")
        return document

    def call[T](self, method: str, path: str, kind: type[T], payload: object = None) -> T:
        """``method path`` with ``payload`` as its JSON body (:meth:`request_json`), the answer read
        strictly as ``kind``: :class:`ResponseError` if it is not one."""
        document = self.request_json(method, path, payload)
        try:
            return read(document, kind)
        except ValidationError as exc:
            raise ResponseError(
                f"{method} {path} answered a body that is not a {kind.__name__}: {exc}"
            ) from None

    def request_json(self, method: str, path: str, payload: object = None) -> Any:
        """``method path`` with ``payload`` as its JSON body, retried as :class:`Retry` says: the decoded
        answer of a 2xx, else :class:`ApiError`."""
        body = None if payload is None else json.dumps(payload).encode()
        response = self.send_with_retries(method, path, body)
        if not 200 <= response.status < 300:
            raise ApiError.from_response(response)
        try:
            return response.json()
        except ValueError:
            raise ResponseError(
                f"{method} {path} answered {response.status} with a body that is not JSON"
            ) from None

    # --- Raw requests ------------------------------------------------------------------------------------
    def send_with_retries(self, method: str, path: str, body: bytes | None = None) -> Response:
        """:meth:`send`, repeated while the answer is one :class:`Retry` retries and attempts are left; the
        last answer is returned, whatever its status."""
        for attempt in range(self.retry.attempts):
            last = attempt + 1 == self.retry.attempts
            try:
                response = self.send(method, path, body)
            except TransportError as exc:
                if last or not isinstance(
                    exc.__cause__, http.client.RemoteDisconnected | ConnectionResetError
                ):
                    raise
                self._sleep(self.retry.delay(attempt, None, self._uniform))
                continue
            if last or response.status not in self.retry.statuses:
                return response
            self._sleep(self.retry.delay(attempt, response.headers.get("Retry-After"), self._uniform))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        sign: bool | None = None,
    ) -> Response:
        """One request, no retry, any status returned. ``body`` goes as ``application/json`` unless
        ``headers`` say otherwise; ``sign`` (``None``: as the client does, for protected routes only)."""
        url = self.base_url + path
        sent = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if body is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        if sign is None:
            sign = self.signs and urlsplit(path).path in contract.PROTECTED_PATHS
        if sign:
            if self._signer is None:
                raise ConfigurationError("this client does not sign (it was created with sign=False)")
            sent.update(self._signer.headers(method, url, body, sent))
        # S310: the scheme was checked in __init__ (http or https only).
        request = urllib.request.Request(url, data=body, headers=sent, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as answer:  # any status urllib calls an error: still an answer
            with answer:
                return Response(answer.code, answer.headers, answer.read())
        except TimeoutError as exc:
            raise TransportError(f"{method} {url}: no answer within {self.timeout:g} s") from exc
        except urllib.error.URLError as exc:
            reason = exc.reason if isinstance(exc.reason, BaseException) else exc
            if isinstance(reason, TimeoutError):
                raise TransportError(f"{method} {url}: no connection within {self.timeout:g} s") from reason
            raise TransportError(f"{method} {url}: {exc.reason}") from reason
        except (http.client.HTTPException, OSError) as exc:
            raise TransportError(f"{method} {url}: {exc or type(exc).__name__}") from exc


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is returned as it is: following it would send a signature made for another URL."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> urllib.request.Request | None:
        return None
