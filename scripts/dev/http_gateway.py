"""The development server's HTTP side: requests read, bounded and answered as API Gateway (REST, Lambda
proxy) would, each turned into a proxy event (:mod:`.apigw_proxy`) for the function (:mod:`.invoke`).
Protocol errors (framing, limits, timeouts) are answered in the contract's error shape; what it logs is
bounded, escaped, and never a request's body, query or an unknown path."""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from model.core import contract
from model.core.untrusted import printable
from scripts.dev import apigw_proxy
from scripts.dev.apigw_proxy import HttpResponse
from scripts.dev.invoke import STAGE, Invoker, ModelWatch, now, say

DRAIN_TIMEOUT_SECONDS: Final = 2.0


DRAIN_MAX_BYTES: Final = 64 * 1024 * 1024


IDLE_TIMEOUT_SECONDS: Final = 60.0  # a request line or header line that does not arrive; an idle keep-alive


BODY_TIMEOUT_SECONDS: Final = 10.0  # the whole body, however slowly it trickles in


_DIGITS: Final = re.compile(r"[0-9]+")


# What http.server refuses on its own, answered in the contract's shape with our words, never its
# messages (they quote the request line).
_PROTOCOL_ERRORS: Final = {
    414: "The request line is too long.",
    431: "The request headers are too large.",
    505: "Only HTTP/1.0 and HTTP/1.1 are served.",
}


_CANNOT_READ: Final = "The request line or headers cannot be read."


class DevRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway offers
    default_request_version = "HTTP/1.0"  # so that an error before the version is known has a status line
    server_version = "dev-server"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    # Headers and body are written separately: with Nagle's algorithm on, the body would wait for the
    # client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: DevServer

    def parse_request(self) -> bool:
        if len(self.raw_requestline.split()) == 2:  # no version: HTTP/0.9, which has no status line
            self.command, self.request_version, self.requestline = "", "", ""
            self._refuse("HTTP/0.9 is not served: send HTTP/1.1.")
            return False
        if not super().parse_request():
            return False
        if not contract.HTTP_METHOD.fullmatch(self.command or ""):
            self._refuse("The request method is not an HTTP method.")
            return False
        return True

    def _serve(self) -> None:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        response = self._respond_to(request_id)
        self._log_access(response, started)  # first: a client that has its answer has its log line too
        self._send(response)

    def _respond_to(self, request_id: str) -> HttpResponse:
        body = self._read_body()
        if isinstance(body, tuple):
            self.close_connection = True  # the unread body cannot be skipped safely
            return apigw_proxy.gateway_response(*body, request_id=request_id)
        event = apigw_proxy.proxy_event(
            self.command,
            self.path,
            body,
            headers=tuple(self.headers.items()),
            request_id=request_id,
            stage=STAGE,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        if self.server.model is not None:
            self.server.model.check()
        result = self.server.invoker.invoke(event, request_id)
        return apigw_proxy.map_result(result, request_id=request_id)

    def _read_body(self) -> bytes | tuple[str, str]:
        """The request body, or the error code and message the deployed stage would refuse it with: 413
        for a declared length its web ACL blocks, 400 for framing that cannot be read. A development server
        need not decode chunked bodies: it asks for a Content-Length (411)."""
        declared = {value.strip() for value in self.headers.get_all("Content-Length", [])}
        if self.headers.get("Transfer-Encoding"):
            if declared:  # RFC 9112 §6.1: a request smuggling vector; refused, and the connection closed
                return "bad_request", "Send either Content-Length or Transfer-Encoding, not both."
            return "length_required", "Send the body with a Content-Length."
        if not declared:
            return b""
        # RFC 9112: digits only, and repeated headers must agree; anything else cannot frame a body.
        if len(declared) > 1 or not _DIGITS.fullmatch(length := declared.pop()):
            return "bad_request", "Invalid Content-Length header"
        # Compared by digit count first: int() refuses decimal strings of more than 4 300 digits.
        significant = length.lstrip("0") or "0"
        limit = contract.EDGE_BODY_LIMIT_BYTES
        if len(significant) > len(str(limit)) or int(significant) >= limit:
            return "payload_too_large", "Request Too Long"
        body = self._read_exactly(int(significant))
        if body is None:
            return "bad_request", "The body is shorter than its Content-Length, or too slow to arrive."
        return body

    def _read_exactly(self, size: int) -> bytes | None:
        """``size`` bytes, or None when the client stops sending or takes longer than the server's
        ``body_timeout`` for all of them (a per-read timeout alone would let a trickle hold it forever)."""
        deadline = time.monotonic() + self.server.body_timeout
        chunks: list[bytes] = []
        remaining = size
        try:
            while remaining:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    return None
                chunks.append(chunk)
                remaining -= len(chunk)
        except (TimeoutError, ConnectionError):
            return None
        finally:
            self.connection.settimeout(self.timeout)
        return b"".join(chunks)

    def _send(self, response: HttpResponse) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            if self.close_connection:
                self._drain_input()
        except OSError:  # the client went away: nothing left to tell it
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (request line, headers, version), in the contract's error shape and
        our words: its messages quote the request line."""
        self._refuse(_PROTOCOL_ERRORS.get(code, _CANNOT_READ))

    def _refuse(self, message: str) -> None:
        """A 400 before the request could be read, and the connection closed."""
        self.close_connection = True
        say(f"{now()} refused 400 (bad_request: {message})")
        self._send(apigw_proxy.gateway_response("bad_request", message, request_id=str(uuid.uuid4())))

    def _drain_input(self) -> None:
        """Reads and drops what the client is still sending after a refusal, then lets it close.

        Closing a socket with unread input makes the kernel reset the connection, and a client still
        uploading would then lose the 413 it was sent. Bounded in time and bytes.
        """
        self.wfile.flush()
        self.connection.settimeout(DRAIN_TIMEOUT_SECONDS)
        drained = 0
        try:
            while drained < DRAIN_MAX_BYTES and (data := self.rfile.read1(65536)):
                drained += len(data)
        except OSError:
            pass  # timed out or reset: the connection is being closed anyway

    def _log_access(self, response: HttpResponse, started: float) -> None:
        path = unquote(urlsplit(self.path).path)
        route = (
            path if path in contract.ROUTE_PATHS else "(not a route)"
        )  # what a caller typed is never printed
        elapsed = (time.perf_counter() - started) * 1000
        line = f"{now()} {self.command} {route} {response.status} {elapsed:.1f} ms"
        if route in contract.POST_PATHS and response.status == 200:
            line += f" ({_count_predictions(response.body)})"
        elif response.status >= 400:
            line += f" ({_error_code(response.body)})"
        say(line)

    def __getattr__(self, name: str) -> Any:
        # http.server dispatches on do_<METHOD>; the stage's ANY methods forward every method to the
        # function, which answers 405 with Allow itself.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None  # _serve logs one line per request, with its duration

    def log_error(self, format: str, *args: Any) -> None:
        return None  # only an idle keep-alive connection timing out gets here (send_error is ours)

    def log_message(self, format: str, *args: Any) -> None:
        say(f"[dev-server] {printable(format % args)}")


def _count_predictions(body: bytes) -> str:
    try:
        answer = json.loads(body)
        count = len(answer.get("predictions", answer.get("Response Predict", [answer.get("prediction")])))
    except (ValueError, AttributeError, TypeError):
        return "no predictions"
    return f"{count} prediction{'' if count == 1 else 's'}"


def _error_code(body: bytes) -> str:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "no error code"
    return code if code in contract.ERRORS else "unknown error code"


class DevServer(ThreadingHTTPServer):
    daemon_threads = True
    body_timeout = BODY_TIMEOUT_SECONDS

    def __init__(
        self, address: tuple[str, int], invoker: Invoker, *, model: ModelWatch | None = None
    ) -> None:
        super().__init__(address, DevRequestHandler)
        self.invoker = invoker
        self.model = model

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):  # a client that went away is not worth a line
            say(f"[dev-server] error while serving a request: {type(error).__name__}")
