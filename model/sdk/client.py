"""The HTTP client of a running stage: the Python API's answers, typed the same (README, docs/clients.md).

Protected routes are signed with AWS SigV4 (:mod:`.aws`), never in cleartext to another machine. Everything
raised is a :class:`ClientError`. 429, 502-504 and connections the server drops are retried (:class:`Retry`:
every route is a pure function of its input), all within one deadline per call; an answer is read no
further than Lambda could answer and must match its request. Redirects are not followed."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, is_typeddict
from urllib.parse import urlsplit

from ..core import __version__, contract
from ..core.jsontypes import ValidationError, read
from ..core.schemas import BatchPredictResponse, HealthResponse, ModelInfoResponse, PredictResponse
from ..core.untrusted import printable
from . import errors
from .aws import Signer, region_of, stack_api_url
from .errors import ApiError, ClientError, ConfigurationError, Response, ResponseError, Retry, TransportError
from .predictor import as_number, batch_of

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

DEFAULT_TIMEOUT_SECONDS: Final = 30.0  # API Gateway answers within 29 s or says 504
MAX_TIMEOUT_SECONDS: Final = 3600.0
MAX_ANSWER_BYTES: Final = 6 * 1024 * 1024  # Lambda's response payload limit: no stage answers more
_RETRYABLE: Final = (http.client.RemoteDisconnected, ConnectionResetError)
DEFAULT_RETRY: Final = Retry()
NO_RETRY: Final = Retry(attempts=1)


def is_loopback(host: str) -> bool:
    """This machine: ``localhost``, all of 127.0.0.0/8 and ::1."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        """``sign``: ``None`` signs the protected routes unless the host is a loopback address; ``True`` or
        ``False`` forces it. ``credentials`` (botocore's) replace the credential chain. ``timeout``: seconds
        for a whole call, retries included. Everything is checked here, so a bad URL, a missing extra,
        credentials or region is a :class:`ConfigurationError` now, not later. ``sleep`` and ``uniform``
        are the backoff's clock and randomness."""
        self.scheme, self.host, self.port, self.base_path = parse_url(url)
        self.base_url = url.rstrip("/")
        for name, value, kind in (("sign", sign, bool), ("region", region, str), ("profile", profile, str)):
            errors.expect_type(name, value, kind | None)
        self.timeout = errors.checked_seconds(timeout, MAX_TIMEOUT_SECONDS)
        self.retry = errors.checked_retry(retry)
        self._sleep, self._uniform = sleep, uniform
        self.user_agent = (
            f"diabetes-progression/{__version__} Python/{sys.version_info[0]}.{sys.version_info[1]}"
        )
        self.signs = not is_loopback(self.host) if sign is None else sign
        if self.signs and self.scheme == "http" and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to sign requests to http://{self.host}: a signature sent in cleartext can be "
                "replayed; use its https:// URL (or sign=False, --no-sign, for an unsigned call)"
            )
        self._signer = Signer(self.host, region, profile, credentials) if self.signs else None

    @classmethod
    def for_stack(
        cls, stack_name: str, *, region: str | None = None, profile: str | None = None, **options: Any
    ) -> Client:
        """The client of the stage deployed as CloudFormation stack ``stack_name`` (e.g. Staging-Service),
        at the URL in its ``ApiUrl`` output, read within the client's ``timeout``."""
        timeout = errors.checked_seconds(options.get("timeout", DEFAULT_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
        url = stack_api_url(stack_name, region=region, profile=profile, timeout=timeout)
        return cls(url, region=region, profile=profile, **options)

    # --- The routes, typed as the API documents them, answers checked against their requests ------------
    def predict(self, bmi: float) -> PredictResponse:
        answer = self.call("POST", contract.PATH_PREDICT, PredictResponse, {"bmi": as_number(bmi)})
        interval = answer["interval"]
        columns = ([answer["prediction"]], [interval["lower"]], [interval["upper"]])
        errors.check_rows(contract.PATH_PREDICT, 1, *columns)
        return answer

    def predict_batch(self, bmis: Iterable[float]) -> BatchPredictResponse:
        """At most 10 001 values are taken from ``bmis`` (one more than the service accepts, which it
        refuses): an endless iterator costs no more than the largest batch."""
        sent = batch_of(bmis)
        answer = self.call("POST", contract.PATH_PREDICT_BATCH, BatchPredictResponse, {"bmi": sent})
        bounds = answer["intervals"]
        columns = (answer["predictions"], bounds["lower"], bounds["upper"], answer["extrapolated"])
        errors.check_rows(contract.PATH_PREDICT_BATCH, len(sent), *columns)
        return answer

    def model_info(self) -> ModelInfoResponse:
        """The model's description, read as its type (which holds at least one band and coverage group). Not
        the serving policy: an installed client describes a model served under a later policy too."""
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
        strictly as ``kind``: :class:`ResponseError` if it is not one. Fields a newer service adds to an
        answer are left out, not refused: an installed client keeps working when the API grows."""
        document = self.request_json(method, path, payload)
        if isinstance(document, dict) and is_typeddict(kind):
            known = getattr(kind, "__required_keys__", set()) | getattr(kind, "__optional_keys__", set())
            document = {key: value for key, value in document.items() if key in known}
        try:
            return read(document, kind)
        except ValidationError as exc:
            raise ResponseError(
                f"{method} {path} answered a body that is not a {kind.__name__}: {exc}"
            ) from None

    def request_json(self, method: str, path: str, payload: object = None) -> Any:
        """``method path`` with ``payload`` as its JSON body (a value JSON cannot hold is sent as its text,
        for the service to refuse), retried as :class:`Retry` says: the decoded answer of a 2xx, else
        :class:`ApiError`."""
        body = None if payload is None else json.dumps(payload, default=str).encode()
        response = self.send_with_retries(method, path, body)
        if not 200 <= response.status < 300:
            raise ApiError.from_response(response)
        try:
            return response.json()
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            raise ResponseError(
                f"{method} {path} answered {response.status} with a body that is not JSON"
            ) from None

    # --- Raw requests ------------------------------------------------------------------------------------
    def send_with_retries(self, method: str, path: str, body: bytes | None = None) -> Response:
        """:meth:`send`, repeated while the answer is one :class:`Retry` retries, attempts are left and the
        wait ends before the call's deadline; the last answer is returned, whatever its status."""
        deadline = time.monotonic() + self.timeout
        for attempt in range(self.retry.attempts):
            failure: TransportError | None = None
            try:
                response = self.send(method, path, body, deadline=deadline)
            except TransportError as exc:
                if not isinstance(exc.__cause__, _RETRYABLE):
                    raise
                failure, retry_after = exc, None
            else:
                if response.status not in self.retry.statuses:
                    return response
                retry_after = response.headers.get("Retry-After")
            wait = self.retry.delay(attempt, retry_after, self._uniform)
            if attempt + 1 == self.retry.attempts or not time.monotonic() + wait < deadline:
                break
            self._sleep(wait)
        if failure is not None:
            raise failure
        return response

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        sign: bool | None = None,
        deadline: float | None = None,
    ) -> Response:
        """One request, no retry, any status returned. ``body`` goes as ``application/json`` unless
        ``headers`` say otherwise; ``sign`` (``None``: as the client does, for protected routes only);
        ``deadline`` (:func:`time.monotonic`; default: the client's timeout from now) bounds it all,
        connection, headers and a body however slowly it trickles in."""
        deadline = time.monotonic() + self.timeout if deadline is None else deadline
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
        try:
            return self._exchange(method, self.base_path + path, body, sent, deadline)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if time.monotonic() >= deadline or isinstance(exc, TimeoutError):
                raise TransportError(
                    f"{method} {url}: no answer within {self.timeout:g} s"
                ) from TimeoutError()
            raise TransportError(f"{method} {url}: {printable(str(exc)) or type(exc).__name__}") from exc

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str], deadline: float
    ) -> Response:
        kind = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        connection = kind(self.host, self.port, timeout=max(deadline - time.monotonic(), 0.001))
        try:
            connection.connect()
            # A socket timeout bounds each read, not their sum: at the deadline the socket is shut.
            watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), _shut, (connection,))
            watchdog.daemon = True
            watchdog.start()
            try:
                connection.request(method, target, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read(MAX_ANSWER_BYTES + 1)
            finally:
                watchdog.cancel()
            if time.monotonic() >= deadline:
                raise TimeoutError
            if len(data) > MAX_ANSWER_BYTES:
                raise ResponseError(f"{method} {target} answered more than {MAX_ANSWER_BYTES} bytes")
            return Response(answer.status, answer.headers, data)
        finally:
            connection.close()


def _shut(connection: http.client.HTTPConnection) -> None:
    with_socket = connection.sock
    if with_socket is not None:
        with contextlib.suppress(OSError):  # socket.socket's own: an SSL socket's would unwrap it
            socket.socket.shutdown(with_socket, socket.SHUT_RDWR)


def parse_url(url: str) -> tuple[str, str, int | None, str]:
    """Scheme, host, port and base path of a stage's URL, or :class:`ConfigurationError` saying why (the
    URL is echoed only when it holds no credentials)."""
    if not isinstance(url, str) or not url.isprintable() or any(c.isspace() for c in url):
        raise ConfigurationError("the URL must be text without spaces or control characters")
    try:
        split = urlsplit(url)
        host, port, userinfo = split.hostname, split.port, "@" in split.netloc
    except ValueError as exc:  # "http://[::1", a port out of range
        raise ConfigurationError(f"{printable(url)!r} is not a valid URL ({exc})") from None
    if userinfo:
        raise ConfigurationError("the URL holds a user name or password: never put credentials in a URL")
    if split.scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"{printable(url)!r} is not an http(s) URL")
    if split.query or split.fragment or "?" in url or "#" in url:
        raise ConfigurationError(f"{printable(url)!r}: a stage's URL has no query (?...) or fragment (#...)")
    return split.scheme, host, port, split.path.rstrip("/")
