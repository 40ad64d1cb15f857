"""The development server's HTTP side over loopback: request framing, limits and keep-alive, around an
invoker that records the events it receives (the real handler behind it is the end-to-end suite's)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from model.core import contract
from scripts.dev.http_gateway import DevServer


class RecordingInvoker:
    def __init__(self, result: Any) -> None:
        self.result = result
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        self.events.append(event)
        return self.result

    def close(self) -> None:
        return None


OK: dict[str, Any] = {
    "statusCode": 200,
    "headers": {"Content-Type": "application/json"},
    "body": '{"status":"ok"}',
}


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[DevServer] = []

    def start(
        result: Any = OK, *, body_timeout: float | None = None
    ) -> tuple[http.client.HTTPConnection, RecordingInvoker]:
        invoker = RecordingInvoker(result)
        server = DevServer(("127.0.0.1", 0), invoker)
        if body_timeout is not None:
            server.body_timeout = body_timeout
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        host, port = server.server_address[:2]
        return http.client.HTTPConnection(str(host), port, timeout=10), invoker

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


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
    assert event["headers"]["X-Trace"] == "t1"


def test_connection_is_kept_alive_between_requests(serve):
    conn, invoker = serve()
    for _ in range(3):
        conn.request("POST", "/v1/predict", body=b'{"bmi": 30}', headers={"Content-Type": "application/json"})
        assert conn.getresponse().read() == b'{"status":"ok"}'
    assert [e["body"] for e in invoker.events] == ['{"bmi": 30}'] * 3


def test_body_just_under_the_edge_limit_is_accepted(serve):
    conn, invoker = serve()
    size = contract.EDGE_BODY_LIMIT_BYTES - 1
    conn.request("POST", "/v1/predict/batch", body=b"x" * size)
    assert conn.getresponse().status == 200
    assert invoker.events[0]["body"] == "x" * size


def test_body_over_the_limit_is_refused_before_it_is_read(serve):
    conn, invoker = serve()
    # Only the headers are sent: the answer must not wait for a body that never comes.
    conn.putrequest("POST", "/v1/predict/batch")
    conn.putheader("Content-Length", str(contract.EDGE_BODY_LIMIT_BYTES))
    conn.endheaders()
    response = conn.getresponse()
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
        return response.status, dict(response.getheaders()), response.read()


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
    assert _bad_request_message(body) == "Invalid Content-Length header"
    assert headers["Connection"] == "close"
    assert invoker.events == []


def test_content_length_headers_that_disagree_are_a_400(serve):
    conn, invoker = serve()
    request = b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
    status, _, _ = _send_raw(conn.port, request)
    assert status == 400
    assert invoker.events == []


def test_a_content_length_too_long_to_parse_is_still_refused_as_too_large(serve):
    conn, invoker = serve()
    request = b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    status, _, _ = _send_raw(conn.port, request)
    assert status == 413
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
    assert headers["Connection"] == "close"
    assert invoker.events == []


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
    headers = dict(line.split(": ", 1) for line in header_lines)
    return status_line, headers, body


SECRET = "patient-27.3"  # a value that must never be echoed or printed


@pytest.mark.parametrize(
    ("request_bytes", "message"),
    [
        (b"GET /health\r\n", "HTTP/0.9 is not served: send HTTP/1.1."),
        (f"{SECRET}\r\n\r\n".encode(), "The request line or headers cannot be read."),
        (f"GET /health HTTP/1.{SECRET}\r\n\r\n".encode(), "The request line or headers cannot be read."),
        (b"GET /health HTTP/2.0\r\n\r\n", "Only HTTP/1.0 and HTTP/1.1 are served."),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", "The request line is too long."),
        (
            b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
            "The request headers are too large.",
        ),
        (
            f"G\x01T /health HTTP/1.1\r\nX: {SECRET}\r\n\r\n".encode(),
            "The request method is not an HTTP method.",
        ),
    ],
    ids=["http-0.9", "one-word", "bad-version", "http-2", "long-line", "long-header", "control-in-method"],
)
def test_what_http_server_refuses_is_a_400_in_the_error_shape_with_a_status_line(
    serve, capsys, request_bytes, message
):
    conn, invoker = serve()
    status_line, headers, body = _parse(_raw_exchange(conn.port, request_bytes))
    assert status_line == "HTTP/1.1 400 Bad Request"
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    assert json.loads(body) == {"error": {"code": "bad_request", "message": message, "details": []}}
    assert invoker.events == []
    log = capsys.readouterr().err
    assert message in log
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
    assert headers["Connection"] == "close"
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
