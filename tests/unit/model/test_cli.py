"""The command line, in this process: its output, its --json, its exit statuses, its help.

``call`` runs here against a stand-in Client (its own behaviour is tests/unit/model/test_client.py);
against the real local service in tests/e2e/test_package_client.py, and against a signed endpoint in
tests/integration/test_client_signed_endpoint.py. The installed console script:
tests/integration/test_wheel.py.
"""

from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import pytest

import model
from model.core import contract
from model.core.artifact import INTERVAL_LEVEL, ModelArtifact
from model.core.serving import load_artifact
from model.sdk import cli, usage
from model.sdk.client import ApiError, ConfigurationError, TransportError
from model.sdk.predictor import Model

PREFIX = "diabetes-progression: error: "


@pytest.fixture(scope="module")
def local(model_artifact_path: Path) -> Model:
    return Model(load_artifact(model_artifact_path))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(args))
    except SystemExit as exit_:  # argparse: usage errors and --help
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# --- predict ----------------------------------------------------------------------------------------------
def test_predict_prints_the_prediction_and_its_interval(capsys, local: Model) -> None:
    code, out, err = run(capsys, "predict", "27.3")
    answer = local.predict(27.3)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["BMI", "prediction", f"{INTERVAL_LEVEL:.0%}", "interval"]
    low, high = answer["interval"]["lower"], answer["interval"]["upper"]
    assert lines[1].split() == ["27.3", f"{answer['prediction']:.2f}", str(low), "to", str(high)]
    assert lines[2] == f"model {local.version}"


def test_several_bmis_are_one_batch_in_order_with_extrapolation_marked(capsys, local: Model) -> None:
    code, out, _ = run(capsys, "predict", "27.3", "22", "45.1")
    answer = local.predict_batch([27.3, 22, 45.1])
    rows = out.splitlines()[1:4]
    assert code == 0
    assert [row.split()[1] for row in rows] == [f"{p:.2f}" for p in answer["predictions"]]
    assert ["extrapolated" in row for row in rows] == [False, False, True]


def test_predict_json_is_the_api_s_answer(capsys, local: Model) -> None:
    assert json.loads(run(capsys, "predict", "--json", "27.3")[1]) == local.predict(27.3)
    assert json.loads(run(capsys, "predict", "--json", "27.3", "50")[1]) == local.predict_batch([27.3, 50])


def test_an_implausible_bmi_fails_with_the_plausibility_message(capsys) -> None:
    code, out, err = run(capsys, "predict", "500")
    assert code == usage.EXIT_INVALID_INPUT == 4
    assert out == ""
    assert err == "diabetes-progression: error: bmi must be between 10 and 100 kg/m^2\n"


def test_every_refused_value_is_named_and_json_gets_the_error_shape(capsys) -> None:
    code, out, err = run(capsys, "predict", "--json", "27", "500", "nan")
    assert code == usage.EXIT_INVALID_INPUT
    assert "bmi[1] must be between 10 and 100 kg/m^2; bmi[2] must be a finite number" in err
    assert json.loads(out) == contract.error_body(
        "validation_error",
        usage.INPUT_ERROR,
        [
            {"field": "bmi[1]", "issue": "must be between 10 and 100 kg/m^2"},
            {"field": "bmi[2]", "issue": "must be a finite number (no NaN, Infinity or overflowing value)"},
        ],
    )


def test_a_bmi_that_is_not_a_number_is_refused_in_the_service_s_words(capsys) -> None:
    code, _, err = run(capsys, "predict", "27", "heavy")
    assert code == usage.EXIT_INVALID_INPUT
    assert err == "diabetes-progression: error: bmi[1] must be a number\n"


@pytest.mark.parametrize("text", ["1_5", "٣٠", "３０", "30.", ".5", "+30", "030", "0x1e"])
def test_only_json_s_number_syntax_is_a_number_as_the_service_reads_it(
    capsys, tmp_path: Path, text: str
) -> None:
    (tmp_path / "bmis.txt").write_text(f"27 {text}\n", encoding="utf-8")
    assert run(capsys, "predict", text)[:3:2] == (usage.EXIT_INVALID_INPUT, f"{PREFIX}bmi must be a number\n")
    code, _, err = run(capsys, "predict", "--file", str(tmp_path / "bmis.txt"))
    assert (code, err) == (usage.EXIT_INVALID_INPUT, f"{PREFIX}bmi[1] must be a number\n")


def test_commas_separate_bmis_in_files_and_the_help_and_the_refusal_of_an_argument_say_so(
    capsys, tmp_path: Path
) -> None:
    (tmp_path / "bmis.csv").write_text("27,35\n")
    assert run(capsys, "predict", "--file", str(tmp_path / "bmis.csv"))[0] == usage.EXIT_OK
    code, _, err = run(capsys, "predict", "27,35")
    assert code == usage.EXIT_INVALID_INPUT
    assert err.endswith(
        "bmi must be a number (give BMIs as separate arguments: commas separate them only "
        "in a file or standard input)\n"
    )
    help_text = " ".join(run(capsys, "predict", "--help")[1].split())
    assert "from a file (- standard input): separated by white space or commas" in help_text


@pytest.mark.parametrize("text", ["-0", "0.5e1", "1E+2", "12.5e-1"])
def test_every_json_number_is_a_number(capsys, text: str) -> None:
    assert run(capsys, "predict", "--json", text, "30")[0] in (usage.EXIT_OK, usage.EXIT_INVALID_INPUT)
    assert "must be a number" not in run(capsys, "predict", text)[2]


def test_another_artifact_or_an_unusable_one(capsys, tmp_path: Path, model_artifact: ModelArtifact) -> None:
    (tmp_path / "m.json").write_text(model_artifact.to_json())
    assert run(capsys, "predict", "--artifact", str(tmp_path / "m.json"), "30")[0] == 0
    code, _, err = run(capsys, "predict", "--artifact", str(tmp_path / "absent.json"), "30")
    assert code == usage.EXIT_FAILED
    assert "model artifact not found" in err


class WouldBlock(io.RawIOBase):
    """A file that has nothing to read without waiting, as /proc/kmsg is for O_NONBLOCK (as root)."""

    def readable(self) -> bool:
        return True

    def readinto(self, _buffer: Any) -> None:
        return None


def test_a_regular_file_that_would_block_is_unreadable(capsys, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "kmsg").write_text("30\n")

    kmsg, fdopen = (tmp_path / "kmsg").stat().st_ino, os.fdopen

    def would_block(fd: int, mode: str) -> Any:
        if os.fstat(fd).st_ino != kmsg:  # the artifact
            return fdopen(fd, mode)
        os.close(fd)
        return io.BufferedReader(WouldBlock())  # its read() gives None, not bytes

    monkeypatch.setattr("model.core.untrusted.os.fdopen", would_block)
    code, _, err = run(capsys, "predict", "--file", str(tmp_path / "kmsg"))
    assert code == usage.EXIT_FAILED
    assert err.endswith(f"cannot read {tmp_path / 'kmsg'}: it has nothing to read without waiting\n")


# --- info -------------------------------------------------------------------------------------------------
def test_info_describes_the_model(capsys, local: Model) -> None:
    code, out, _ = run(capsys, "info")
    artifact = local.artifact
    assert code == 0
    assert out.startswith(f"model {artifact.model_version} (artifact schema 3)\n")
    assert "trained on 422 patients with BMIs 18 to 42.2" in out
    assert "accepts BMIs 10 to 100, 1 to 10000 values per batch" in out
    assert out.count("gate passed") == len(artifact.metrics.gates) == 13
    assert "±" not in out  # every figure with an interval says what kind of interval it is
    assert "cv_r2 0.321 (0.244 to 0.397)" in out


def test_info_json_is_what_the_model_route_answers(capsys, local: Model) -> None:
    answer = json.loads(run(capsys, "info", "--json")[1])
    assert answer == json.loads(
        json.dumps({"artifact": local.artifact.to_document(), "limits": contract_limits()})
    )


def contract_limits() -> dict[str, Any]:
    return {"bmi_min": contract.BMI_MIN, "bmi_max": contract.BMI_MAX, "batch_max": contract.BATCH_MAX}


# --- call -------------------------------------------------------------------------------------------------
class StandInClient:
    """Client's surface, answering from the local model or raising what it is told to."""

    created: ClassVar[list[dict[str, Any]]] = []
    failure: ClassVar[Exception | None] = None
    model: ClassVar[Model]

    def __init__(self, url: str, **options: Any) -> None:
        if StandInClient.failure is not None and isinstance(StandInClient.failure, ConfigurationError):
            raise StandInClient.failure
        StandInClient.created.append({"url": url, **options})

    @classmethod
    def for_stack(cls, stack_name: str, **options: Any) -> StandInClient:
        return cls(f"https://{stack_name}.execute-api.eu-west-1.amazonaws.com/staging/", **options)

    def _answer(self, answer: Any) -> Any:
        if StandInClient.failure is not None:
            raise StandInClient.failure
        return answer

    def predict(self, bmi: float) -> Any:
        return self._answer(self.model.predict(bmi))

    def predict_batch(self, bmis: list[float]) -> Any:
        return self._answer(self.model.predict_batch(bmis))

    def model_info(self) -> Any:
        return self._answer(self.model.model_info())

    def health(self) -> Any:
        return self._answer({"status": "ok", "model_version": self.model.version})


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, local: Model) -> type[StandInClient]:
    monkeypatch.setattr("model.sdk.client.Client", StandInClient)
    StandInClient.created, StandInClient.failure, StandInClient.model = [], None, local
    return StandInClient


def test_call_prints_what_predict_prints(capsys, stand_in) -> None:
    local_output = run(capsys, "predict", "27.3", "45.1")[1]
    code, out, _ = run(capsys, "call", "--url", "http://127.0.0.1:3000", "27.3", "45.1")
    assert (code, out) == (0, local_output)
    assert stand_in.created[0]["url"] == "http://127.0.0.1:3000"
    assert stand_in.created[0]["sign"] is None  # the client's default: unsigned on loopback
    assert stand_in.created[0]["retry"].attempts == 4
    assert stand_in.created[0]["timeout"] == 30.0


def test_call_options_reach_the_client(capsys, stand_in) -> None:
    args = ["call", "--stack", "Staging-Service", "--region", "eu-west-1", "--profile", "p", "--no-sign"]
    assert run(capsys, *args, "--timeout", "2", "--retries", "0", "--json", "30")[0] == 0
    options = stand_in.created[0]
    assert options["url"].startswith("https://Staging-Service.")
    assert (options["region"], options["profile"], options["sign"], options["timeout"]) == (
        "eu-west-1",
        "p",
        False,
        2.0,
    )
    assert options["retry"].attempts == 1


def test_call_info_and_health(capsys, stand_in, local: Model) -> None:
    code, out, _ = run(capsys, "call", "--url", "http://127.0.0.1:3000", "--info", "--json")
    artifact = json.loads(out)["artifact"]
    assert (code, artifact) == (0, json.loads(json.dumps(asdict(local.artifact))))
    code, out, _ = run(capsys, "call", "--url", "http://127.0.0.1:3000", "--health")
    assert (code, out) == (0, f"ok (model {local.version})\n")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (
            ApiError(
                422, "validation_error", "The request body is not valid.", [{"field": "bmi", "issue": "x"}]
            ),
            4,
        ),
        (ApiError(413, "payload_too_large", "Too large."), 4),
        (ApiError(403, "missing_authentication", "Missing Authentication Token"), 5),
        (ApiError(403, "forbidden", "User: ... is not authorized"), 5),
        (ApiError(429, "throttled", "Too Many Requests"), 1),
        (ApiError(502, "bad_gateway", "Internal server error"), 1),
        (ApiError(404, "http_404", "<html>"), 1),
    ],
)
def test_the_api_s_errors_are_printed_as_its_message_with_their_exit_status(
    capsys, stand_in, error, status
) -> None:
    stand_in.failure = error
    code, out, err = run(capsys, "call", "--url", "https://api.example.com", "--json", "30")
    assert code == status
    assert err == f"diabetes-progression: error: {error.describe()}\n"
    assert json.loads(out) == {
        "error": {"code": error.code, "message": error.message, "details": error.details}
    }


def test_no_answer_and_no_configuration_are_failures(capsys, stand_in) -> None:
    stand_in.failure = TransportError("POST http://127.0.0.1:3000/v1/predict: [Errno 111] Connection refused")
    assert run(capsys, "call", "--url", "http://127.0.0.1:3000", "30")[0] == usage.EXIT_FAILED
    stand_in.failure = ConfigurationError(
        "signing needs botocore: pip install 'diabetes-progression[client]'"
    )
    code, _, err = run(capsys, "call", "--url", "https://api.example.com", "30")
    assert code == usage.EXIT_FAILED
    assert "pip install 'diabetes-progression[client]'" in err


@pytest.mark.parametrize(
    "args",
    [
        ["call", "30"],  # no target
        ["call", "--url", "u", "--stack", "s", "30"],
        ["call", "--url", "http://127.0.0.1:3000"],  # nothing to ask
        ["call", "--url", "http://127.0.0.1:3000", "--info", "30"],
        ["call", "--url", "http://127.0.0.1:3000", "--timeout", "0", "30"],
        ["call", "--url", "http://127.0.0.1:3000", "--retries", "11", "30"],
        ["predict"],
        [],
    ],
)
def test_a_wrong_command_line_is_a_usage_error(capsys, stand_in, args: list[str]) -> None:
    assert run(capsys, *args)[0] == usage.EXIT_USAGE


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["call", "--timeout", "abc", "30"], "argument --timeout: invalid seconds value: 'abc'"),
        (["train", "--seed", "1e3"], "argument --seed: invalid seed value: '1e3'"),
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["predict", "30", "--bogus"], "unrecognized arguments: --bogus"),
        (
            ["call", "--url", "http://127.0.0.1:3000", "--health", "--format", "csv"],
            "--format csv is rows of",
        ),
        (
            ["call", "--url", "http://127.0.0.1:3000", "--info", "--format", "jsonl"],
            "--format jsonl is rows of",
        ),
    ],
)
def test_a_usage_error_names_its_argument_and_shows_its_command_s_usage(
    capsys, stand_in, args: list[str], said: str
) -> None:
    code, out, err = run(capsys, *args)
    assert (code, out) == (usage.EXIT_USAGE, "")
    assert said in err
    assert "usage: diabetes-progression [-h]" not in err  # the command's usage, if any, not the top level's
    assert not stand_in.created


# --- train ------------------------------------------------------------------------------------------------
def test_train_is_the_trainer_under_this_command_s_name(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "train", "--seed", "3", "--out", str(tmp_path / "m.json"))
    assert code == 0
    assert load_artifact(tmp_path / "m.json").training.seed == 3
    assert f"wrote {tmp_path / 'm.json'}" in out
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    assert out.startswith("usage: diabetes-progression train [-h] [--seed SEED] [--data DIR]")
    assert "3 a gate failed" in out


def test_train_without_numpy_names_the_extra(capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "model.train.pipeline",
        "model.train.conformal",
        "model.train.dataset",
        "model.train.evaluation",
        "model.train.sgd",
    ):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as in an install without the train extra
    code, _, err = run(capsys, "train", "--out", str(tmp_path / "m.json"))
    assert code == usage.EXIT_FAILED
    assert (
        err
        == "diabetes-progression: error: training needs numpy: pip install 'diabetes-progression[train]'\n"
    )


# --- help -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [[], ["predict"], ["info"], ["call"]])
def test_help_documents_the_exit_statuses(capsys, command: list[str]) -> None:
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "exit status:" in out
    for status in (
        usage.EXIT_OK,
        usage.EXIT_FAILED,
        usage.EXIT_USAGE,
        usage.EXIT_INVALID_INPUT,
        usage.EXIT_ACCESS_DENIED,
    ):
        assert f"\n  {status}  " in out


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("predict", "for a refused BMI, its error shape"),
        ("call", "for an error answer or a refused BMI, the error shape"),
        ("info", "the artifact and the input limits"),
        ("diff", "print the comparison as JSON"),
    ],
)
def test_json_help_says_what_each_command_prints(capsys, command: str, says: str) -> None:
    out = " ".join(run(capsys, command, "--help")[1].split())
    assert says in out.split("--json ", 1)[1]


def test_json_prints_the_error_shape_only_for_refused_input(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "predict", "--json", "--file", str(tmp_path / "absent"))
    assert (code, out) == (usage.EXIT_FAILED, "")  # no answer: nothing on standard output
    code, out, _ = run(capsys, "predict", "--json", "500")
    assert code == usage.EXIT_INVALID_INPUT
    assert json.loads(out)["error"]["code"] == "validation_error"


def test_top_level_help_lists_every_command_and_version(capsys) -> None:
    out = run(capsys, "--help")[1]
    for command in ("predict", "info", "call", "train"):
        assert f"    {command} " in out
    assert run(capsys, "--version")[1] == f"diabetes-progression {model.__version__}\n"
