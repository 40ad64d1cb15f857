"""The image smoke test, with a stand-in `docker` CLI whose `run` starts the real Lambda Runtime Interface
Emulator on the published port, as the base image's entrypoint does inside the container (there is no
container engine here), in front of the real function: the container lifecycle (run, logs, rm) and the
checks against the model the release built are both exercised."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.core import contract
from model.core.artifact import write_artifact_atomically
from model.core.serving import load_artifact
from scripts import REPO_ROOT
from scripts.dev.rie import RIE, free_port, wait_for_port
from scripts.release import smoke_image as smoke

pytestmark = pytest.mark.skipif(not RIE.exists(), reason="scripts/setup installs the emulator")

FAKE_DOCKER = """
import json, os, signal, socket, subprocess, sys
from pathlib import Path

state = Path(os.environ["FAKE_DOCKER_STATE"])
state.mkdir(exist_ok=True)
(state / "calls").open("a").write(json.dumps(sys.argv[1:]) + "\\n")
command = sys.argv[1]
if command == "run":
    port = sys.argv[sys.argv.index("--publish") + 1].split(":")[1]
    with socket.socket() as probe:  # the runtime API's port: the default (9001) may be another emulator's
        probe.bind(("127.0.0.1", 0))
        runtime_api = f"127.0.0.1:{probe.getsockname()[1]}"
    emulator = [os.environ["FAKE_DOCKER_RIE"], "--runtime-interface-emulator-address", f"127.0.0.1:{port}"]
    emulator += ["--runtime-api-address", runtime_api]
    process = subprocess.Popen(
        [*emulator, sys.executable, "-m", "awslambdaric", os.environ["FAKE_DOCKER_HANDLER"]],
        stdout=(state / "log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (state / "pid").write_text(str(process.pid))
    print("c0ffee")
elif command == "logs":
    print((state / "log").read_text())
elif command == "rm":
    os.killpg(int((state / "pid").read_text()), signal.SIGTERM)
"""


@pytest.fixture
def fake_docker(tmp_path: Path, model_artifact_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`docker` on PATH; the function it runs serves the bundled artifact from this checkout."""
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    docker.chmod(0o755)
    state = tmp_path / "docker-state"
    for name, value in contract.function_environment(stage="smoke", log_level="INFO").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(contract.ENV_MODEL_PATH, str(model_artifact_path))
    monkeypatch.setenv("PATH", f"{docker.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_STATE", str(state))
    monkeypatch.setenv("FAKE_DOCKER_RIE", str(RIE))
    monkeypatch.setenv("FAKE_DOCKER_HANDLER", contract.HANDLER)
    monkeypatch.chdir(REPO_ROOT)
    yield state
    if (state / "pid").exists():  # never leave an emulator behind, whatever the test did
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int((state / "pid").read_text()), signal.SIGKILL)


def docker_calls(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "calls").read_text().splitlines()]


def test_a_correct_image_is_run_like_lambda_on_loopback_passes_and_is_removed(
    fake_docker, model_artifact_path, capsys
):
    assert smoke.main(["--image", "diabetes-progression:abc", "--artifact", str(model_artifact_path)]) == 0

    assert "bmi=27.3" in capsys.readouterr().out
    run, *_, remove = docker_calls(fake_docker)
    assert run[:7] == ["run", "--detach", "--user", "993:990", "--read-only", "--tmpfs", "/tmp"]
    assert run[7] == "--publish"
    assert run[8].startswith("127.0.0.1:")
    assert run[8].endswith(":8080")
    assert run[9:] == ["diabetes-progression:abc"]
    assert remove == ["rm", "--force", "c0ffee"]


def test_an_image_serving_another_model_fails_shows_its_log_and_is_removed(
    fake_docker, model_artifact_path, tmp_path, capsys
):
    # Given an image whose function serves a different model than the release built
    built = load_artifact(model_artifact_path)
    other = dataclasses.replace(built, coefficients=dataclasses.replace(built.coefficients, slope=9.0))
    write_artifact_atomically(other, tmp_path / "expected.json")

    assert smoke.main(["--image", "img", "--artifact", str(tmp_path / "expected.json")]) == 1

    err = capsys.readouterr().err
    assert "prediction" in err
    assert "--- container log ---" in err
    assert "START RequestId" in err
    assert docker_calls(fake_docker)[-1] == ["rm", "--force", "c0ffee"]


def test_an_image_whose_function_cannot_initialise_fails_with_its_error(
    fake_docker, model_artifact_path, tmp_path, monkeypatch, capsys
):
    # Given a function whose bundled artifact is missing: its init fails inside the emulator
    monkeypatch.setenv(contract.ENV_MODEL_PATH, str(tmp_path / "absent.json"))

    assert smoke.main(["--image", "img", "--artifact", str(model_artifact_path)]) == 1

    # Then the function's own error report is shown
    err = capsys.readouterr().err
    assert "failed: 502" in err
    assert "errorMessage" in err


def test_nothing_listening_is_reported_without_waiting_forever():
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="nothing listens"):
        wait_for_port(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    assert time.monotonic() - started < 5
