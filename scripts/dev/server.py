"""Development server: the function served over HTTP as API Gateway (REST, Lambda proxy) would, imported in
this process (:mod:`.invoke`) or, with ``--rie``, run under the real Lambda Runtime Interface Emulator from
the image-equivalent directory (:mod:`.rie`), behind :mod:`.http_gateway`. A development tool, not a
production server (``./scripts/serve --help`` says what it prints and when it reloads the model)."""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
from collections.abc import Callable
from typing import Final

from model.core import contract
from model.core.artifact import ArtifactError
from model.core.serving import load_artifact, served_artifact_path
from model.core.untrusted import printable
from scripts.dev.invoke import InProcessInvoker, Invoker, ModelWatch, say

BACKLOG: Final = 2048  # simultaneous connections wait here instead of being reset (the default is 5)


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
    listening = listen(args.host, args.port)
    invoker: Invoker
    reload: Callable[[], str] | None
    if args.rie:
        from scripts.dev.rie import RieInvoker  # builds the image-equivalent directory: only when asked

        invoker = RieInvoker(path)
        reload = None
    else:
        invoker = in_process = InProcessInvoker(json_logs=args.json_logs)
        reload = in_process.reload
    from scripts.dev.http_gateway import DevApp, server  # uvicorn: once the arguments are read

    # Explicit, because a shell starting the server in the background would leave SIGINT ignored; SIGTERM
    # gets the same clean shutdown as Ctrl-C (the handler raises KeyboardInterrupt whatever the signal).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    try:
        host, port = listening.getsockname()[:2]
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        print(f"Model {version} from {path}", flush=True)
        # The next line is machine-read by the end-to-end suite: keep its shape.
        print(f"Serving {contract.SERVICE_NAME} on {url}", flush=True)
        print(f"API docs: {url}/docs  (Ctrl-C to stop)", flush=True)
        if not args.json_logs and not args.rie:
            say("One line per request; --json-logs also shows the function's JSON logs and metrics.")
        server(DevApp(invoker, ModelWatch(path, version, reload)), listening).run(sockets=[listening])
    except KeyboardInterrupt:  # uvicorn stops gracefully on SIGINT and SIGTERM, then lets them through
        print("Stopped.", flush=True)
    finally:
        invoker.close()
        listening.close()
    return 0


def listen(host: str, port: int) -> socket.socket:
    """The bound socket (a backlog deep enough for bursts); a port that cannot be had is one line saying
    which and what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            message = f"port {port} is already in use on {host}: serve on another with --port N (or PORT=N)"
        elif error.errno == errno.EACCES:
            message = f"port {port} needs privileges on this system: use --port 1024 or above"
        else:
            message = f"cannot listen on {host}:{port}: {error.strerror or error}"
        raise SystemExit(f"serve: {message}") from None


if __name__ == "__main__":
    sys.exit(main())
