"""The command line: ``diabetes-progression`` (``python -m model`` in the repository; usage: README).

``predict`` and ``call`` print the same table, or with ``--json`` the API's answer, because the Python API
(:mod:`.predictor`) and the client (:mod:`.client`) return the same types."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..core import __version__, contract
from ..core.artifact import INTERVAL_LEVEL, ArtifactError, ModelArtifact
from ..core.jsontypes import ValidationError
from ..core.schemas import ModelInfoResponse
from ..train import command as training
from . import output
from .predictor import Model, load_model

if TYPE_CHECKING:
    from .client import ApiError, Client

PROG: Final = "diabetes-progression"
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1  # no answer: artifact unusable, network, service error, credentials, missing extra
EXIT_USAGE: Final = 2  # the command line is wrong (argparse's own status)
EXIT_GATE_FAILED: Final = 3  # train: a gate failed, no artifact written (the trainer's own status)
EXIT_INVALID_INPUT: Final = 4  # the input was refused: a BMI outside 10-100, not finite, too many values
EXIT_ACCESS_DENIED: Final = 5  # call: the stage refused the caller (403: unsigned, not admitted...)
EXIT_STATUS: Final = f"""\
exit status:
  {EXIT_OK}  success
  {EXIT_FAILED}  no answer: unusable artifact, missing data or extra, no credentials or region, network
     failure or timeout, an error of the service (5xx, or 429 after the retries), unreadable answer
  {EXIT_USAGE}  bad command line
  {EXIT_GATE_FAILED}  train: a quality gate failed (no artifact written)
  {EXIT_INVALID_INPUT}  the input was refused (HTTP 4xx about the body, e.g. a BMI outside \
{contract.BMI_MIN:g}-{contract.BMI_MAX:g}: 422)
  {EXIT_ACCESS_DENIED}  call: the stage refused the caller (HTTP 403: unsigned, invalid signature,
     expired credentials, not one of its callers, blocked by its firewall)
"""
INPUT_ERROR: Final = "The input is not valid."
WIDTH: Final = 100  # the descriptions' width (the epilog is laid out by hand)
Parser = argparse.ArgumentParser


class CommandError(Exception):
    """Ends the command with ``message`` on stderr, ``body`` (the error shape) on stdout under --json, and
    ``status``."""

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.body = status, message, body


BMIS_HELP: Final = (
    f"body-mass index in kg/m² ({contract.BMI_MIN:g} to {contract.BMI_MAX:g}); several values are "
    f"answered in order, at most {contract.BATCH_MAX}"
)
JSON_HELP: Final = "print the API's JSON answer (on failure, its error shape) instead of a table"
ARTIFACT_HELP: Final = "a model artifact (default: the bundled one)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=PROG,
        description=textwrap.fill(
            "Diabetes progression one year after baseline, predicted from BMI (kg/m²) by a linear model with "
            f"{INTERVAL_LEVEL:.0%} prediction intervals: in this process, or by calling a running stage of "
            "the service.",
            WIDTH,
        ),
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, text: str = "", epilog: str = EXIT_STATUS) -> Parser:
        return commands.add_parser(
            name,
            help=summary,
            description=textwrap.fill(text or summary, WIDTH),
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    predict = command(
        "predict",
        "predict from BMIs, in this process",
        "Predicts from one or more BMIs with the trained model, in this process, as the service would: the "
        "same numbers, intervals, extrapolation flags and limits. Needs nothing but the package.",
    )
    predict.add_argument("bmis", nargs="+", type=float, metavar="BMI", help=BMIS_HELP)
    predict.add_argument("--artifact", type=Path, metavar="PATH", help=ARTIFACT_HELP)
    predict.add_argument("--json", action="store_true", help=JSON_HELP)
    info = command(
        "info", "describe the model: version, coefficients, metrics, gates, training range, limits"
    )
    info.add_argument("--artifact", type=Path, metavar="PATH", help=ARTIFACT_HELP)
    info.add_argument("--json", action="store_true", help="print what GET /v1/model answers")
    _call_arguments(
        command(
            "call",
            "ask a running stage of the service (local or deployed)",
            "Calls a stage of the service: the local one (--url http://127.0.0.1:3000, unsigned) or a "
            "deployed one (--url of its ApiUrl, or --stack), whose protected routes are signed with AWS "
            "Signature Version 4 from the standard AWS credential chain (environment, profile, SSO, "
            "container or instance role). Throttling (429) and 502/503/504 are retried with jittered "
            f"exponential backoff. Signing and --stack need botocore: {_install('client')}.",
        )
    )
    training.add_arguments(
        command(
            "train",
            "train, gate and write a model artifact (python -m model.train; needs numpy)",
            f"Trains, gates and writes the model artifact. Needs numpy ({_install('train')}) and the data "
            "set, which is not installed with the package: pass --data DIR, the model/data directory of a "
            "checkout of the source repository.",
            epilog=training.EPILOG,
        )
    )
    return top


def _call_arguments(call: Parser) -> None:
    target = call.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="the stage's base URL, e.g. http://127.0.0.1:3000 or its ApiUrl")
    target.add_argument("--stack", metavar="NAME", help="read the URL from this stack's ApiUrl output")
    call.add_argument("bmis", nargs="*", type=float, metavar="BMI", help=BMIS_HELP)
    what = call.add_mutually_exclusive_group()
    what.add_argument("--info", action="store_true", help="GET /v1/model instead of predicting")
    what.add_argument("--health", action="store_true", help="GET /health instead of predicting")
    call.add_argument(
        "--region", help="AWS region (default: the URL's, else AWS_REGION, AWS_DEFAULT_REGION, the profile's)"
    )
    call.add_argument("--profile", help="AWS profile (default: AWS_PROFILE, else the default chain)")
    call.add_argument(
        "--sign",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sign the protected routes (default: unless the URL is a loopback address)",
    )
    call.add_argument(
        "--timeout", type=_positive, default=30.0, metavar="SECONDS", help="per attempt (default 30)"
    )
    call.add_argument(
        "--retries", type=_count, default=3, metavar="N", help="retries after the first try (default 3)"
    )
    call.add_argument("--json", action="store_true", help=JSON_HELP)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "train":
        return _train(args)
    try:
        return _run(args)
    except BrokenPipeError:  # `diabetes-progression info | head`: the reader left, which is not an error here
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "predict":
            _print_predictions(_local(args.artifact), args.bmis, as_json=args.json)
        elif args.command == "info":
            _print_info(_local(args.artifact).model_info(), as_json=args.json)
        else:
            _call(args)
    except CommandError as failure:
        if failure.body is not None and getattr(args, "json", False):
            print(json.dumps(failure.body))
        print(f"{PROG}: error: {failure.message}", file=sys.stderr)
        return failure.status
    return EXIT_OK


# --- Commands ---------------------------------------------------------------------------------------------
def _local(artifact: Path | None) -> Model:
    try:
        return load_model(artifact)
    except ArtifactError as exc:
        raise CommandError(EXIT_FAILED, str(exc)) from None


def _call(args: argparse.Namespace) -> None:
    from .client import ApiError, Client, ClientError, Retry

    if args.bmis and (args.info or args.health):
        raise CommandError(EXIT_USAGE, "give BMIs, or --info, or --health: one of them")
    if not (args.bmis or args.info or args.health):
        raise CommandError(EXIT_USAGE, "nothing to ask: give one or more BMIs, or --info, or --health")
    options: dict[str, Any] = {
        "sign": args.sign,
        "region": args.region,
        "profile": args.profile,
        "timeout": args.timeout,
        "retry": Retry(attempts=args.retries + 1),
    }
    try:
        client = Client.for_stack(args.stack, **options) if args.stack else Client(args.url, **options)
        if args.health:
            health = client.health()
            print(
                json.dumps(health) if args.json else f"{health['status']} (model {health['model_version']})"
            )
        elif args.info:
            _print_info(client.model_info(), as_json=args.json)
        else:
            _print_predictions(client, args.bmis, as_json=args.json)
    except ApiError as error:
        details = [dict(d) for d in error.details]
        body = {"error": {"code": error.code, "message": error.message, "details": details}}
        raise CommandError(_api_exit_status(error), error.describe(), body) from None
    except ClientError as error:
        raise CommandError(EXIT_FAILED, str(error)) from None


def _api_exit_status(error: ApiError) -> int:
    if error.status == 403:
        return EXIT_ACCESS_DENIED
    known = contract.ERRORS.get(error.code)
    if known is not None and (known.scope == "body" or error.code == "bad_request"):
        return EXIT_INVALID_INPUT
    return EXIT_FAILED


def _train(args: argparse.Namespace) -> int:
    try:  # imported afresh, not found as an attribute of the package: a failed import must fail here
        importlib.import_module("..train.pipeline", __package__)
    except ImportError as exc:  # numpy
        print(f"{PROG}: error: training needs {exc.name or 'numpy'}: {_install('train')}", file=sys.stderr)
        return EXIT_FAILED
    for termination in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(termination, training.exit_on_termination)
    return training.run(args)


# --- Output -----------------------------------------------------------------------------------------------
def _print_predictions(predictor: Model | Client, bmis: list[float], *, as_json: bool) -> None:
    try:
        answer = predictor.predict(bmis[0]) if len(bmis) == 1 else predictor.predict_batch(bmis)
    except ValidationError as exc:  # refused in this process, in the service's words
        details = [{"field": i.field, "issue": i.issue} for i in exc.issues]
        body = contract.error_body("validation_error", INPUT_ERROR, details)
        issues = [f"{issue.field or 'the input'} {issue.issue}" for issue in exc.issues]
        more = [f"and {exc.hidden} more"] if exc.hidden else []
        raise CommandError(EXIT_INVALID_INPUT, "; ".join(issues + more), body) from None
    print(json.dumps(answer) if as_json else output.table(bmis, answer))


def _print_info(info: ModelInfoResponse, *, as_json: bool) -> None:
    artifact: ModelArtifact = info["artifact"]
    if as_json:
        print(json.dumps({"artifact": asdict(artifact), "limits": info["limits"]}))
    else:
        print(output.describe(info))


# --- Argument types ---------------------------------------------------------------------------------------
def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be between 0 and 10, got {text}")
    return value


def _install(extra: str) -> str:
    return f"pip install '{PROG}[{extra}]'"
