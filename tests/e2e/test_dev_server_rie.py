"""``python -m scripts.dev.server --rie``: the same API, served by the function under the real Lambda Runtime
Interface Emulator from the image-equivalent directory, built with the artifact MODEL_ARTIFACT_PATH names."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from model.core import contract
from model.core.serving import load_artifact
from model.sdk.client import NO_RETRY, Client
from tests.conftest import train_cli
from tests.e2e.assertions import assert_error, json_of
from tests.e2e.client import ApiClient
from tests.e2e.conftest import REPO_ROOT, LocalServer


@pytest.mark.slow
def test_rie_mode_serves_the_image_equivalent_function(loopback_target, model_artifact, tmp_path):
    # Given an artifact other than the default one, chosen with MODEL_ARTIFACT_PATH
    chosen_path = tmp_path / "seed-1.json"
    trained = train_cli("--seed", "1", "--out", str(chosen_path))
    assert trained.returncode == 0, trained.stderr
    chosen = load_artifact(chosen_path)
    assert chosen.model_version != model_artifact.model_version

    log_path = tmp_path / "server.log"
    with LocalServer(chosen_path, log_path, "--rie") as server:
        # Then the image-equivalent directory holds the chosen artifact where the image holds its own
        api = ApiClient(Client(server.url, timeout=60, retry=NO_RETRY))
        health = json_of(api.get("/health"), 200)
        assert health["model_version"] == chosen.model_version

        response = api.post("/v1/predict", json={"bmi": 31.5})
        expected = chosen.coefficients.slope * 31.5 + chosen.coefficients.intercept
        assert json_of(response, 200)["prediction"] == pytest.approx(expected, rel=1e-12)

        assert_error(api.get("/nowhere"), 404, "not_found")

    # What only the emulator reports: the init phase and a REPORT line per invocation, as in CloudWatch.
    log = log_path.read_text()
    assert "INIT REPORT(durationMs:" in log
    assert log.count("REPORT RequestId:") == 4  # the readiness probe and the three requests above


@pytest.mark.slow
def test_rie_mode_refuses_to_start_without_the_chosen_artifact(loopback_target, tmp_path):
    missing = tmp_path / "missing.json"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.dev.server", "--port", "0", "--rie"],
        cwd=REPO_ROOT,
        env={**os.environ, contract.ENV_MODEL_PATH: str(missing)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("serve: the model artifact cannot be served: ")
    assert str(missing) in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr
