"""Development server: serves the function over HTTP the way API Gateway (REST, Lambda proxy) would.

A development tool, not a production server. Each request becomes a proxy event (:mod:`.apigw_proxy`) for
the real entry point, ``contract.HANDLER``: imported in this process, or with ``--rie`` run under the real
Lambda Runtime Interface Emulator from the image-equivalent directory (:mod:`.rie`), so that init errors, logs
and timings show as on Lambda. One invocation at a time, as in one execution environment.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, Final, Protocol

from infra_cdk.settings import stage_named
from model import contract
from scripts.dev import apigw_proxy
from scripts.dev.apigw_proxy import HttpResponse
from scripts.dev.image_root import dockerfile_env

STAGE: Final = "local"
FUNCTION_NAME: Final = f"{contract.SERVICE_NAME}-{STAGE}"
# The function's configuration as deployed to Staging (under --rie, the emulator enforces its timeout).
DEPLOYED: Final = stage_named("Staging")
DRAIN_TIMEOUT_SECONDS: Final = 2.0
DRAIN_MAX_BYTES: Final = 64 * 1024 * 1024
_DIGITS: Final = re.compile(r"[0-9]+")


class Invoker(Protocol):
    """Runs one event through the function and returns its decoded result (``None`` if it failed)."""

    def invoke(self, event: dict[str, Any], request_id: str) -> Any: ...

    def close(self) -> None: ...


def function_environment() -> dict[str, str]:
    """The variables the infrastructure gives the function, with local values (each overridable from this
    process's environment, e.g. ``POWERTOOLS_LOG_LEVEL=DEBUG``)."""
    defaults = contract.function_environment(stage=STAGE, log_level=DEPLOYED.log_level)
    return {name: os.environ.get(name) or value for name, value in defaults.items()}


class InProcessInvoker:
    """Imports the handler once (the init phase) and calls it directly, one event at a time."""

    def __init__(self) -> None:
        # The image's ENV; configured variables win, as on Lambda.
        for name, value in dockerfile_env().items():
            os.environ.setdefault(name, value)
        os.environ.update(function_environment())
        module, _, name = contract.HANDLER.rpartition(".")
        self._handler = getattr(importlib.import_module(module), name)
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        from awslambdaric.lambda_context import LambdaContext  # the runtime's own context class

        deadline_ms = int(time.time() * 1000) + DEPLOYED.timeout_seconds * 1000
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        arn = f"arn:aws:lambda:{region}:{apigw_proxy.LOCAL_ACCOUNT_ID}:function:{FUNCTION_NAME}"
        context = LambdaContext(request_id, None, None, deadline_ms, arn)
        context.function_name = FUNCTION_NAME
        context.function_version = "$LATEST"
        context.memory_limit_in_mb = str(DEPLOYED.memory_mb)
        context.log_group_name = f"/aws/lambda/{FUNCTION_NAME}"
        context.log_stream_name = "local"
        with self._lock:
            try:
                return self._handler(event, context)
            except Exception as exc:  # an unhandled function error: API Gateway answers 502
                print(f"[dev-server] function error: {type(exc).__name__}: {exc}", file=sys.stderr)
                return None

    def close(self) -> None:
        return None


class DevRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway offers
    server_version = "dev-server"
    sys_version = ""
    # Headers and body are written separately: with Nagle's algorithm on, the body would wait for the
    # client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: DevServer

    def _serve(self) -> None:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        response = self._respond_to(request_id)
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
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.log_message('"%s %s" %d %.1f ms', self.command, self.path, response.status, elapsed_ms)

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
        result = self.server.invoker.invoke(event, request_id)
        return apigw_proxy.map_result(result, request_id=request_id)

    def _read_body(self) -> bytes | tuple[str, str]:
        """The request body, or the error code and message the deployed stage would refuse it with: 413
        for a declared length its web ACL blocks, 400 for framing that cannot be read. A development server
        need not decode chunked bodies: it asks for a Content-Length (411)."""
        if self.headers.get("Transfer-Encoding"):
            return "length_required", "Send the body with a Content-Length."
        declared = {value.strip() for value in self.headers.get_all("Content-Length", [])}
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
        return self.rfile.read(int(significant))

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

    def __getattr__(self, name: str) -> Any:
        # http.server dispatches on do_<METHOD>; the stage's ANY methods forward every method to the
        # function, which answers 405 with Allow itself.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None  # _serve logs one line per request, with its duration

    def log_message(self, format: str, *args: Any) -> None:
        print(f"[dev-server] {format % args}", file=sys.stderr, flush=True)


class DevServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], invoker: Invoker) -> None:
        super().__init__(address, DevRequestHandler)
        self.invoker = invoker

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # same clean shutdown as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=3000, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--rie", action="store_true", help="run the function under the Lambda Runtime Interface Emulator"
    )
    args = parser.parse_args(argv)

    if args.rie:
        from scripts.dev.rie import RieInvoker  # builds the image-equivalent directory: only when asked

        chosen = os.environ.get(contract.ENV_MODEL_PATH)
        lambda_env = {
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(DEPLOYED.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(DEPLOYED.timeout_seconds),
        }
        invoker: Invoker = RieInvoker(
            {**lambda_env, **function_environment()}, artifact=Path(chosen) if chosen else None
        )
    else:
        invoker = InProcessInvoker()
    # Explicit, because a shell starting the server in the background would leave SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        with DevServer((args.host, args.port), invoker) as server:
            # The first line is machine-read by the end-to-end suite: keep its shape.
            print(f"Serving {contract.SERVICE_NAME} on {server.url}", flush=True)
            print(f"API docs: {server.url}/docs  (Ctrl-C to stop)", flush=True)
            server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.", flush=True)
    finally:
        invoker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
