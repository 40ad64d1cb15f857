"""The image smoke test, run against the real Lambda Runtime Interface Emulator and the real function.

There is no container engine here, so the emulator runs on the host exactly as the base image's entrypoint
runs it inside the container (`aws-lambda-rie python -m awslambdaric <handler>`). For `--image`, a stand-in
`docker` CLI starts that same emulator, so the container lifecycle (run, port, logs, rm) is exercised too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_fn import contract
from model.artifact import load_artifact, write_artifact_atomically
from scripts.release import smoke_image as smoke
from tests.unit.delivery.conftest import REPO_ROOT, install_fake_tool, path_with


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def emulator_command(port: int) -> list[str]:
    rie = shutil.which("aws-lambda-rie") or str(REPO_ROOT / ".cache" / "bin" / "aws-lambda-rie")
    return [
        rie, "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
        sys.executable, "-m", "awslambdaric", contract.HANDLER,
    ]  # fmt: skip


def function_environment(artifact: Path) -> dict[str, str]:
    return {
        **os.environ,
        **contract.function_environment(stage="local", log_level="INFO"),
        contract.ENV_MODEL_PATH: str(artifact),
    }


@pytest.fixture
def emulator(trained_artifact: Path, tmp_path: Path) -> Iterator[str]:
    """The function under the real emulator, serving the artifact the release trained."""
    port = free_port()
    with (tmp_path / "emulator.log").open("w") as log:
        process = subprocess.Popen(
            emulator_command(port),
            cwd=REPO_ROOT,
            env=function_environment(trained_artifact),
            stdout=log,
            stderr=log,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- The events -----------------------------------------------------------------------------------------
def test_events_have_the_shape_of_an_api_gateway_rest_proxy_event():
    event = smoke.api_gateway_event("POST", "/v1/predict", {"bmi": 27.3})
    other = smoke.api_gateway_event("GET", "/health")

    assert event["httpMethod"] == "POST"
    assert event["path"] == "/v1/predict"
    assert json.loads(event["body"]) == {"bmi": 27.3}
    assert event["isBase64Encoded"] is False
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert event["requestContext"]["httpMethod"] == "POST"
    assert other["body"] is None
    assert "Content-Type" not in other["headers"]
    assert event["requestContext"]["requestId"] != other["requestContext"]["requestId"]


@pytest.mark.parametrize(
    ("printed", "endpoint"),
    [("127.0.0.1:49153\n", "http://127.0.0.1:49153"), ("127.0.0.1:5\n[::1]:5\n", "http://127.0.0.1:5")],
)
def test_the_published_port_is_read_from_docker_port(printed, endpoint):
    assert smoke.published_endpoint(printed) == endpoint


def test_unexpected_docker_port_output_is_an_error():
    with pytest.raises(smoke.SmokeTestError, match="unexpected"):
        smoke.published_endpoint("8080/tcp -> nothing")


# --- Against the real emulator and function -------------------------------------------------------------
def test_a_correct_build_passes(emulator, trained_artifact, capsys):
    assert smoke.main(["--endpoint", emulator, "--artifact", str(trained_artifact)]) == 0
    assert "POST /v1/predict bmi=27.3" in capsys.readouterr().out


def test_an_image_serving_another_model_fails(emulator, trained_artifact, tmp_path, capsys):
    # Given the artifact the release built, and an image that serves a different model
    built = load_artifact(trained_artifact)
    other = dataclasses.replace(built, coefficients=dataclasses.replace(built.coefficients, slope=9.0))
    write_artifact_atomically(other, tmp_path / "expected.json")

    # When the smoke test checks the image against what the release built
    result = smoke.main(["--endpoint", emulator, "--artifact", str(tmp_path / "expected.json")])

    # Then it fails and says why
    assert result == 1
    assert "prediction" in capsys.readouterr().err


def test_a_function_that_cannot_initialise_fails(trained_artifact, tmp_path, capsys):
    # Given a function whose bundled artifact is missing: its init fails inside the emulator
    port = free_port()
    process = subprocess.Popen(
        emulator_command(port),
        cwd=REPO_ROOT,
        env=function_environment(tmp_path / "absent.json"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # When it is smoke-tested
        result = smoke.main(["--endpoint", f"http://127.0.0.1:{port}", "--artifact", str(trained_artifact)])
    finally:
        process.terminate()
        process.wait(timeout=10)

    # Then the function's own error report is shown
    err = capsys.readouterr().err
    assert result == 1
    assert "the function failed (502)" in err
    assert "errorMessage" in err


def test_nothing_listening_is_reported_without_waiting_forever():
    started = time.monotonic()
    with pytest.raises(smoke.SmokeTestError, match="nothing listens"):
        smoke.wait_for_port(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    assert time.monotonic() - started < 5


# --- `--image`: the container lifecycle, with a stand-in docker CLI --------------------------------------
FAKE_DOCKER = """
import json, os, signal, socket, subprocess, sys
from pathlib import Path

state = Path(os.environ["FAKE_DOCKER_STATE"])
state.mkdir(exist_ok=True)
(state / "calls").open("a").write(json.dumps(sys.argv[1:]) + "\\n")
command = sys.argv[1]
if command == "run":
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (state / "log").open("w")
    emulator = json.loads(os.environ["FAKE_DOCKER_EMULATOR"])
    emulator[2] = f"127.0.0.1:{port}"
    process = subprocess.Popen(emulator, stdout=log, stderr=log, start_new_session=True)
    (state / "container").write_text(json.dumps({"pid": process.pid, "port": port}))
    print("c0ffee")
elif command == "port":
    print(f"127.0.0.1:{json.loads((state / 'container').read_text())['port']}")
elif command == "logs":
    print((state / "log").read_text())
elif command == "rm":
    os.killpg(json.loads((state / "container").read_text())["pid"], signal.SIGTERM)
"""


@pytest.fixture
def fake_docker(tmp_path: Path, trained_artifact: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    state = tmp_path / "docker-state"
    install_fake_tool(tmp_path / "bin", "docker", FAKE_DOCKER)
    for name, value in function_environment(trained_artifact).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setenv("FAKE_DOCKER_STATE", str(state))
    monkeypatch.setenv("FAKE_DOCKER_EMULATOR", json.dumps(emulator_command(0)))
    monkeypatch.chdir(REPO_ROOT)
    yield state
    container = state / "container"
    if container.exists():  # never leave an emulator behind, whatever the test did
        with contextlib.suppress(ProcessLookupError):
            os.kill(json.loads(container.read_text())["pid"], signal.SIGKILL)


def docker_calls(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "calls").read_text().splitlines()]


def test_the_image_is_run_on_loopback_smoke_tested_and_removed(fake_docker, trained_artifact):
    assert smoke.main(["--image", "diabetes-progression:abc", "--artifact", str(trained_artifact)]) == 0

    calls = docker_calls(fake_docker)
    assert calls[0] == [
        "run", "--detach", "--user", "993:990", "--read-only", "--tmpfs", "/tmp",
        "--publish", "127.0.0.1::8080", "diabetes-progression:abc",
    ]  # fmt: skip
    assert calls[1] == ["port", "c0ffee", "8080/tcp"]
    assert calls[-1] == ["rm", "--force", "c0ffee"]


def test_a_failing_image_shows_its_log_and_is_removed(fake_docker, tmp_path, trained_artifact, capsys):
    # Given an image whose function serves a different model than the release built
    built = load_artifact(trained_artifact)
    other = dataclasses.replace(built, coefficients=dataclasses.replace(built.coefficients, intercept=0.0))
    write_artifact_atomically(other, tmp_path / "expected.json")

    assert smoke.main(["--image", "img", "--artifact", str(tmp_path / "expected.json")]) == 1

    err = capsys.readouterr().err
    assert "--- container log ---" in err
    assert "START RequestId" in err
    assert docker_calls(fake_docker)[-1] == ["rm", "--force", "c0ffee"]
