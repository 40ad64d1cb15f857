"""What the development server shows the person at the terminal, and how it follows a retrained model:
one line per request by default, the function's JSON logs and metrics with ``--json-logs``, the new model
served on the request after retraining."""

from __future__ import annotations

import json
import re
import shutil

from model.core.serving import load_artifact
from model.sdk.client import NO_RETRY, Client
from tests.conftest import train_cli
from tests.e2e.conftest import LocalServer


def _json_lines(log: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_by_default_one_readable_line_per_request(loopback_target, model_artifact_path, tmp_path):
    log_path = tmp_path / "server.log"
    with LocalServer(model_artifact_path, log_path) as server:
        client = Client(server.url, retry=NO_RETRY)
        client.predict_batch([22.0, 27.3])
        client.send("GET", "/nowhere")
    log = log_path.read_text()
    assert _json_lines(log) == []
    # One line each after the readiness probe's: time, method, route, status, duration, and what it gave
    timing = re.compile(r"^\d\d:\d\d:\d\d (.*) \d+\.\d ms( .*)?$")
    lines = [match.expand(r"\1\2") for line in log.splitlines() if (match := timing.match(line))]
    assert lines == [
        "GET /health 200",
        "POST /v1/predict/batch 200 (2 predictions)",
        "GET (not a route) 404 (not_found)",
    ]


def test_json_logs_shows_the_functions_log_lines_and_metrics(loopback_target, model_artifact_path, tmp_path):
    log_path = tmp_path / "server.log"
    with LocalServer(model_artifact_path, log_path, "--json-logs") as server:
        Client(server.url, retry=NO_RETRY).predict(27.3)
    records = _json_lines(log_path.read_text())
    assert any(record.get("message") == "model loaded" for record in records)
    assert any("_aws" in record for record in records)  # an EMF metrics record


def test_a_retrained_model_is_served_from_the_next_request(loopback_target, model_artifact_path, tmp_path):
    # Given a server started on an artifact
    artifact = tmp_path / "model.json"
    shutil.copy(model_artifact_path, artifact)
    log_path = tmp_path / "server.log"
    with LocalServer(artifact, log_path) as server:
        client = Client(server.url, retry=NO_RETRY)
        before = client.health()["model_version"]
        # When the model is retrained in place
        trained = train_cli("--seed", "1", "--out", str(artifact))
        assert trained.returncode == 0, trained.stderr
        retrained = load_artifact(artifact).model_version
        assert retrained != before
        # Then the next request is answered by the new model, and the terminal says so
        assert client.health()["model_version"] == retrained
    assert f"model reloaded from {artifact}: now serving {retrained}" in log_path.read_text()
