"""The end-to-end suite's target: one base URL, whichever environment is behind it.

- ``E2E_BASE_URL=https://...``: any running deployment (or a ``scripts/serve`` you started yourself);
- ``E2E_STACK_NAME=Staging-Service`` (+ ``AWS_REGION``): the ``ApiUrl`` output of that CloudFormation stack;
- neither: the suite starts the local development server on a free loopback port and stops it at the end.

A non-loopback target is a deployed stage behind API Gateway: its protected routes are signed with SigV4
from the caller's AWS credentials. ``pytest tests/e2e -m smoke`` is the post-deploy smoke subset.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.core import contract
from model.sdk.client import NO_RETRY, Client, ConfigurationError
from tests.e2e.client import ApiClient
from tests.e2e.target import Target, configured_base_url

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if base_url := configured_base_url(os.environ):
        yield Target(base_url)
    else:
        artifact: Path = request.getfixturevalue("model_artifact_path")
        log_path = tmp_path_factory.mktemp("dev-server") / "server.log"
        with LocalServer(artifact, log_path) as server:
            yield Target(server.url)


@pytest.fixture(scope="session")
def client(target: Target) -> Client:
    """The package's client for the target: unsigned locally, signing a deployed stage's protected routes with
    the caller's AWS credentials (the region from the URL, else AWS_REGION)."""
    try:
        return Client(target.base_url)
    except ConfigurationError as exc:
        pytest.fail(
            f"{target.base_url} is a deployed stage, and its protected routes cannot be signed: {exc}"
        )


@pytest.fixture(scope="session")
def api(client: Client) -> ApiClient:
    return ApiClient(client)


@pytest.fixture(scope="session")
def model(api: ApiClient) -> dict[str, Any]:
    """The served model's artifact document, as GET /v1/model gives it."""
    body: dict[str, Any] = api.get("/v1/model").json()
    return body["artifact"]


@pytest.fixture
def loopback_target(target: Target) -> Target:
    """For the checks that only ever run against this machine (fuzzing, load, the browser)."""
    if not target.is_loopback:
        pytest.skip("loopback only: not run against a deployed stage")
    return target


class LocalServer:
    """``python -m scripts.dev.server`` on a free port, stopped with SIGINT as a developer's Ctrl-C would."""

    def __init__(self, artifact: Path, log_path: Path, *extra_args: str) -> None:
        self.log_path = log_path
        env = {**os.environ, contract.ENV_MODEL_PATH: str(artifact), "PYTHONUNBUFFERED": "1"}
        self._log = log_path.open("w")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "scripts.dev.server", "--host", "127.0.0.1", "--port", "0", *extra_args],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = self._wait_until_ready()

    def _wait_until_ready(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                pytest.fail(f"the development server exited at start:\n{self.log_path.read_text()}")
            for line in self.log_path.read_text().splitlines():
                if line.startswith(f"Serving {contract.SERVICE_NAME} on "):
                    url = line.rsplit(" ", 1)[1]
                    Client(url, timeout=10, retry=NO_RETRY).health()
                    return url
            time.sleep(0.05)
        self.stop()
        log = self.log_path.read_text()
        pytest.fail(f"the development server did not start in {STARTUP_TIMEOUT_SECONDS}s:\n{log}")

    def stop(self) -> int:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        return self._process.returncode

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        returncode = self.stop()
        # Ctrl-C is the documented way to stop the server: it must end cleanly, not with a traceback.
        assert returncode == 0, (
            f"the development server did not stop cleanly ({returncode}):\n{self.log_path.read_text()}"
        )
