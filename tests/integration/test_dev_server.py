"""The development server's HTTP side over loopback, on uvicorn: request framing, limits, deadlines,
keep-alive and queueing, around an invoker that records the events it receives (the real handler behind it
is the end-to-end suite's). Raw sockets send what no well-behaved client library would."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from model.core import contract
from scripts.dev import http_gateway
from scripts.dev.http_gateway import CANNOT_READ, DevApp, server
from scripts.dev.server import listen


class RecordingInvoker:
    """Answers ``result`` after ``seconds``, recording each event and how many invocations overlapped."""

    def __init__(self, result: Any, seconds: float = 0.0) -> None:
        self.result, self.seconds = result, seconds
        self.events: list[dict[str, Any]] = []
        self.running = self.most_at_once = 0

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.seconds)
        self.events.append(event)
        self.running -= 1
        return self.result

    def close(self) -> None:
        return None


OK: dict[str, Any] = {
    "statusCode": 200,
    "headers": {"Content-Type": "application/json"},
    "body": '{"status":"ok"}',
}


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Starts the development server's HTTP side in a thread, on a free port, with a short request-head
    deadline (1 s); gives a client connection and the recording invoker."""
    monkeypatch.setattr(http_gateway, "HEAD_TIMEOUT_SECONDS", 1.0)
    running: list[tuple[Any, threading.Thread, socket.socket]] = []

    def start(
        result: Any = OK, *, body_timeout: float = 10.0, seconds: float = 0.0
    ) -> tuple[http.client.HTTPConnection, RecordingInvoker]:
        invoker = RecordingInvoker(result, seconds)
        listening = listen("127.0.0.1", 0)
        served = server(DevApp(invoker, body_timeout=body_timeout), listening)
        thread = threading.Thread(target=served.run, kwargs={"sockets": [listening]}, daemon=True)
        thread.start()
        while not served.started:
            time.sleep(0.01)
        running.append((served, thread, listening))
        conn = http.client.HTTPConnection("127.0.0.1", listening.getsockname()[1], timeout=10)
        conn.served = served  # type: ignore[attr-defined]
        return conn, invoker

    yield start
    for served, thread, listening in running:
        served.should_exit = True
        thread.join(10)
        listening.close()


def test_request_reaches_the_function_as_a_proxy_event(serve):
    conn, invoker = serve()
    conn.request("GET", "/health?verbose=1", headers={"X-Trace": "t1"})
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.read()) == {"status": "ok"}
    assert response.getheader("x-amzn-RequestId") == invoker.events[0]["requestContext"]["requestId"]
    (event,) = invoker.events
    assert event["httpMethod"] == "GET"
    assert event["path"] == "/health"
    assert event["queryStringParameters"] == {"verbose": "1"}
    assert event["headers"]["x-trace"] == "t1"  # h11 gives names in lower case; the function reads any case


def test_connection_is_kept_alive_between_requests(serve):
    conn, invoker = serve()
    for _ in range(3):
        conn.request("POST", "/v1/predict", body=b'{"bmi": 30}', headers={"Content-Type": "application/json"})
        assert conn.getresponse().read() == b'{"status":"ok"}'
    assert [e["body"] for e in invoker.events] == ['{"bmi": 30}'] * 3


def test_answers_are_sent_without_waiting_for_the_clients_ack(serve):
    """Nagle's algorithm off on every connection: with it on, each keep-alive answer's body (a second write)
    waited 40 ms for the client's delayed ACK (docs/benchmarks.md, Load)."""
    conn, _ = serve()
    conn.request("GET", "/health")
    conn.getresponse().read()
    (connection,) = conn.served.server_state.connections
    assert connection.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest.mark.parametrize("target", ["//[/health", "//x/v1/predict/batch", "//health"])
def test_a_target_starting_with_two_slashes_reaches_the_function_as_that_path(serve, target):
    conn, invoker = serve()
    conn.request("GET", target)
    assert conn.getresponse().status == 200  # the recording invoker's answer: no adapter error
    assert invoker.events[0]["path"] == target


def test_a_request_whose_peer_address_is_unknown_is_still_served():
    # ASGI gives no client when the peer reset before its address was read: answered, not a TypeError
    invoker, sent = RecordingInvoker(OK), []
    scope: dict[str, Any] = {
        "method": "GET",
        "http_version": "1.1",
        "query_string": b"",
        "raw_path": b"/health",
        "headers": [],
        "client": None,
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(DevApp(invoker)(scope, receive, send))
    assert sent[0]["status"] == 200
    assert invoker.events[0]["requestContext"]["identity"]["sourceIp"] == http_gateway.UNKNOWN_PEER


def test_body_just_under_the_edge_limit_is_accepted(serve):
    conn, invoker = serve()
    size = contract.EDGE_BODY_LIMIT_BYTES - 1
    conn.request("POST", "/v1/predict/batch", body=b"x" * size)
    assert conn.getresponse().status == 200
    assert invoker.events[0]["body"] == "x" * size


def test_body_over_the_limit_is_refused_before_it_is_read(serve):
    conn, invoker = serve()
    # Only the headers are sent: the answer must not wait for a body that never comes.
    started = time.monotonic()
    conn.putrequest("POST", "/v1/predict/batch")
    conn.putheader("Content-Length", str(contract.EDGE_BODY_LIMIT_BYTES))
    conn.endheaders()
    response = conn.getresponse()
    assert time.monotonic() - started < 1
    assert response.status == 413
    assert json.loads(response.read()) == {
        "error": {"code": "payload_too_large", "message": "Request Too Long", "details": []}
    }
    assert response.getheader("Connection") == "close"
    conn.close()
    assert invoker.events == []


def _send_raw(server_port: int, request: bytes) -> tuple[int, dict[str, Any], bytes]:
    """Sends bytes no well-behaved client library would send; returns status, headers and body."""
    with socket.create_connection(("127.0.0.1", server_port), timeout=10) as raw:
        raw.sendall(request)
        response = http.client.HTTPResponse(raw)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _bad_request_message(body: bytes) -> str:
    """The message of a 400 in the error shape the stage's gateway responses give it."""
    error = json.loads(body)["error"]
    assert (error["code"], error["details"]) == ("bad_request", [])
    message: str = error["message"]
    return message


@pytest.mark.parametrize(
    "content_length",
    ["abc", "-1", "+5", "0x10", "1.5", "\u00b2", "5, 6"],
    ids=["letters", "negative", "signed", "hex", "fraction", "superscript-digit", "list"],
)
def test_invalid_content_length_is_a_400_and_the_connection_closes(serve, content_length):
    conn, invoker = serve()
    request = f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: {content_length}\r\n\r\n".encode(
        "latin-1"
    )
    status, headers, body = _send_raw(conn.port, request)
    assert status == 400
    assert _bad_request_message(body) == CANNOT_READ
    assert headers["connection"] == "close"
    assert invoker.events == []


def test_content_length_headers_that_disagree_are_a_400(serve):
    conn, invoker = serve()
    request = b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
    status, _, _ = _send_raw(conn.port, request)
    assert status == 400
    assert invoker.events == []


def test_a_content_length_too_long_to_parse_is_refused(serve):
    conn, invoker = serve()
    request = b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    status, _, _ = _send_raw(conn.port, request)
    assert status == 400
    assert invoker.events == []


def test_leading_zeros_in_content_length_frame_the_body_they_declare(serve):
    conn, invoker = serve()
    request = b'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 0011\r\n\r\n{"bmi": 30}'
    status, _, _ = _send_raw(conn.port, request)
    assert status == 200
    assert invoker.events[0]["body"] == '{"bmi": 30}'


def test_a_chunked_body_is_asked_for_a_content_length(serve):
    conn, invoker = serve()
    request = (
        b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    status, headers, body = _send_raw(conn.port, request)
    assert status == 411
    assert json.loads(body)["error"]["code"] == "length_required"
    assert headers["connection"] == "close"
    assert invoker.events == []


@pytest.mark.parametrize("pause", [0.0, 0.3], ids=["one write", "head, then the broken chunk"])
def test_a_chunked_body_with_broken_framing_is_refused_with_no_error_logged(serve, caplog, pause):
    # h11 refuses the chunk while the adapter answers the head (411): one answer or a close, nothing raised
    conn, _ = serve()
    head = b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    broken = b"zz\r\nabc\r\n0\r\n\r\n"  # "zz" is no chunk size
    with (
        caplog.at_level(logging.ERROR),
        socket.create_connection(("127.0.0.1", conn.port), timeout=10) as raw,
    ):
        for part in (head, broken) if pause else (head + broken,):
            raw.sendall(part)
            time.sleep(pause)
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
        time.sleep(0.2)  # the adapter's own answer, which now goes nowhere, comes after the close
    assert received.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 411 "))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_head_response_has_headers_but_no_body(serve):
    conn, _ = serve()
    conn.request("HEAD", "/health")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(b'{"status":"ok"}'))
    assert response.read() == b""


def test_failed_invocation_is_a_502(serve):
    conn, _ = serve(result=None)
    conn.request("GET", "/health")
    response = conn.getresponse()
    assert response.status == 502
    assert json.loads(response.read()) == {
        "error": {"code": "bad_gateway", "message": "Internal server error", "details": []}
    }


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PURGE"])
def test_every_method_reaches_the_function_like_an_any_method(serve, method):
    conn, invoker = serve()
    conn.request(method, "/health")
    assert conn.getresponse().status == 200
    assert invoker.events[0]["httpMethod"] == method


# --- Protocol errors: the contract's error shape, bounded waits, a terminal log that prints no request value


def _raw_exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Sends ``request`` and returns everything the server writes until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        raw.sendall(request)
        raw.shutdown(socket.SHUT_WR)  # nothing more to send: the server need not wait to drain
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
        return received


def _parse(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in header_lines)}
    return status_line, headers, body


SECRET = "patient-27.3"  # a value that must never be echoed or printed


HOST = b"Host: x\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "message"),
    [
        (f"{SECRET}\r\n\r\n".encode(), CANNOT_READ),
        (f"GET /health HTTP/1.{SECRET}\r\n\r\n".encode(), CANNOT_READ),
        (b"GET /health HTTP/2.0\r\n" + HOST + b"\r\n", "Only HTTP/1.0 and HTTP/1.1 are served."),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "Only HTTP/1.0 and HTTP/1.1 are served."),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", CANNOT_READ),
        (b"GET /health HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n", CANNOT_READ),
        (f"G\x01T /health HTTP/1.1\r\nX: {SECRET}\r\n\r\n".encode(), CANNOT_READ),
        # A header line without a colon ends nothing: the head cannot be read (it was read as a body)
        (b"POST /v1/predict HTTP/1.1\r\n" + HOST + b"Oops\r\nContent-Length: 2\r\n\r\n{}", CANNOT_READ),
        # Whitespace before the colon: a framing header nobody may half-read (RFC 9112 §5.1)
        (
            b"POST /v1/predict HTTP/1.1\r\n"
            + HOST
            + b"Transfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\n{}",
            CANNOT_READ,
        ),
        (b"GET /health HTTP/1.1\r\n" + HOST + b"X: a\x00b\r\n\r\n", CANNOT_READ),
        (
            b"GET /health HTTP/1.1\r\n" + HOST + b"X: a\x1b[2Jb\r\n\r\n",
            "A header value holds a control character.",
        ),
        (b"GET /health HTTP/1.1\r\n\r\n", CANNOT_READ),  # no Host
        (b"GET /health HTTP/1.1\r\n" + HOST + HOST + b"\r\n", CANNOT_READ),  # two
        (b"GET %2Fhealth HTTP/1.1\r\n" + HOST + b"\r\n", "The request target must be a path (start with /)."),
        (b"GET * HTTP/1.1\r\n" + HOST + b"\r\n", "The request target must be a path (start with /)."),
        (
            b"GET http://x/health HTTP/1.1\r\n" + HOST + b"\r\n",
            "The request target must be a path (start with /).",
        ),
    ],
    ids=[
        "one-word",
        "bad-version",
        "http-2",
        "h2-preface",
        "long-line",
        "long-header",
        "control-in-method",
        "line-without-colon",
        "space-before-colon",
        "nul-in-value",
        "escape-in-value",
        "no-host",
        "two-hosts",
        "escaped-slash-target",
        "asterisk-target",
        "absolute-target",
    ],
)
def test_what_the_stage_would_not_read_is_a_400_in_the_error_shape_and_the_connection_closes(
    serve, capsys, request_bytes, message
):
    conn, invoker = serve()
    status_line, headers, body = _parse(_raw_exchange(conn.port, request_bytes))
    assert status_line == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert json.loads(body) == {"error": {"code": "bad_request", "message": message, "details": []}}
    assert invoker.events == []
    log = capsys.readouterr().err
    assert " 400" in log
    assert "bad_request" in log
    assert SECRET not in log


def test_content_length_with_transfer_encoding_is_a_400_and_the_connection_closes(serve):
    # RFC 9112 §6.1: the two framings disagree about where the body ends (request smuggling)
    conn, invoker = serve()
    request = (
        b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /health HTTP/1.1\r\n\r\n"
    )
    raw = _raw_exchange(conn.port, request)
    status_line, headers, body = _parse(raw)
    assert status_line == "HTTP/1.1 400 Bad Request"
    assert headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == "bad_request"
    assert raw.count(b"HTTP/1.1 ") == 1  # the smuggled request is never answered
    assert invoker.events == []


def test_a_body_shorter_than_its_content_length_is_refused_once_the_body_timeout_passes(serve):
    # Given a server that waits at most half a second for a body
    conn, invoker = serve(body_timeout=0.5)
    # When a client declares 100 bytes, sends 10 and then waits without closing
    with socket.create_connection(("127.0.0.1", conn.port), timeout=10) as raw:
        raw.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        response = http.client.HTTPResponse(raw)
        response.begin()
        # Then it gets a 400 in the error shape instead of a connection that hangs
        assert response.status == 400
        assert json.loads(response.read())["error"]["code"] == "bad_request"
        assert response.getheader("Connection") == "close"
    assert invoker.events == []


def test_the_access_log_is_one_line_per_request_without_request_values(serve, capsys):
    conn, _ = serve(
        {"statusCode": 200, "body": json.dumps({"predictions": [1.0, 2.0, 3.0]})},
    )
    conn.request("POST", "/v1/predict/batch?note=" + SECRET, body=json.dumps({"bmi": [SECRET]}))
    conn.getresponse().read()
    conn.request("GET", f"/{SECRET}/\x1b[31m".replace("\x1b", "%1B"))
    conn.getresponse().read()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[1:4] == ["POST", "/v1/predict/batch", "200"]
    assert lines[0].endswith("ms (3 predictions)")
    assert lines[1].split()[1:5] == ["GET", "(not", "a", "route)"]
    assert SECRET not in "\n".join(lines)
    assert "\x1b" not in "\n".join(lines)


# --- Deadlines, 100 Continue, and a burst: uvicorn's queue and the adapter's one invocation at a time ------
def test_a_request_head_trickled_or_never_sent_is_closed_at_its_deadline_and_holds_no_one(serve):
    conn, invoker = serve()  # the head deadline: 1 s here
    with (
        socket.create_connection(("127.0.0.1", conn.port), timeout=10) as silent,
        socket.create_connection(("127.0.0.1", conn.port), timeout=10) as trickling,
    ):
        started = time.monotonic()
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ":
            trickling.sendall(bytes([byte]))
            time.sleep(0.02)
        conn.request("GET", "/health")  # another client, meanwhile: answered at once
        assert conn.getresponse().status == 200
        for client in (silent, trickling):
            while True:
                try:
                    if client.recv(1) == b"":
                        break
                    client.sendall(b"y")
                except OSError:  # reset: closed too
                    break
        assert time.monotonic() - started < 5
    assert len(invoker.events) == 1


def test_100_continue_comes_only_for_a_body_that_will_be_read(serve):
    conn, invoker = serve()
    head = b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
    with socket.create_connection(("127.0.0.1", conn.port), timeout=10) as raw:
        raw.sendall(head + str(contract.EDGE_BODY_LIMIT_BYTES).encode() + b"\r\n\r\n")
        first = raw.recv(65536)
        assert first.startswith(b"HTTP/1.1 413 ")  # refused first: no 100 Continue invited the upload
    with socket.create_connection(("127.0.0.1", conn.port), timeout=10) as raw:
        raw.sendall(head + b"2\r\n\r\n")
        assert raw.recv(65536).startswith(b"HTTP/1.1 100 ")
        raw.sendall(b"{}")
        assert raw.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert [event["body"] for event in invoker.events] == ["{}"]


def test_a_hundred_simultaneous_requests_are_all_answered_one_invocation_at_a_time(serve):
    # Given a function that takes 5 ms per invocation, and 100 clients connecting at the same moment
    conn, invoker = serve(seconds=0.005)
    ready = threading.Barrier(100)

    def one_request(_: int) -> tuple[bytes, float]:
        ready.wait()
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", conn.port), timeout=30) as raw:
            connected = time.monotonic() - started
            raw.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := raw.recv(65536):  # a reset raises here
                answer += chunk
        return answer.split(b" ", 2)[1], connected

    with ThreadPoolExecutor(max_workers=100) as clients:
        results = list(clients.map(one_request, range(100)))
    # Then every one is answered (none reset, none stalled in a full backlog), the invocations queued
    assert [status for status, _ in results] == [b"200"] * 100
    assert max(connected for _, connected in results) < 0.5  # a SYN dropped by a full backlog waits 1 s
    assert len(invoker.events) == 100
    assert invoker.most_at_once == 1


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_client_still_uploading_a_refused_body_gets_its_answer_not_a_reset(serve, framing):
    conn, invoker = serve()
    body = b"x" * contract.EDGE_BODY_LIMIT_BYTES
    if framing == "chunked":
        conn.request("POST", "/v1/predict/batch", body=iter([body[:65536]] * 40))  # http.client: chunked
    else:
        conn.request("POST", "/v1/predict/batch", body=body)  # sent whole before the answer is read
    response = conn.getresponse()
    assert response.status == (411 if framing == "chunked" else 413)
    assert response.getheader("Connection") == "close"
    assert invoker.events == []
