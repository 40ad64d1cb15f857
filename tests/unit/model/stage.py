"""A stage stand-in on loopback that answers from a script, kind or hostile, over a real socket: for the
client's and ``call``'s tests. Each step of the script answers one request:

- ``(status, body)`` or ``(status, body, headers)``: a well-formed answer (``body`` bytes, or JSON);
- ``bytes``: written as they are, then the connection is closed (malformed answers);
- a callable: given the connection's socket, it does what it likes (trickle, stall, close at once).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any, NamedTuple


class Received(NamedTuple):
    method: str
    target: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Stage(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *script: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.received: list[Received] = []

    def start(self) -> Stage:
        Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Stage

    def answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append(Received(self.command, self.path, headers, body))
        step = self.server.script.pop(0)
        if callable(step) or isinstance(step, bytes):
            self.close_connection = True
            self.wfile.flush()
            step(self.connection) if callable(step) else self.connection.sendall(step)
            return
        status, content, extra = step if len(step) == 3 else (*step, {})
        raw = content if isinstance(content, bytes) else json.dumps(content).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **extra}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_HEAD = do_PUT = answer  # noqa: N815  (http.server's names)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def trickle(head: bytes, rest: bytes, every: float) -> Callable[[socket.socket], None]:
    """Sends ``head`` at once, then ``rest`` one byte every ``every`` seconds until the client leaves."""

    def send(connection: socket.socket) -> None:
        connection.sendall(head)
        try:
            for byte in rest:
                time.sleep(every)
                connection.sendall(bytes([byte]))
        except OSError:
            return

    return send


def stall(seconds: float) -> Callable[[socket.socket], None]:
    return lambda _connection: time.sleep(seconds)


def hang_up(_connection: socket.socket) -> None:
    """Closes the connection without a word: RemoteDisconnected, as a proxy's idle close looks."""
