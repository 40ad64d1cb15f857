"""The command line: ``diabetes-progression`` (``python -m model`` in the repository; usage: README).

``predict`` and ``call`` print the same table (or CSV, JSON lines, or with ``--json`` the API's answer),
because the Python API (:mod:`.predictor`) and the client (:mod:`.client`) return the same types. Every
outcome is one of the exit statuses below, said in one line: never a traceback."""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..core import contract
from ..core.artifact import ArtifactError, ModelArtifact
from ..core.jsontypes import ValidationError
from ..core.schemas import ModelInfoResponse
from ..core.untrusted import printable
from ..train import command as training
from . import output, usage
from .predictor import Model, load_model

if TYPE_CHECKING:
    from .client import ApiError, Client


class CommandError(Exception):
    """Ends the command with ``message`` on stderr, ``body`` (the error shape) on stdout under --json, and
    ``status``."""

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.body = status, message, body


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command: its exit status, whatever happens (a closed or full output and Ctrl-C included)."""
    if sys.stderr is None:  # closed (2>&-): print(file=None) would put the diagnostics into the output
        sys.stderr = io.StringIO()  # nowhere to say them: dropped
    if isinstance(sys.stdout, io.TextIOWrapper):  # a terminal that cannot show a character shows its escape
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        try:
            args = usage.parser().parse_command(sys.argv[1:] if argv is None else argv)
            status = _train(args) if args.command == "train" else _run(args)
        except SystemExit as exit_:  # argparse: --help, --version and usage errors
            status = exit_.code if isinstance(exit_.code, int) else usage.EXIT_USAGE
        if sys.stdout is None:
            raise OSError("standard output is closed")
        sys.stdout.flush()
    except KeyboardInterrupt:
        return usage.EXIT_INTERRUPTED
    except OSError as exc:  # writing the output: a closed pipe (the reader left), a full disk, a closed fd
        if sys.stdout is not None:  # nothing more may reach it, not even at exit's flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if not isinstance(exc, BrokenPipeError):
            _error(f"cannot write the output: {exc.strerror or exc}")
        return usage.EXIT_FAILED
    except Exception as exc:  # a bug: still one line and a documented status
        _error(f"internal error, please report it: {type(exc).__name__}: {exc}")
        return usage.EXIT_FAILED
    return status


def _error(message: str) -> None:
    print(f"{usage.PROG}: error: {printable(message, 2000)}", file=sys.stderr)


def _say(text: str) -> None:
    """Text for people, each line escaped: an answer's strings come from a server or a file."""
    print("\n".join(printable(line, 1000) for line in text.split("\n")))


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "predict":
            _print_predictions(_local(args.artifact), _bmis(args), args.format)
        elif args.command == "info":
            _print_info(_local(args.artifact).model_info(), as_json=args.format == "json")
        elif args.command == "diff":
            return _diff(_local(args.old).artifact, _local(args.new).artifact, as_json=args.format == "json")
        else:
            _call(args)
    except CommandError as failure:
        if failure.body is not None and args.format == "json":
            print(json.dumps(failure.body))
        _error(failure.message)
        return failure.status
    return usage.EXIT_OK


# --- Commands ---------------------------------------------------------------------------------------------
def _diff(old: ModelArtifact, new: ModelArtifact, *, as_json: bool) -> int:
    from . import diff

    changes = diff.compare(old, new)
    print(
        json.dumps(diff.as_json(changes), indent=1, allow_nan=False) if as_json else diff.markdown(changes),
        end="\n" * as_json,
    )
    return usage.EXIT_DIFFERENT if changes.visible else usage.EXIT_OK


def _local(artifact: str | None) -> Model:
    try:
        return load_model(artifact)
    except ArtifactError as exc:
        raise CommandError(usage.EXIT_FAILED, str(exc)) from None


def _bmis(args: argparse.Namespace) -> list[Any]:
    """The BMIs of the command line, or of a file (``-``: standard input, :func:`.output.read_bmis`)."""
    if (args.file is None) == (not args.bmis):
        raise CommandError(usage.EXIT_USAGE, "give BMIs, or - or --file PATH: one of them")
    if "-" in args.bmis and len(args.bmis) > 1:
        raise CommandError(usage.EXIT_USAGE, "- (standard input) stands alone: give BMIs or -, not both")
    if args.file is None and args.bmis != ["-"]:
        return [output.number(text) for text in args.bmis]
    source = "-" if args.file is None else args.file  # --file '' is a path that names no file, not stdin
    try:
        return output.read_bmis(source)
    except OSError as exc:
        raise CommandError(
            usage.EXIT_FAILED, f"cannot read {source or repr(source)}: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:
        raise CommandError(usage.EXIT_INVALID_INPUT, str(exc)) from None


def _call(args: argparse.Namespace) -> None:
    from .client import ApiError, Client, ClientError, ConfigurationError, Retry, parse_url

    if (bool(args.bmis) or args.file is not None) + args.info + args.health != 1:
        raise CommandError(usage.EXIT_USAGE, "give one of: BMIs (or - or --file PATH), --info, --health")
    if not (args.bmis or args.file is not None) and args.format in ("csv", "jsonl"):
        raise CommandError(
            usage.EXIT_USAGE, f"--format {args.format} is rows of predictions: not for --info or --health"
        )
    where, url = ("--url", args.url) if args.url else (usage.ENV_URL, os.environ.get(usage.ENV_URL) or "")
    try:
        _ = args.stack or parse_url(url)
    except ConfigurationError as exc:
        said = f"{where}: {exc}" if url else f"give --url or --stack, or set {usage.ENV_URL}"
        raise CommandError(usage.EXIT_USAGE, said) from None
    options: dict[str, Any] = {
        "sign": args.sign,
        "region": args.region,
        "profile": args.profile,
        "timeout": args.timeout,
        "retry": Retry(attempts=args.retries + 1),
    }
    try:
        started = time.monotonic()
        client = Client.for_stack(args.stack, **options) if args.stack else Client(url, **options)
        # --timeout is for the whole call: the stack lookup and the credentials' resolution count in it
        client.timeout = max(args.timeout - (time.monotonic() - started), 0.001)
        if args.health:
            health = client.health()
            if args.format == "json":
                print(json.dumps(health))
            else:
                _say(f"{health['status']} (model {health['model_version']})")
        elif args.info:
            _print_info(client.model_info(), as_json=args.format == "json")
        else:
            _print_predictions(client, _bmis(args), args.format)
    except ApiError as error:
        body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
        raise CommandError(_api_exit_status(error), error.describe(), body) from None
    except ClientError as error:
        raise CommandError(usage.EXIT_FAILED, str(error)) from None


def _api_exit_status(error: ApiError) -> int:
    if error.status == 403:
        return usage.EXIT_ACCESS_DENIED
    known = contract.ERRORS.get(error.code)
    if known is not None and (known.scope == "body" or error.code == "bad_request"):
        return usage.EXIT_INVALID_INPUT
    return usage.EXIT_FAILED


def _train(args: argparse.Namespace) -> int:
    try:  # imported afresh, not found as an attribute of the package: a failed import must fail here
        importlib.import_module("..train.pipeline", __package__)
    except ImportError as exc:  # numpy
        _error(f"training needs {exc.name or 'numpy'}: {usage.install_hint('train')}")
        return usage.EXIT_FAILED
    for termination in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(termination, training.exit_on_termination)
    return training.run(args)


_COMMA_HINT = " (give BMIs as separate arguments: commas separate them only in a file or standard input)"


# --- Output -----------------------------------------------------------------------------------------------
def _print_predictions(predictor: Model | Client, bmis: list[Any], shape: str) -> None:
    try:
        answer = predictor.predict(bmis[0]) if len(bmis) == 1 else predictor.predict_batch(bmis)
    except ValidationError as exc:  # refused in this process, in the service's words
        body = contract.error_body("validation_error", usage.INPUT_ERROR, [i._asdict() for i in exc.issues])
        issues = [f"{issue.field or 'the input'} {issue.issue}" for issue in exc.issues]
        more = [f"and {exc.hidden} more"] if exc.hidden else []
        said = "; ".join(issues + more) + (_COMMA_HINT if any("," in str(bmi) for bmi in bmis) else "")
        raise CommandError(usage.EXIT_INVALID_INPUT, said, body) from None
    if shape in ("json", "csv", "jsonl"):  # JSON escapes every character a terminal would interpret
        print(json.dumps(answer) if shape == "json" else output.rows_as(shape, bmis, answer))
    else:
        _say(output.table(bmis, answer))


def _print_info(info: ModelInfoResponse, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"artifact": asdict(info["artifact"]), "limits": info["limits"]}))
    else:
        _say(output.describe(info))
