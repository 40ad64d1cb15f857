"""The image's contents and CMD are complete: the function runs from an image-equivalent task root under
the real Lambda Runtime Interface Emulator, and refuses to start with a bad artifact."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.core import contract
from model.core.artifact import Gate, ModelArtifact
from model.train.artifact_file import write_artifact_atomically
from scripts.dev.apigw_proxy import proxy_event
from scripts.dev.image_root import build_image_root, build_runtime_dir
from scripts.dev.rie import RIE, EmulatedFunction, isolated_python

pytestmark = pytest.mark.skipif(not RIE.exists(), reason="scripts/setup installs the emulator")

ARTIFACT = Path("model/artifacts/model.json")
# What the infrastructure configures on the function, with this suite's stage name.
FUNCTION_ENV = contract.function_environment(stage="integration", log_level="INFO")


def event(method: str, path: str, body: Any = None, request_id: str = "rie-request-1") -> dict[str, Any]:
    payload = b"" if body is None else json.dumps(body).encode()
    return proxy_event(method, path, payload, request_id=request_id, stage="prod")


@pytest.fixture(scope="module")
def task_root(tmp_path_factory: pytest.TempPathFactory, model_artifact_path: Path) -> Path:
    root = build_image_root(tmp_path_factory.mktemp("image") / "var-task")
    assert (root / ARTIFACT).read_bytes() == model_artifact_path.read_bytes()
    return root


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_runtime_dir(tmp_path_factory.mktemp("runtime") / "site-packages")


@pytest.fixture(scope="module")
def function(
    task_root: Path, runtime_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatedFunction]:
    log = tmp_path_factory.mktemp("logs") / "function.log"
    with EmulatedFunction(task_root, runtime_dir, FUNCTION_ENV, log_file=log) as running:
        yield running


def json_lines(function: EmulatedFunction) -> list[dict[str, Any]]:
    """The function's structured log lines (the emulator's own lines are plain text)."""
    return [json.loads(line) for line in function.output().splitlines() if line.startswith("{")]


def test_the_isolated_interpreter_sees_only_the_image(task_root: Path, runtime_dir: Path) -> None:
    python, env = isolated_python(task_root, runtime_dir, FUNCTION_ENV)
    probe = (
        "import importlib.util as u, json, lambda_fn.handler, awslambdaric;"
        "print(json.dumps({'handler': lambda_fn.handler.__file__, 'ric': awslambdaric.__file__,"
        " 'importable': [m for m in ('numpy', 'sklearn', 'boto3', 'model.train') if u.find_spec(m)]}))"
    )
    result = subprocess.run(
        [*python, "-c", probe], cwd=task_root, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    found = json.loads(result.stdout.splitlines()[-1])
    assert Path(found["handler"]).is_relative_to(task_root)
    assert Path(found["ric"]).is_relative_to(runtime_dir)
    assert found["importable"] == []  # the training stack and the SDK are not in the image and cannot leak in


def test_health_over_the_emulator(function: EmulatedFunction, model_artifact: ModelArtifact) -> None:
    status, result = function.invoke(event("GET", "/health"))
    assert status == 200, function.output()
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"status": "ok", "model_version": model_artifact.model_version}


def test_predictions_over_the_emulator(function: EmulatedFunction, model_artifact: ModelArtifact) -> None:
    slope, intercept = model_artifact.coefficients.slope, model_artifact.coefficients.intercept
    _, single = function.invoke(event("POST", "/v1/predict", {"bmi": 27.3}))
    assert single["statusCode"] == 200
    assert json.loads(single["body"])["prediction"] == slope * 27.3 + intercept
    _, batch = function.invoke(event("POST", "/v1/predict/batch", {"bmi": [20.0, 50.0]}))
    assert json.loads(batch["body"])["extrapolated"] == [False, True]
    _, legacy = function.invoke(event("POST", "/stream", {"input": 0.0}))
    assert json.loads(legacy["body"]) == {
        "Response Predict": [slope * model_artifact.feature.sklearn_mean + intercept]
    }


def test_errors_over_the_emulator(function: EmulatedFunction) -> None:
    _, invalid = function.invoke(event("POST", "/v1/predict", {"bmi": "27.3"}))
    assert invalid["statusCode"] == 422
    assert json.loads(invalid["body"])["error"]["code"] == "validation_error"
    _, wrong_method = function.invoke(event("GET", "/v1/predict"))
    assert wrong_method["statusCode"] == 405
    assert wrong_method["multiValueHeaders"]["Allow"] == ["POST"]


def test_the_emulated_function_logs_and_emits_metrics(
    function: EmulatedFunction, model_artifact: ModelArtifact
) -> None:
    function.invoke(event("POST", "/v1/predict", {"bmi": 31.0}, request_id="rie-metrics"))
    function.invoke(event("POST", "/v1/predict", {"bmi": "x"}, request_id="rie-rejected"))
    lines = json_lines(function)
    loaded = [line for line in lines if line.get("message") == "model loaded"]
    assert len(loaded) == 1  # the model is loaded once, at init
    assert loaded[0]["model_version"] == model_artifact.model_version
    cold = [line for line in lines if contract.METRIC_COLD_START in line]
    assert len(cold) == 1  # one process, one cold start, however many invocations
    served = [line for line in lines if line.get("request_id") == "rie-metrics" and "_aws" in line]
    assert served
    assert served[0][contract.METRIC_PREDICTIONS] == [1.0]
    assert served[0]["stage"] == "integration"
    (rejected,) = [line for line in lines if line.get("correlation_id") == "rie-rejected"]
    assert rejected["message"] == "request rejected"
    assert rejected["model_version"] == model_artifact.model_version
    assert rejected["function_name"]  # the Lambda context reached the logger


# --- Fail closed --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def damaged_root(task_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the task root whose bundled artifact each test below damages in its own way."""
    return Path(shutil.copytree(task_root, tmp_path_factory.mktemp("damaged") / "var-task", symlinks=True))


def damage(root: Path, how: str, model: ModelArtifact) -> None:
    artifact = root / ARTIFACT
    if how == "missing":
        artifact.unlink(missing_ok=True)
    elif how == "tampered":
        document = model.to_document()
        document["coefficients"]["intercept"] += 1.0
        artifact.write_text(json.dumps(document))
    elif how == "below the quality gate":
        gates = tuple(
            Gate.evaluate(g.name, g.comparison, g.threshold, 0.1) if g.comparison == ">=" else g
            for g in model.metrics.gates
        )
        write_artifact_atomically(
            dataclasses.replace(model, metrics=dataclasses.replace(model.metrics, gates=gates)), artifact
        )


@pytest.mark.parametrize("how", ["missing", "tampered", "below the quality gate"])
def test_a_bad_bundled_artifact_fails_init(
    how: str, damaged_root: Path, runtime_dir: Path, model_artifact: ModelArtifact, tmp_path: Path
) -> None:
    # Given an image whose bundled artifact is damaged
    damage(damaged_root, how, model_artifact)
    log = tmp_path / "function.log"
    with EmulatedFunction(damaged_root, runtime_dir, FUNCTION_ENV, log_file=log) as function:
        # When the first request arrives (Lambda's init phase runs the handler module's import)
        status, result = function.invoke(event("GET", "/health"))
        output = function.output()
    # Then init fails, no request is answered, and the reason is in the log
    assert status == 502, output
    assert result["errorType"] == "ArtifactError"
    assert "Init failed" in output or "INIT RTDONE(status: error)" in output
    assert '"message":"model artifact rejected; refusing to start"' in output
    assert "statusCode" not in result
