"""The README's run command, ``scripts/serve``: sets up what serving needs, trains when there is no valid
model, serves, prints the docs URL, and stops cleanly on Ctrl-C; what can go wrong before it serves (a port
in use, no Python 3.13, a failed training) ends in one line that says what to do, and a non-zero exit."""

from __future__ import annotations

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
import requests

from model.core.serving import load_artifact
from tests.e2e.conftest import REPO_ROOT
from tests.e2e.target import configured_base_url

START_TIMEOUT_SECONDS = 300  # includes scripts/setup, which is quick once the environment exists
SERVE = str(REPO_ROOT / "scripts" / "serve")


@pytest.fixture
def this_machine() -> None:
    if configured_base_url(os.environ):
        pytest.skip("the serve command runs on this machine: not checked against a deployed stage")


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_serve_trains_a_missing_model_serves_it_and_stops_on_ctrl_c(loopback_target, tmp_path):
    artifact = tmp_path / "model.json"  # no model here yet: serve must train one
    process = subprocess.Popen(
        [SERVE],
        cwd=tmp_path,  # works from any directory
        env={**os.environ, "PORT": "0", "MODEL_ARTIFACT_PATH": str(artifact)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        output: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        for line in process.stdout:
            output.append(line)
            if line.startswith("API docs: ") or time.monotonic() > deadline:
                break
        transcript = "".join(output)
        assert output[-1].startswith("API docs: http://127.0.0.1:"), transcript
        assert "training one" in transcript, transcript
        docs_url = output[-1].split()[2]
        # It says what it serves: the model's version and where its artifact is
        served = requests.get(docs_url.replace("/docs", "/health"), timeout=30).json()
        assert served["model_version"] == load_artifact(artifact).model_version
        assert f"Model {served['model_version']} from {artifact}" in transcript
        assert "swagger-ui" in requests.get(docs_url, timeout=30).text

        process.send_signal(signal.SIGINT)
        remaining, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, remaining
    assert "Stopped." in remaining
    assert "Traceback" not in remaining
    # One readable line per request by default: no JSON log line, no EMF record
    assert '{"' not in transcript + remaining


def test_help_is_for_people_and_sets_nothing_up(this_machine, tmp_path):
    # Given a copy of the repository's scripts with no environment set up
    copy = _scripts_copy(tmp_path)
    # When someone asks for help
    result = run(str(copy / "scripts" / "serve"), "--help", cwd=tmp_path)
    # Then they get the usage at once, and nothing was installed or trained
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ./scripts/serve [--port N]")
    for option in ("--port", "--host", "--json-logs", "--rie", "PORT", "MODEL_ARTIFACT_PATH"):
        assert option in result.stdout
    assert ":mod:" not in result.stdout  # written for people, not a module docstring
    assert result.stderr == ""
    assert not (copy / ".venv").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "abc"], "serve: 'abc' is not a port number (0-65535)"),
        (["--port", "65536"], "serve: '65536' is not a port number (0-65535)"),
        (["--port"], "serve: --port needs a number (see --help)"),
        (["--nope"], "serve: unknown option '--nope' (see --help)"),
    ],
)
def test_a_wrong_option_is_one_clean_line_and_status_2(this_machine, args, said):
    result = run(SERVE, *args)
    assert (result.returncode, result.stderr.splitlines()) == (2, [said])


def test_a_port_in_use_is_one_line_naming_it_and_the_option(this_machine, taken_port):
    result = run(SERVE, "--port", str(taken_port))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"serve: port {taken_port} is already in use on this machine: serve on another with --port N "
        "(or PORT=N)"
    ]


def test_the_server_itself_says_the_same_when_it_finds_the_port_taken(
    this_machine, taken_port, model_artifact_path
):
    env = {**os.environ, "MODEL_ARTIFACT_PATH": str(model_artifact_path)}
    result = run(
        sys.executable,
        "-m",
        "scripts.dev.server",
        "--port",
        str(taken_port),
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"serve: port {taken_port} is already in use on 127.0.0.1: serve on another with --port N (or PORT=N)"
    ]


@pytest.mark.slow
def test_a_failed_training_is_one_line_and_a_non_zero_exit(this_machine, tmp_path):
    # Given an artifact path that cannot be written (its parent is a file)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = {**os.environ, "PORT": "0", "MODEL_ARTIFACT_PATH": str(blocker / "model.json")}
    result = run(SERVE, env=env)
    assert result.returncode == 1
    *_progress, last = result.stderr.splitlines()
    assert last.startswith(f"serve: training the model failed: error: cannot write {blocker / 'model.json'}")
    assert "Traceback" not in result.stderr
    assert "Serving" not in result.stdout


def test_no_python_3_13_is_one_line_saying_how_to_get_it(this_machine, tmp_path):
    # Given a machine whose PATH has no Python 3.13 (only the system's directories, no pyenv or uv)
    system_path = "/usr/bin:/bin"
    for directory in system_path.split(":"):
        for name in ("python3.13", "python3"):
            found = shutil.which(name, path=directory)
            if (
                found
                and run(found, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))").returncode == 0
            ):
                pytest.skip(f"{found} is Python 3.13 on this machine")
    copy = _scripts_copy(tmp_path)
    env = {"PATH": system_path, "HOME": str(tmp_path), "PORT": "0"}
    # When serve runs for the first time
    result = run(str(copy / "scripts" / "serve"), env=env, cwd=tmp_path)
    # Then it stops with one line that names what is missing and how to install it
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("setup: Python 3.13 is needed and was not found: ")
    assert "PYTHON=/path/to/python3.13" in line
    assert not (copy / ".venv").exists()


def _scripts_copy(tmp_path: Path) -> Path:
    """The files scripts/serve and scripts/setup read before the environment exists."""
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    for name in ("scripts/serve", "scripts/setup"):
        shutil.copy2(REPO_ROOT / name, copy / name)
    for requirements in REPO_ROOT.glob("requirements*.txt"):
        shutil.copy2(requirements, copy / requirements.name)
    (copy / "lambda_fn").mkdir()
    shutil.copy2(REPO_ROOT / "lambda_fn" / "requirements.txt", copy / "lambda_fn" / "requirements.txt")
    shutil.copy2(REPO_ROOT / ".nvmrc", copy / ".nvmrc")
    return copy
