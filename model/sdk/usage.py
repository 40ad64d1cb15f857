"""The command line's words: its parser (commands, options, help) and its exit statuses (:mod:`.cli` runs
it). Imports no more than the core: ``--help`` works without numpy or botocore."""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, Final

from ..core import __version__, contract
from ..core.artifact import INTERVAL_LEVEL
from ..train import command as training

PROG: Final = "diabetes-progression"
ENV_URL: Final = "DIABETES_PROGRESSION_URL"  # call's stage when neither --url nor --stack is given
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1  # no answer: artifact unusable, network, service error, credentials, missing extra
EXIT_USAGE: Final = 2  # the command line is wrong (argparse's own status)
EXIT_INVALID_INPUT: Final = 4  # the input was refused: a BMI outside 10-100, not finite, too many values
EXIT_ACCESS_DENIED: Final = 5  # call: the stage refused the caller (403: unsigned, not admitted...)
EXIT_DIFFERENT: Final = 6  # diff: a caller would see the change (another version or another answer)
EXIT_INTERRUPTED: Final = 130  # Ctrl-C (128 + SIGINT, as a shell reports it)
EXIT_STATUS: Final = f"""\
exit status:
  {EXIT_OK}  success
  {EXIT_FAILED}  no answer: unusable artifact or input file, missing data or extra, no credentials or region,
     network failure or timeout, an error of the service (5xx, or 429 after the retries), an unreadable
     answer, output that cannot be written (a full disk, a closed pipe), an internal error
  {EXIT_USAGE}  bad command line
  {training.EXIT_GATE_FAILED}  train: a quality gate failed (no artifact written)
  {EXIT_INVALID_INPUT}  the input was refused (HTTP 4xx about the body, e.g. a BMI outside \
{contract.BMI_MIN:g}-{contract.BMI_MAX:g}: 422), or would be: a value
     that is not a JSON number, more than 1 MiB or text that is not UTF-8 from a file or standard input
  {EXIT_ACCESS_DENIED}  call: the stage refused the caller (HTTP 403: unsigned, invalid signature,
     expired credentials, not one of its callers, blocked by its firewall)
  {EXIT_DIFFERENT}  diff: the models answer differently, or have different versions
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""
INPUT_ERROR: Final = "The input is not valid."
WIDTH: Final = 100  # the descriptions' width (the epilog is laid out by hand)
NEGATIVE_NUMBER: Final = re.compile(r"-\.?\d|-(inf|nan)", re.IGNORECASE)  # a BMI, not an option


class Parser(argparse.ArgumentParser):
    commands: dict[str, Parser]  # the top level's, by name

    def parse_command(self, argv: Sequence[str]) -> argparse.Namespace:
        """parse_args, but an unknown argument is shown with its command's usage: argparse leaves a
        command's extras to the top level, whose usage lists only the commands (`train --bogus`)."""
        args, extras = self.parse_known_args(argv)
        if extras:
            self.commands[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
        return args

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:  # argparse's own would swallow a failed write: --help into a full disk would say nothing
            (file or sys.stderr).write(message)


def install_hint(extra: str) -> str:
    return f"pip install '{PROG}[{extra}]'"


BMIS_HELP: Final = (
    f"body-mass index in kg/m² ({contract.BMI_MIN:g} to {contract.BMI_MAX:g}); several values are answered "
    f"in order, at most {contract.BATCH_MAX}; - reads them from standard input, where white space or "
    "commas separate them"
)
DESCRIPTION: Final = (
    "Diabetes progression one year after baseline, predicted from BMI (kg/m²) by a linear model with "
    f"{INTERVAL_LEVEL:.0%} prediction intervals: in this process, or by calling a running stage of the "
    "service."
)
JSON_HELP: Final = {  # what --json prints on standard output, per command
    "predict": "print the JSON the API would answer; for a refused BMI, its error shape (other failures "
    "print nothing on standard output)",
    "call": "print the stage's JSON answer; for an error answer or a refused BMI, the error shape (no "
    "answer or a bad configuration prints nothing on standard output)",
    "info": "print the JSON of GET /v1/model: the artifact and the input limits",
    "diff": "print the comparison as JSON",
}
CALL_HELP: Final = (
    "Calls a stage of the service: the local one (--url http://127.0.0.1:3000, unsigned) or a deployed one "
    f"(--url of its ApiUrl, or --stack; else ${ENV_URL}), whose protected routes are signed over https with "
    "AWS Signature Version 4 from the standard AWS credential chain (environment, profile, SSO, container or "
    "instance role). Throttling (429) and 502/503/504 are retried with jittered exponential backoff. Signing "
    f"and --stack need botocore: {install_hint('client')}."
)


def parser() -> Parser:
    top = Parser(
        prog=PROG,
        description=textwrap.fill(DESCRIPTION, WIDTH),
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.commands = {}
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, text: str = "", epilog: str = EXIT_STATUS) -> Parser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=textwrap.fill(text or summary, WIDTH),
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        top.commands[name] = sub
        sub._negative_number_matcher = NEGATIVE_NUMBER  # `predict -1e5`: a value (refused), not an option
        if name != "train":
            shape = sub.add_mutually_exclusive_group()
            json_help = JSON_HELP[name]
            shape.add_argument("--json", dest="format", action="store_const", const="json", help=json_help)
        if name in ("predict", "call"):
            sub.add_argument("bmis", nargs="*", metavar="BMI", help=BMIS_HELP)
            sub.add_argument(
                "--file",
                metavar="PATH",
                help="read the BMIs from a file (- standard input): separated by white space or commas",
            )
            formats = ("table", "csv", "jsonl", "json")
            said = "table; csv or jsonl: a row per BMI; json: --json"
            shape.add_argument("--format", choices=formats, default="table", help=said)
        if name in ("predict", "info"):
            sub.add_argument("--artifact", metavar="PATH", help="a model artifact (default: bundled)")
        return sub

    command(
        "predict",
        "predict from BMIs, in this process",
        "Predicts from one or more BMIs with the trained model, in this process, as the service would: the "
        "same numbers, intervals, extrapolation flags and limits. Needs nothing but the package.",
    )
    command("info", "describe the model: version, coefficients, metrics, gates, training range, limits")
    _call_arguments(command("call", "ask a running stage of the service (local or deployed)", CALL_HELP))
    _diff_arguments(command("diff", "compare two model artifacts: uncertainty, coverage, answers", DIFF_HELP))
    training.add_arguments(
        command(
            "train",
            "train, gate and write a model artifact (python -m model.train; needs numpy)",
            f"Trains, gates and writes the model artifact. Needs numpy ({install_hint('train')}) and the "
            "data set, which is not installed with the package: pass --data DIR, the model/data directory of "
            "a checkout of the source repository.",
            epilog=training.EPILOG,
        )
    )
    return top


DIFF_HELP: Final = (
    "Compares two model artifacts for the people the change would reach (Markdown; --json for machines): "
    "versions and provenance, coefficients, every figure with its confidence interval (and whether the "
    "change is beyond it), interval coverage by group and width by band, and the answers on a grid of BMIs. "
    f"Exit status 0 when a caller would see no change, {EXIT_DIFFERENT} when they would."
)


def _diff_arguments(compare: Parser) -> None:
    compare.add_argument("old", metavar="OLD", help="the artifact serving now (or the base's)")
    compare.add_argument("new", metavar="NEW", help="the candidate artifact")


def _call_arguments(call: Parser) -> None:
    target = call.add_mutually_exclusive_group()
    target.add_argument(
        "--url", help=f"the stage's base URL, e.g. http://127.0.0.1:3000 (default: ${ENV_URL})"
    )
    target.add_argument("--stack", metavar="NAME", help="read the URL from this stack's ApiUrl output")
    what = call.add_mutually_exclusive_group()
    what.add_argument("--info", action="store_true", help="GET /v1/model instead of predicting")
    what.add_argument("--health", action="store_true", help="GET /health instead of predicting")
    call.add_argument(
        "--region", help="AWS region (default: the URL's, AWS_REGION, AWS_DEFAULT_REGION, the profile's)"
    )
    call.add_argument("--profile", help="AWS profile (default: AWS_PROFILE, else the default chain)")
    sign = "sign the protected routes (default: unless the URL is a loopback address)"
    call.add_argument("--sign", action=argparse.BooleanOptionalAction, help=sign)
    call.add_argument("--timeout", type=seconds, default=30.0, metavar="SECONDS", help="for the whole call")
    call.add_argument(
        "--retries", type=int, choices=range(11), default=3, metavar="N", help="0 to 10 (default 3)"
    )


# --- Argument types ---------------------------------------------------------------------------------------
def seconds(text: str) -> float:  # its name is argparse's "invalid seconds value"
    from .client import MAX_TIMEOUT_SECONDS

    value = float(text)
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g}, got {text}"
        )
    return value
