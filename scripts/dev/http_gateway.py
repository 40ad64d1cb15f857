"""The development server's HTTP side: uvicorn and its pure-Python h11 protocol parse and frame HTTP/1.1
and send ``100 Continue`` only once a body is read. Ours is the adapter: a request becomes API Gateway's
proxy event (:mod:`.apigw_proxy`), one invocation at a time (the others queue), after a few checks on what
h11 parsed and two deadlines uvicorn lacks. It never logs a body, a query or an unknown path."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from model.core import contract
from scripts.dev import apigw_proxy
from scripts.dev.invoke import STAGE, Invoker, ModelWatch, now, say

HEAD_TIMEOUT_SECONDS: Final = 10.0  # a request's line and headers, from connecting or the previous answer
BODY_TIMEOUT_SECONDS: Final = 10.0  # the whole body, however slowly it trickles in
DRAIN_SECONDS: Final = 2.0  # how long the body of a refused request is read (and dropped) after the answer
HEAD_MAX_BYTES: Final = 65536
UNKNOWN_PEER: Final = "0.0.0.0"  # noqa: S104 - a source address that says "unknown", not a bind
CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # CTL but HTAB: h11 refuses only NUL, CR and LF
CANNOT_READ: Final = "The request line or headers cannot be read."
Refusal = tuple[str, str]  # an error code of the contract, and its message
TOO_LARGE: Final = ("payload_too_large", contract.ERRORS["payload_too_large"].gateway_message)  # web ACL's
CHUNKED: Final = ("length_required", "Send the body with a Content-Length.")


def refusal(method: str, target: str, version: str, headers: tuple[tuple[str, str], ...]) -> Refusal | None:
    """What h11 lets through and the deployed stage would not serve (names are lower-case here): the first
    refusal whose condition holds."""
    names = {name for name, _ in headers}
    # h11: digits, agreed; without the leading zeros, read by int() only when it has few enough of them
    length = next((value for name, value in headers if name == "content-length"), "0").lstrip("0") or "0"
    limit, bad = contract.EDGE_BODY_LIMIT_BYTES, "bad_request"
    refusals = (
        (version not in ("1.0", "1.1"), (bad, "Only HTTP/1.0 and HTTP/1.1 are served.")),
        (not contract.HTTP_METHOD.fullmatch(method), (bad, "The request method is not an HTTP method.")),
        (not target.startswith("/"), (bad, "The request target must be a path (start with /).")),
        (len(target) + sum(len(n) + len(v) + 4 for n, v in headers) > HEAD_MAX_BYTES, (bad, CANNOT_READ)),
        (any(CONTROL.search(v) for _, v in headers), (bad, "A header value holds a control character.")),
        # RFC 9112 §6.1: two framings of one body, a request smuggling vector (h11 would let chunked win)
        (
            {"content-length", "transfer-encoding"} <= names,
            (bad, "Send either Content-Length or Transfer-Encoding."),
        ),
        ("transfer-encoding" in names, CHUNKED),
        # before the body is read: no 100 Continue first
        (len(length) > len(str(limit)) or int(length) >= limit, TOO_LARGE),
    )
    return next((refused for wrong, refused in refusals if wrong), None)


def response_head(response: apigw_proxy.HttpResponse, *, close: bool) -> list[tuple[bytes, bytes]]:
    """The answer's headers on the wire, with its length and, when the connection ends with it, the close."""
    head = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
    return (
        head + [(b"content-length", str(len(response.body)).encode())] + [(b"connection", b"close")] * close
    )


class DevApp:
    """The adapter (ASGI): request, proxy event, one invocation at a time (a one-worker queue), answer."""

    def __init__(
        self, invoker: Invoker, model: ModelWatch | None = None, *, body_timeout: float = BODY_TIMEOUT_SECONDS
    ) -> None:
        self.invoker, self.model, self.body_timeout = invoker, model, body_timeout
        self.invocations = ThreadPoolExecutor(max_workers=1, thread_name_prefix="invocation")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started, request_id = time.perf_counter(), str(uuid.uuid4())
        method, version = scope["method"], scope["http_version"]
        query = scope["query_string"].decode("latin-1")
        target = scope["raw_path"].decode("latin-1") + (f"?{query}" if query else "")
        headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])
        body: bytes | Refusal | None = refusal(method, target, version, headers)
        # A body refused unread is still read after the answer (unless a 100 Continue is awaited): closing
        # with unread input resets the connection, and a client still uploading would lose the answer.
        drain = body in (TOO_LARGE, CHUNKED) and ("expect", "100-continue") not in headers
        if body is None and (body := await self._body(receive, self.body_timeout)) is None:
            return  # the client left
        if isinstance(body, tuple):
            response = apigw_proxy.gateway_response(*body, request_id=request_id)
        else:
            # ASGI's client is None when the peer was gone before uvicorn could ask its address.
            peer = scope["client"][0] if scope.get("client") else UNKNOWN_PEER
            event = apigw_proxy.proxy_event(
                method, target, body, headers=headers, request_id=request_id, stage=STAGE,
                source_ip=peer, protocol=f"HTTP/{version}",
            )  # fmt: skip
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self.invocations, self._invoke, event, request_id)
        log_access(method, target, response, started)
        head = response_head(response, close=isinstance(body, tuple))  # a refused request ends its connection
        await send({"type": "http.response.start", "status": response.status, "headers": head})
        await send({"type": "http.response.body", "body": response.body, "more_body": drain})  # HEAD: dropped
        if drain:  # for DRAIN_SECONDS at most, dropped
            await self._body(receive, DRAIN_SECONDS)
            await send({"type": "http.response.body", "body": b""})

    async def _body(self, receive: Any, seconds: float) -> bytes | Refusal | None:
        """The body, as h11 framed it; a refusal when it is too large (read to its end, kept no further than
        the limit) or too slow; None if the client left."""
        chunks, size, limit = [], 0, contract.EDGE_BODY_LIMIT_BYTES
        try:
            async with asyncio.timeout(seconds):
                while (message := await receive())["type"] != "http.disconnect":  # the first: 100 Continue
                    size += len(chunk := message.get("body", b""))
                    chunks += [chunk] if size < limit else []
                    if not message.get("more_body"):
                        return b"".join(chunks) if size < limit else TOO_LARGE
        except TimeoutError:
            return "bad_request", "The body is shorter than its Content-Length, or too slow to arrive."
        return None

    def _invoke(self, event: dict[str, Any], request_id: str) -> apigw_proxy.HttpResponse:
        if self.model is not None:
            self.model.check()
        return apigw_proxy.map_result(self.invoker.invoke(event, request_id), request_id=request_id)


class DevProtocol(H11Protocol):
    """uvicorn's h11 protocol with the request-head deadline it lacks and its one answer of its own, a 400
    for a head h11 cannot read, in the contract's shape. No parsing, no framing (uvicorn is pinned exactly:
    this leans on its protocol's attributes; tests/integration/test_dev_server.py covers each)."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # The head and the body are two writes: with Nagle's algorithm on, the body of every answer after a
        # connection's first waits for the client's delayed ACK (40 ms). asyncio sets TCP_NODELAY only on
        # sockets whose protocol number is TCP's, and socket.create_server's are 0.
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        """Closes the connection unless a request's head arrives within HEAD_TIMEOUT_SECONDS."""
        if self._deadline is not None:
            self._deadline.cancel()
        armed_with = self.cycle

        def expire() -> None:  # no request has started since (an answered one has completed)
            if self.cycle is armed_with and (armed_with is None or armed_with.response_complete):
                self.transport.close()

        self._deadline = self.loop.call_later(HEAD_TIMEOUT_SECONDS, expire)

    def send_400_response(self, msg: str) -> None:
        if self.cycle is not None:  # a request's body broke the framing: the answer under way goes nowhere
            self.cycle.disconnected = True
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):  # an answer has begun: just close
            self.transport.close()
            say(f"{now()} closed (the body's framing broke after the answer began)")
            return
        answer = apigw_proxy.gateway_response("bad_request", CANNOT_READ, request_id=str(uuid.uuid4()))
        for event in (
            h11.Response(status_code=400, headers=response_head(answer, close=True), reason=b"Bad Request"),
            h11.Data(data=answer.body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()
        say(f"{now()} refused 400 (bad_request: {CANNOT_READ})")


def server(app: DevApp, listening: socket.socket) -> uvicorn.Server:
    """The server for ``app`` on a bound socket; ``.run(sockets=[listening])`` serves until Ctrl-C or SIGTERM
    (in the main thread; elsewhere, until ``should_exit`` is set)."""
    logging.getLogger("uvicorn.error").setLevel(logging.ERROR)  # its own refusal line: ours instead
    return uvicorn.Server(
        uvicorn.Config(
            app,
            http=DevProtocol,
            loop="asyncio",
            ws="none",
            lifespan="off",
            interface="asgi3",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=5,
            h11_max_incomplete_event_size=HEAD_MAX_BYTES,
            timeout_graceful_shutdown=2,
        )
    )


def log_access(method: str, target: str, response: apigw_proxy.HttpResponse, started: float) -> None:
    path = apigw_proxy.request_path(target)
    route = path if path in contract.ROUTE_PATHS else "(not a route)"  # what a caller typed is never printed
    line = f"{now()} {method} {route} {response.status} {(time.perf_counter() - started) * 1000:.1f} ms"
    predictions = route in contract.POST_PATHS and response.status == 200
    if predictions or response.status >= 400:  # what the answer holds, in a few words
        try:
            answer = json.loads(response.body)
            if predictions:
                count = len(
                    answer.get("predictions", answer.get("Response Predict", [answer.get("prediction")]))
                )
                line += f" ({count} prediction{'' if count == 1 else 's'})"
            else:
                code = answer["error"]["code"]
                line += f" ({code if code in contract.ERRORS else 'unknown error code'})"
        except (ValueError, KeyError, TypeError, AttributeError):
            line += " (an answer not in the contract's shape)"
    say(line)
