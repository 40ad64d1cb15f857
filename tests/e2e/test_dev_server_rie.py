"""``scripts/dev_server --rie``: the same API, served by the function under the real Lambda Runtime
Interface Emulator from the image-equivalent directory."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.assertions import assert_error, json_of
from tests.e2e.conftest import LocalServer


@pytest.mark.slow
def test_rie_mode_serves_the_image_equivalent_function(loopback_target, model_artifact, tmp_path):
    log_path = tmp_path / "server.log"
    with LocalServer(tmp_path / "unused-artifact-override", log_path, "--rie") as server:
        # The image carries its own copy of the artifact: the override above must not reach it.
        health = json_of(requests.get(f"{server.url}/health", timeout=60), 200)
        assert health["model_version"] == model_artifact.model_version

        response = requests.post(f"{server.url}/v1/predict", json={"bmi": 31.5}, timeout=60)
        expected = model_artifact.coefficients.slope * 31.5 + model_artifact.coefficients.intercept
        assert json_of(response, 200)["prediction"] == pytest.approx(expected, rel=1e-12)

        assert_error(requests.get(f"{server.url}/nowhere", timeout=60), 404, "not_found")

    # What only the emulator reports: the init phase and a REPORT line per invocation, as in CloudWatch.
    log = log_path.read_text()
    assert "INIT REPORT(durationMs:" in log
    assert log.count("REPORT RequestId:") == 4  # the readiness probe and the three requests above
