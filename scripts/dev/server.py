"""Development server: serves the function over HTTP the way API Gateway (REST, Lambda proxy) would.

A development tool, not a production server. Each request becomes a proxy event (``apigw_proxy``) for the
real entry point, ``contract.HANDLER``: imported in this process, or with ``--rie`` run under the real Lambda
Runtime Interface Emulator from the image-equivalent directory (``rie``), so that init errors, logs and
timings show as on Lambda. One invocation at a time, as in one execution environment.

What it prints: the served model and its artifact at start, then one line per request (method, route,
status, duration, predictions); the function's JSON logs and EMF metrics only with ``--json-logs``. A
retrained artifact is noticed on the next request (one ``stat`` per request): in-process, the function is
imported again with it (a new cold start, as a new deployment would give); under ``--rie`` it says that a
restart is needed. Protocol errors (framing, limits, timeouts) are answered in the contract's error shape;
what it logs is bounded, escaped, and never a request's body, query or an unknown path.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import io
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Final, Protocol
from urllib.parse import unquote, urlsplit

from infra_cdk.settings import stage_named
from model.core import contract
from model.core.artifact import ArtifactError
from model.core.serving import load_artifact, served_artifact_path
from scripts.dev import apigw_proxy
from scripts.dev.apigw_proxy import HttpResponse

STAGE: Final = "local"
FUNCTION_NAME: Final = f"{contract.SERVICE_NAME}-{STAGE}"
# The function's configuration as deployed to Staging (under --rie, the emulator enforces its timeout).
DEPLOYED: Final = stage_named("Staging")
DRAIN_TIMEOUT_SECONDS: Final = 2.0
DRAIN_MAX_BYTES: Final = 64 * 1024 * 1024
IDLE_TIMEOUT_SECONDS: Final = 60.0  # a request line or header line that does not arrive; an idle keep-alive
BODY_TIMEOUT_SECONDS: Final = 10.0  # the whole body, however slowly it trickles in
LOG_FIELD_MAX: Final = 200
_DIGITS: Final = re.compile(r"[0-9]+")
# What http.server refuses on its own, answered in the contract's shape with our words, never its
# messages (they quote the request line).
_PROTOCOL_ERRORS: Final = {
    414: "The request line is too long.",
    431: "The request headers are too large.",
    505: "Only HTTP/1.0 and HTTP/1.1 are served.",
}
_CANNOT_READ: Final = "The request line or headers cannot be read."


def say(line: str) -> None:
    """One line for the person at the terminal (stderr: stdout is the function's, under --json-logs)."""
    print(line, file=sys.stderr, flush=True)


def printable(text: str, limit: int = LOG_FIELD_MAX) -> str:
    """``text`` safe for a terminal: control characters escaped, at most ``limit`` characters."""
    escaped = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return escaped if len(escaped) <= limit else f"{escaped[: limit - 1]}…"


class Invoker(Protocol):
    """Runs one event through the function and returns its decoded result (``None`` if it failed)."""

    def invoke(self, event: dict[str, Any], request_id: str) -> Any: ...

    def close(self) -> None: ...


def function_environment() -> dict[str, str]:
    """The variables the infrastructure gives the function, with local values (each overridable from this
    process's environment, e.g. ``POWERTOOLS_LOG_LEVEL=DEBUG``)."""
    defaults = contract.function_environment(stage=STAGE, log_level=DEPLOYED.log_level)
    return {name: os.environ.get(name) or value for name, value in defaults.items()}


class LocalContext:
    """The Lambda context object: the fields the function and Powertools read, with local values."""

    def __init__(self, request_id: str) -> None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.aws_request_id = request_id
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{apigw_proxy.LOCAL_ACCOUNT_ID}:function:{FUNCTION_NAME}"
        )
        self.function_name = FUNCTION_NAME
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = str(DEPLOYED.memory_mb)
        self.log_group_name = f"/aws/lambda/{FUNCTION_NAME}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + DEPLOYED.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


class InProcessInvoker:
    """Imports the handler (the init phase) and calls it directly, one event at a time. Without
    ``json_logs``, what the function writes to stdout (its JSON logs, EMF metrics) is dropped."""

    def __init__(self, *, json_logs: bool = True) -> None:
        os.environ.update(function_environment())
        self._sink = None if json_logs else _Discard()
        self._module_name, _, self._function_name = contract.HANDLER.rpartition(".")
        self._lock = threading.Lock()
        self._handler = self._import()

    def _output(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext() if self._sink is None else contextlib.redirect_stdout(self._sink)

    def _import(self) -> Any:
        # Powertools' Logger keeps the stream that is sys.stdout when it is created: during this import.
        with self._output():
            return getattr(importlib.import_module(self._module_name), self._function_name)

    def reload(self) -> str:
        """Imports the handler again (a new cold start, with the artifact as it is now) and returns the
        model version it serves; on failure the previous handler stays and the error propagates."""
        with self._lock:
            previous = sys.modules.pop(self._module_name)
            try:
                self._handler = self._import()
            except BaseException:
                sys.modules[self._module_name] = previous
                raise
            return str(sys.modules[self._module_name].VERSION)

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        with self._lock, self._output():
            try:
                return self._handler(event, LocalContext(request_id))
            except Exception as exc:  # an unhandled function error: API Gateway answers 502
                say(f"[dev-server] function error: {type(exc).__name__}: {printable(str(exc))}")
                return None

    def close(self) -> None:
        return None


class ModelWatch:
    """The served artifact: a retrained file is noticed on the next request (one ``stat``), then the
    function is reloaded with it (``reload`` returns the version now served) or, without ``reload``, one
    line says that a restart is needed. An artifact that cannot be served is never loaded."""

    def __init__(self, path: Path, version: str, reload: Callable[[], str] | None) -> None:
        self.path, self.version, self._reload = path, version, reload
        self._signature = _signature(path)
        self._lock = threading.Lock()

    def check(self) -> None:
        if _signature(self.path) == self._signature:
            return
        with self._lock:
            signature = _signature(self.path)
            if signature == self._signature:
                return  # another request handled this change
            self._signature = signature
            try:
                version = load_artifact(self.path).model_version
            except ArtifactError as error:
                say(
                    f"{_now()} the model artifact changed and cannot be served "
                    f"({printable(str(error))}); still serving {self.version}"
                )
                return
            if version == self.version:
                return  # the same model, written again
            if self._reload is None:
                say(
                    f"{_now()} {self.path} now holds {version}: restart ./scripts/serve --rie to "
                    f"serve it (still serving {self.version})"
                )
                return
            try:
                self.version = self._reload()
            except Exception as error:
                say(
                    f"{_now()} reloading the function failed ({type(error).__name__}); "
                    f"still serving {self.version}"
                )
                return
            say(f"{_now()} model reloaded from {self.path}: now serving {self.version}")


def _signature(path: Path) -> tuple[int, ...] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns


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
        say(f"{_now()} refused 400 (bad_request: {message})")
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
        line = f"{_now()} {self.command} {route} {response.status} {elapsed:.1f} ms"
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


def _now() -> str:
    return time.strftime("%H:%M:%S")


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


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # same clean shutdown as Ctrl-C


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.dev.server",
        description="Serves the prediction function locally over HTTP, as API Gateway would (what "
        "./scripts/serve runs once it has set up and trained). A development server, not production.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    parser.add_argument("--port", type=_port, default=3000, help="port to bind (default 3000; 0: any free)")
    parser.add_argument(
        "--json-logs", action="store_true", help="show the function's JSON logs and EMF metrics too"
    )
    parser.add_argument(
        "--rie", action="store_true", help="run the function under the Lambda Runtime Interface Emulator"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = served_artifact_path().resolve()
    try:
        version = load_artifact(path).model_version
    except ArtifactError as error:
        say(f"serve: the model artifact cannot be served: {printable(str(error), 500)}")
        return 1
    invoker: Invoker
    reload: Callable[[], str] | None
    if args.rie:
        from scripts.dev.rie import RieInvoker  # builds the image-equivalent directory: only when asked

        lambda_env = {
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(DEPLOYED.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(DEPLOYED.timeout_seconds),
        }
        invoker = RieInvoker({**lambda_env, **function_environment()}, artifact=path)
        reload = None
    else:
        invoker = in_process = InProcessInvoker(json_logs=args.json_logs)
        reload = in_process.reload
    # Explicit, because a shell starting the server in the background would leave SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        with _listening(args.host, args.port, invoker, ModelWatch(path, version, reload)) as server:
            print(f"Model {version} from {path}", flush=True)
            # The next line is machine-read by the end-to-end suite: keep its shape.
            print(f"Serving {contract.SERVICE_NAME} on {server.url}", flush=True)
            print(f"API docs: {server.url}/docs  (Ctrl-C to stop)", flush=True)
            if not args.json_logs and not args.rie:
                say("One line per request; --json-logs also shows the function's JSON logs and metrics.")
            server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.", flush=True)
    except _CannotListenError as error:
        say(str(error))
        return 1
    finally:
        invoker.close()
    return 0


class _CannotListenError(Exception):
    pass


@contextlib.contextmanager
def _listening(host: str, port: int, invoker: Invoker, model: ModelWatch) -> Iterator[DevServer]:
    """The bound server; a port that cannot be had is one line saying which and what to do."""
    try:
        server = DevServer((host, port), invoker, model=model)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            message = f"port {port} is already in use on {host}: serve on another with --port N (or PORT=N)"
        elif error.errno == errno.EACCES:
            message = f"port {port} needs privileges on this system: use --port 1024 or above"
        else:
            message = f"cannot listen on {host}:{port}: {error.strerror or error}"
        raise _CannotListenError(f"serve: {message}") from None
    with server:
        yield server


if __name__ == "__main__":
    sys.exit(main())
