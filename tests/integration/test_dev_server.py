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

from model import contract
from scripts.dev.server import DevServer


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

    def start(result: Any = OK) -> tuple[http.client.HTTPConnection, RecordingInvoker]:
        invoker = RecordingInvoker(result)
        server = DevServer(("127.0.0.1", 0), invoker)
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
