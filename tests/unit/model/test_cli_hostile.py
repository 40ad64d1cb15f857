"""The command line as a process, by class: every outcome is one documented exit status and at most one
line on stderr, never a traceback (a full, closed or abandoned output, Ctrl-C, usage errors); inputs from
files and standard input are bounded; what a server says is escaped before it reaches the terminal; ``call``
against stage stand-ins over real sockets (:mod:`.stage`)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from model.core import contract
from model.core.artifact import ArtifactError
from model.sdk import usage
from model.sdk.predictor import Model, load_model
from scripts import REPO_ROOT

from .stage import stall

COMMAND = [sys.executable, "-m", "model"]


def command(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    options.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(
        [*COMMAND, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False, **options
    )


def shell(line: str) -> subprocess.CompletedProcess[str]:
    """``line`` in sh, where ``$CLI`` is the command line (for redirections Python cannot express)."""
    environment = {**os.environ, "CLI": shlex.join(COMMAND)}
    return subprocess.run(
        ["sh", "-c", line],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("diabetes-progression: error: ")
    return line


@pytest.fixture(scope="module")
def local(model_artifact: Any) -> Model:
    return Model(model_artifact)


# --- The output, wherever it goes ---------------------------------------------------------------------------
@pytest.mark.parametrize("args", ["predict 27.3", "info", "predict --json 27.3 30", "--help", "info --json"])
def test_a_full_output_is_one_line_and_status_1(args: str) -> None:
    result = shell(f"exec $CLI {args} >/dev/full")
    assert result.returncode == usage.EXIT_FAILED
    assert one_error_line(result).endswith("cannot write the output: No space left on device")


def test_a_closed_output_is_one_line_and_status_1() -> None:
    result = shell("exec $CLI predict 27.3 >&-")
    assert result.returncode == usage.EXIT_FAILED
    assert one_error_line(result).endswith("standard output is closed")


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ("predict --json 500", 4),
        ("predict --json --bogus", 2),
        ("train --bogus", 2),
        ("info --artifact /x", 1),
    ],
)
def test_with_standard_error_closed_diagnostics_never_reach_the_output(args: str, status: int) -> None:
    result = shell(f"exec $CLI {args} 2>&-")
    assert result.returncode == status
    assert "usage:" not in result.stdout
    assert all(json.loads(line) for line in result.stdout.splitlines())  # --json's error shape, and only that


def test_a_reader_that_leaves_early_ends_the_command_quietly() -> None:
    # Given a reader that takes one line of 10 000 and goes away
    values = " ".join(["27.3"] * contract.BATCH_MAX)
    with subprocess.Popen(
        [*COMMAND, "predict", "--format", "csv", "-"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdin.write(values.encode())
        process.stdin.close()
        assert process.stdout.readline() == b"bmi,prediction,lower,upper,extrapolated\n"
        process.stdout.close()
        # Then the command ends with status 1 and says nothing (the pipe's reader chose to leave)
        assert process.wait(timeout=60) == usage.EXIT_FAILED
        assert process.stderr.read() == b""


def test_ctrl_c_during_a_call_is_status_130_without_a_traceback(stage) -> None:
    server = stage(stall(30))
    with subprocess.Popen(
        [*COMMAND, "call", "--url", server.url, "27.3"], cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True
    ) as process:
        while not server.received:  # the request is on its way: the command waits for the answer
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == usage.EXIT_INTERRUPTED
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()


# --- Usage errors: status 2 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["call", "--url", "ftp://x", "27"],
        ["call", "--url", "http://[::1", "27"],
        ["call", "--url", "https://user:hunter2@api.example.com/", "27"],
        ["call", "--url", "https://api.example.com/?stage=1", "27"],
        ["call", "--url", "http://127.0.0.1:3000", "--timeout", "inf", "27"],
        ["call", "--url", "http://127.0.0.1:3000", "--timeout", "1e308", "27"],
        ["call", "--url", "http://127.0.0.1:3000", "--timeout", "nan", "27"],
        ["call", "--url", "http://127.0.0.1:3000", "--retries", "-1", "27"],
        ["predict", "--file", "x.txt", "27"],
        ["predict", "--format", "xml", "27"],
        ["call", "27"],
    ],
)
def test_a_wrong_command_line_is_status_2_in_one_line(args: list[str]) -> None:
    result = command(*args, env={k: v for k, v in os.environ.items() if k != usage.ENV_URL})
    assert result.returncode == usage.EXIT_USAGE
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("value", ["-1e5", "-27.3", "-.5", "-inf"])
def test_a_negative_number_is_a_bmi_refused_not_an_unknown_option(value: str) -> None:
    result = command("predict", value)
    assert result.returncode == usage.EXIT_INVALID_INPUT
    assert one_error_line(result).startswith("diabetes-progression: error: bmi must be")


# --- Batches from files and standard input ------------------------------------------------------------------
def test_bmis_from_standard_input_or_a_file_in_every_format(tmp_path: Path, local: Model) -> None:
    text = "27.3\n22, 45.1\n"
    (tmp_path / "bmis.txt").write_text(text)
    answer = local.predict_batch([27.3, 22, 45.1])
    assert json.loads(command("predict", "--json", "-", input=text, stdin=None).stdout) == answer
    assert json.loads(command("predict", "--json", "--file", str(tmp_path / "bmis.txt")).stdout) == answer
    csv = command("predict", "--format", "csv", "--file", str(tmp_path / "bmis.txt")).stdout.splitlines()
    assert csv[0] == "bmi,prediction,lower,upper,extrapolated"
    bounds = answer["intervals"]
    assert csv[3] == f"45.1,{answer['predictions'][2]},{bounds['lower'][2]},{bounds['upper'][2]},True"
    lines = command("predict", "--format", "jsonl", "-", input=text, stdin=None).stdout.splitlines()
    assert [json.loads(line)["prediction"] for line in lines] == answer["predictions"]
    assert {json.loads(line)["model_version"] for line in lines} == {local.version}


def test_a_file_that_is_no_regular_file_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # nobody writes to it
    for path in (tmp_path / "fifo", Path("/dev/zero"), tmp_path, tmp_path / "absent"):
        result = command("predict", "--file", str(path))
        assert result.returncode == usage.EXIT_FAILED
        assert f"cannot read {path}" in one_error_line(result)


def test_an_empty_path_is_refused_as_naming_no_file_not_read_as_standard_input() -> None:
    for args in (["predict", "--file", ""], ["call", "--url", "http://127.0.0.1:9", "--file", ""]):
        result = command(*args, input="30\n", stdin=None)
        assert result.returncode == usage.EXIT_FAILED
        assert "cannot read '': an empty path names no file" in one_error_line(result)
    for args in (["predict", "--artifact", "", "30"], ["info", "--artifact", ""], ["diff", "", ""]):
        result = command(*args)
        assert result.returncode == usage.EXIT_FAILED
        assert "cannot read the model artifact at '': an empty path names no file" in one_error_line(result)
    with pytest.raises(ArtifactError, match="an empty path names no file"):
        load_model("")


def test_a_leading_utf_8_bom_is_skipped_and_text_in_another_encoding_is_said_to_be_so(tmp_path: Path) -> None:
    (tmp_path / "excel.csv").write_bytes("\ufeff27.3,30\r\n".encode())  # Excel's "CSV UTF-8"
    (tmp_path / "utf16.txt").write_text("27.3\n30\n", encoding="utf-16")
    assert command("predict", "--file", str(tmp_path / "excel.csv")).returncode == usage.EXIT_OK
    assert command("predict", "-", input="\ufeff27.3\n", stdin=None).returncode == usage.EXIT_OK
    for args, said in (
        (["--file", str(tmp_path / "utf16.txt")], f"{tmp_path}/utf16.txt"),
        (["-"], "standard input"),
    ):
        with (tmp_path / "utf16.txt").open("rb") as stdin:
            result = command("predict", *args, stdin=stdin)
        assert result.returncode == usage.EXIT_INVALID_INPUT
        assert one_error_line(result).endswith(f"{said} is not UTF-8 text")


@pytest.mark.parametrize(
    ("stdin", "said"),
    [
        ("/dev/zero", "holds more than 1048576 bytes"),  # endless
        ("many", f"between 1 and {contract.BATCH_MAX} values"),  # one value too many, from a larger list
    ],
)
def test_endless_or_oversized_input_is_refused_at_the_cost_of_a_valid_batch(
    tmp_path: Path, stdin: str, said: str
) -> None:
    if stdin == "many":
        (tmp_path / "many").write_text("27.3\n" * 200_000)
        stdin = str(tmp_path / "many")
    with Path(stdin).open("rb") as source:
        started = time.monotonic()
        result = command("predict", "-", stdin=source)
    assert result.returncode == usage.EXIT_INVALID_INPUT
    assert said in one_error_line(result)
    assert time.monotonic() - started < 10


def test_too_much_input_is_refused_input_from_a_file_as_from_standard_input(tmp_path: Path) -> None:
    (tmp_path / "large.txt").write_text("27.3\n" * 300_000)  # more than 1 MiB
    for args, said in (
        (["--file", str(tmp_path / "large.txt")], str(tmp_path / "large.txt")),
        (["-"], "standard input"),
    ):
        with (tmp_path / "large.txt").open("rb") as stdin:
            result = command("predict", *args, stdin=stdin)
        assert result.returncode == usage.EXIT_INVALID_INPUT
        assert one_error_line(result).endswith(f"{said} holds more than 1048576 bytes: more than a batch")


@pytest.mark.parametrize("args", [["-", "30"], ["30", "-"], ["-", "-"]])
def test_standard_input_with_other_values_is_a_bad_command_line(args: list[str]) -> None:
    result = command("predict", *args, input="27\n", stdin=None)
    assert result.returncode == usage.EXIT_USAGE
    assert one_error_line(result).endswith("- (standard input) stands alone: give BMIs or -, not both")


# --- call: the URL from the environment, and what a server says ---------------------------------------------
def test_call_takes_its_url_from_the_environment(stage, local: Model) -> None:
    server = stage((200, local.predict(27.3)))
    result = command("call", "27.3", env={**os.environ, usage.ENV_URL: server.url})
    assert result.returncode == usage.EXIT_OK
    assert result.stdout.splitlines()[-1] == f"model {local.version}"
    bad = command("call", "27.3", env={**os.environ, usage.ENV_URL: "ftp://x"})
    assert bad.returncode == usage.EXIT_USAGE
    assert usage.ENV_URL in one_error_line(bad)


def test_what_a_server_says_reaches_the_terminal_escaped_and_bounded(stage, local: Model) -> None:
    hostile = {**local.predict(27.3), "model_version": "\ud800\x1b[2J\x1b]0;pwned\x07"}
    message = "\x1b[31mred\r\n" + "m" * 1_000_000
    server = stage((200, hostile), (422, contract.error_body("validation_error", message, [])))
    shown = command("call", "--url", server.url, "27.3")
    assert shown.returncode == usage.EXIT_OK
    assert shown.stdout.splitlines()[-1] == "model \\ud800\\x1b[2J\\x1b]0;pwned\\x07"
    refused = command("call", "--url", server.url, "27.3")
    assert refused.returncode == usage.EXIT_INVALID_INPUT
    line = one_error_line(refused)
    assert "\\x1b[31mred\\r\\n" in line
    assert len(line) < 500


def test_an_answer_that_does_not_match_the_request_is_status_1(stage, local: Model) -> None:
    server = stage((200, local.predict_batch([27.3])))
    result = command("call", "--url", server.url, "27.3", "30")
    assert result.returncode == usage.EXIT_FAILED
    assert one_error_line(result).endswith("answered 1 predictions for 2 BMIs")


def description(local: Model, **interval: Any) -> dict[str, Any]:
    info = json.loads(
        json.dumps({"artifact": asdict(local.artifact), "limits": local.model_info()["limits"]})
    )
    info["artifact"]["interval"].update(interval)
    return info


@pytest.mark.parametrize("field", ["coverage", "bands"])  # what a description is read for: none is no model
def test_a_model_description_without_bands_or_coverage_groups_is_status_1(stage, local: Model, field) -> None:
    info = description(local, **{field: []})
    for args in (["--info"], ["--info", "--json"]):
        result = command("call", "--url", stage((200, info)).url, *args)
        assert result.returncode == usage.EXIT_FAILED
        assert "GET /v1/model answered a body that is not a ModelInfoResponse" in one_error_line(result)
        assert f"interval.{field}" in one_error_line(result)


def test_a_model_served_under_another_policy_is_described_not_refused(stage, local: Model) -> None:
    # The serving policy (the level, the gates, the checksum's bytes) is the service's to enforce: an
    # installed client keeps describing the models of a later service
    result = command("call", "--url", stage((200, description(local, level=0.8))).url, "--info", "--json")
    assert result.returncode == usage.EXIT_OK
    assert json.loads(result.stdout)["artifact"]["interval"]["level"] == 0.8


def test_call_stack_ends_within_its_timeout_when_cloudformation_never_answers(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connected to (the backlog), never answered
        environment = {
            **os.environ,
            "AWS_ENDPOINT_URL_CLOUDFORMATION": f"http://127.0.0.1:{silent.getsockname()[1]}",
            "AWS_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }
        started = time.monotonic()
        result = command("call", "--stack", "Staging-Service", "--timeout", "1", "30", env=environment)
    assert time.monotonic() - started < 1 + 4  # the interpreter's start and botocore's import: about 1 s
    assert result.returncode == usage.EXIT_FAILED
    assert one_error_line(result).endswith("stack 'Staging-Service' in eu-west-1: no answer within 1 s")


# --- Before any 3.13 syntax, and without numpy --------------------------------------------------------------
@pytest.mark.parametrize(
    "module", ["model", "model.train", "scripts.dev.server", "scripts.release.preflight"]
)
def test_an_older_python_is_told_what_is_needed_before_any_syntax_error(module: str) -> None:
    older = next((p for p in ("python3.11", "python3.12") if _runs(p)), None)
    if older is None:
        pytest.skip("no Python 3.11 or 3.12 on this machine")
    result = subprocess.run(
        [older, "-m", module, "predict", "27.3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "needs Python 3.13" in result.stderr


def _runs(python: str) -> bool:
    try:
        return (
            subprocess.run([python, "-c", ""], capture_output=True, timeout=30, check=False).returncode == 0
        )
    except OSError:
        return False


def test_train_help_needs_no_numpy() -> None:
    code = (
        "import sys; sys.modules['numpy'] = None; from model.sdk.cli import main; "
        "sys.exit(main(['train', '--help']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: diabetes-progression train")
