"""Development server: serves the function over HTTP the way API Gateway (REST, Lambda proxy) would; a
development tool, not a production server.

The function is imported in this process or, with ``--rie``, run under the real Lambda Runtime Interface
Emulator from the image-equivalent directory (:mod:`.invoke`, :mod:`.rie`), one invocation at a time. It
prints the served model, then one line per request (``--json-logs``: the function's logs and metrics too),
and notices a retrained artifact on the next request. The HTTP side: :mod:`.http_gateway`."""

from __future__ import annotations

import argparse
import contextlib
import errno
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType

from model.core import contract
from model.core.artifact import ArtifactError
from model.core.serving import load_artifact, served_artifact_path
from model.core.untrusted import printable
from scripts.dev.http_gateway import DevServer
from scripts.dev.invoke import (
    DEPLOYED,
    FUNCTION_NAME,
    InProcessInvoker,
    Invoker,
    ModelWatch,
    function_environment,
    say,
)


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
