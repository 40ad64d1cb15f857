"""The installable package against the target: its client's typed calls, its command line's ``call``, and
its Python API, which answers what the service answers for the same artifact.

Against the local service on every run; against Staging in the Release (signed with the caller's
credentials), where the Python API is given the artifact the stage serves.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from model.core import contract
from model.core.jsontypes import ValidationError
from model.sdk.client import ApiError, Client
from model.sdk.predictor import Model
from scripts import REPO_ROOT
from tests.e2e.target import Target

BMIS = [10.0, 18.0, 22.5, 27.3, 42.2, 45.1, 100.0]
README_BASE_URL = "http://127.0.0.1:3000"
README_CALLS = [
    line.split("#")[0].strip()
    for line in (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    if line.startswith(f"diabetes-progression call --url {README_BASE_URL}")
]


@pytest.fixture(scope="module")
def served(client: Client) -> Model:
    """The Python API over the artifact the target serves."""
    return Model(client.model_info()["artifact"])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The package's command line (``diabetes-progression``), run from this checkout: ``python -m model``."""
    return subprocess.run(
        [sys.executable, "-m", "model", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.smoke
def test_the_client_reads_the_served_model_as_a_typed_artifact(client: Client, served: Model) -> None:
    info = client.model_info()
    assert info["artifact"].model_version == client.health()["model_version"]
    assert info["limits"] == {
        "bmi_min": contract.BMI_MIN,
        "bmi_max": contract.BMI_MAX,
        "batch_max": contract.BATCH_MAX,
    }
    assert all(gate.passed for gate in info["artifact"].metrics.gates)


@pytest.mark.smoke
@pytest.mark.parametrize("bmi", BMIS)
def test_the_python_api_answers_what_the_service_answers(client: Client, served: Model, bmi: float) -> None:
    assert client.predict(bmi) == served.predict(bmi)


@pytest.mark.smoke
def test_a_batch_is_the_same_answer_too(client: Client, served: Model) -> None:
    assert client.predict_batch(BMIS) == served.predict_batch(BMIS)


def test_a_full_batch_is_the_same_answer(client: Client, served: Model) -> None:
    many = [18.0 + (i % 250) / 10 for i in range(contract.BATCH_MAX)]
    assert client.predict_batch(many) == served.predict_batch(many)


@pytest.mark.parametrize(
    ("bmis", "single"), [([500.0], True), ([9.99], True), ([25.0, 500.0, 5.0], False), ([], False)]
)
def test_the_service_s_refusal_is_the_api_s_validation_error(
    client: Client, served: Model, bmis: list[float], single: bool
) -> None:
    with pytest.raises(ApiError) as refused:
        client.predict(bmis[0]) if single else client.predict_batch(bmis)
    with pytest.raises(ValidationError) as raised:
        served.predict(bmis[0]) if single else served.predict_batch(bmis)
    assert (refused.value.status, refused.value.code) == (422, "validation_error")
    assert refused.value.details == [{"field": i.field, "issue": i.issue} for i in raised.value.issues]


def test_the_openapi_document_comes_through(client: Client) -> None:
    assert set(client.openapi()["paths"]) == {route.path for route in contract.ROUTES}


@pytest.mark.smoke
def test_call_prints_the_service_s_answer_as_predict_prints_the_same_model_s(
    target: Target, served: Model, tmp_path: Path
) -> None:
    result = cli("call", "--url", target.base_url, "--json", "27.3")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == served.predict(27.3)
    remote = cli("call", "--url", target.base_url, "27.3", "45.1")
    assert remote.returncode == 0, remote.stderr
    (tmp_path / "served.json").write_text(served.artifact.to_json(), encoding="utf-8")
    local = cli("predict", "--artifact", str(tmp_path / "served.json"), "27.3", "45.1")
    assert remote.stdout == local.stdout


def test_call_prints_the_api_s_error_message_and_fails(target: Target) -> None:
    result = cli("call", "--url", target.base_url, "500")
    assert result.returncode == 4
    assert result.stderr == (
        "diabetes-progression: error: The request body is not valid. bmi: must be between 10 and 100 kg/m^2 "
        "(HTTP 422, validation_error)\n"
    )
    health = cli("call", "--url", target.base_url, "--health")
    assert health.returncode == 0
    assert health.stdout.startswith("ok (model bmi-linear-")


@pytest.mark.parametrize("example", README_CALLS)
def test_the_readme_s_call_works_as_written(example: str, loopback_target: Target) -> None:
    args: list[Any] = shlex.split(example.replace(README_BASE_URL, loopback_target.base_url.rstrip("/")))
    assert args[0] == "diabetes-progression"
    result = cli(*args[1:])
    assert result.returncode == 0, result.stderr
    assert re.search(r"^model bmi-linear-[0-9a-f]{12}$", result.stdout, flags=re.MULTILINE)


def test_the_readme_shows_a_local_call() -> None:
    assert README_CALLS
