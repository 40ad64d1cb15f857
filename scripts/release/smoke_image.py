"""Smoke-tests the built function image through the Runtime Interface Emulator its base image ships (the
entrypoint starts it on port 8080): `GET /health` and `POST /v1/predict` must be answered by the model the
image was built with. Standard library and project modules only: it runs before any project environment.

    python -m scripts.release.smoke_image --image diabetes-progression:abc123 --artifact model.json
    python -m scripts.release.smoke_image --endpoint http://127.0.0.1:9000 --artifact ...  # emulator is up
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from model.core import contract
from model.core.artifact import ModelArtifact
from model.core.serving import load_artifact
from scripts.dev.apigw_proxy import proxy_event
from scripts.dev.rie import free_port, invoke, wait_for_port

EMULATOR_PORT: Final = 8080  # where the base image's entrypoint starts the emulator
SMOKE_BMI: Final = 27.3  # inside the training range: a plain, non-extrapolated prediction
# Lambda runs container images as a non-root user on a read-only file system with a writable /tmp: a file
# the function cannot read (say, a 0600 model) or a write outside /tmp must fail here, not after deployment.
LAMBDA_LIKE_RUN_OPTIONS: Final = ("--user", "993:990", "--read-only", "--tmpfs", "/tmp")  # noqa: S108


class SmokeTestError(Exception):
    """The image did not answer as a correct build of this release must."""


def request(endpoint: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """The JSON object the function answers ``method path`` with, with status 200 (the first invocation
    includes the function's init: imports, artifact verification)."""
    event = proxy_event(method, path, b"" if body is None else json.dumps(body).encode(), stage="smoke")
    try:
        status, result = invoke(endpoint, event, timeout=60)
        if status == 200 and isinstance(result, dict) and result.get("statusCode") == 200:
            answer = json.loads(result.get("body") or "null")
            if isinstance(answer, dict):
                return answer
    except (OSError, ValueError) as error:  # no answer (URLError, timeout), or not JSON
        raise SmokeTestError(f"{method} {path}: {error}") from error
    # The emulator answers a failed init or invocation with 502 {"errorType": ..., "errorMessage": ...}.
    raise SmokeTestError(f"{method} {path} failed: {status} {json.dumps(result)[:2000]}")


def smoke_test(endpoint: str, artifact: ModelArtifact) -> None:
    wait_for_port(endpoint, timeout=30)
    health = request(endpoint, "GET", contract.PATH_HEALTH)
    answer = request(endpoint, "POST", contract.PATH_PREDICT, {"bmi": SMOKE_BMI})
    served = {health.get("model_version"), answer.get("model_version")}
    if served != {artifact.model_version}:
        raise SmokeTestError(f"the image serves model {served}, the release built {artifact.model_version}")
    prediction, expected = answer.get("prediction"), artifact.coefficients.predict(SMOKE_BMI)
    if not isinstance(prediction, float) or not math.isclose(prediction, expected, rel_tol=1e-9):
        raise SmokeTestError(
            f"{contract.PATH_PREDICT}: prediction {prediction!r}, artifact says {expected!r}"
        )
    print(f"smoke: {contract.PATH_HEALTH} and {contract.PATH_PREDICT} bmi={SMOKE_BMI} -> {prediction}: 200")


@contextmanager
def running_container(image: str) -> Iterator[str]:
    """Runs the image with the emulator published on a free loopback port; yields its endpoint."""
    port = free_port()
    publish = ("--publish", f"127.0.0.1:{port}:{EMULATOR_PORT}")
    run = ["docker", "run", "--detach", *LAMBDA_LIKE_RUN_OPTIONS, *publish, image]
    container = subprocess.run(run, check=True, capture_output=True, text=True).stdout.strip()
    try:
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True, check=False)
        print(f"--- container log ---\n{logs.stdout}{logs.stderr}--- end ---", file=sys.stderr)
        raise
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--image", help="image to run (its entrypoint starts the emulator)")
    target.add_argument("--endpoint", help="base URL of an emulator that is already running")
    parser.add_argument("--artifact", type=Path, required=True, help="the model artifact the image bundles")
    args = parser.parse_args(argv)

    artifact = load_artifact(args.artifact)
    print(f"smoke: expecting model {artifact.model_version}")
    try:
        if args.endpoint:
            smoke_test(args.endpoint, artifact)
        else:
            with running_container(args.image) as endpoint:
                smoke_test(endpoint, artifact)
    except (SmokeTestError, TimeoutError) as failure:
        print(f"smoke: FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
