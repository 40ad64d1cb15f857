"""The README's run command, ``scripts/serve``: sets up, trains when there is no valid model, serves,
prints the docs URL, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests

from model.artifact import load_artifact
from tests.e2e.conftest import REPO_ROOT

START_TIMEOUT_SECONDS = 300  # includes scripts/setup, which is quick once the environment exists


@pytest.mark.slow
def test_serve_trains_a_missing_model_serves_it_and_stops_on_ctrl_c(loopback_target, tmp_path):
    artifact = tmp_path / "model.json"  # no model here yet: serve must train one
    process = subprocess.Popen(
        [str(REPO_ROOT / "scripts" / "serve")],
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

        # It serves the model it just trained, and the printed docs URL is the docs page
        served = requests.get(docs_url.replace("/docs", "/health"), timeout=30).json()
        assert served["model_version"] == load_artifact(artifact).model_version
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
