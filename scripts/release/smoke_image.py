"""Smoke-tests the built function image through the Runtime Interface Emulator its base image ships.

The official Lambda base image starts the emulator from its entrypoint, so a plain `docker run` serves
the Lambda invoke API on port 8080. This script runs the image, sends real API Gateway REST proxy events
for `GET /health` and `POST /v1/predict` through that API, and checks the answers against the model
artifact the image was built with: the prediction must be slope * bmi + intercept of that artifact and
carry its version. A failure prints the container's log (init errors show up there) and exits non-zero.

    python -m scripts.release.smoke_image --image diabetes-progression:abc123 \\
        --artifact model/artifacts/model.json
    python -m scripts.release.smoke_image --endpoint http://127.0.0.1:9000 --artifact ...  # emulator is up

Standard library only (plus the project's own artifact schema, event builder and emulator invoke path): it
runs on the build runner before any project environment exists.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from lambda_fn import contract
from model.artifact import ModelArtifact, load_artifact
from scripts.dev.apigw_proxy import proxy_event
from scripts.dev.rie import INVOKE_PATH

EMULATOR_PORT: Final = 8080  # where the base image's entrypoint starts the emulator
SMOKE_BMI: Final = 27.3  # inside the training range: a plain, non-extrapolated prediction
# The first invocation includes the function's init (imports, artifact verification).
INVOKE_TIMEOUT_S: Final = 60.0
STARTUP_TIMEOUT_S: Final = 30.0


class SmokeTestError(Exception):
    """The image did not answer as a correct build of this release must."""


def api_gateway_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    """An API Gateway REST API proxy-integration event, as API Gateway sends it for `method path`."""
    headers: tuple[tuple[str, str], ...] = (
        ("Accept", "application/json"),
        ("Host", "smoke.local"),
        ("User-Agent", "ci-smoke-image"),
    )
    if body is not None:
        headers += (("Content-Type", "application/json"),)
    payload = b"" if body is None else json.dumps(body).encode()
    return proxy_event(method, path, payload, headers=headers, request_id=str(uuid.uuid4()), stage="smoke")


@dataclass(frozen=True, slots=True)
class ProxyResponse:
    status: int
    body: Any  # decoded JSON


def invoke(endpoint: str, event: dict[str, Any], *, timeout: float = INVOKE_TIMEOUT_S) -> ProxyResponse:
    """Sends one event through the emulator's invoke API and decodes the proxy response it returns."""
    request = urllib.request.Request(  # noqa: S310 - the endpoint is the emulator on loopback
        endpoint.rstrip("/") + INVOKE_PATH,
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            payload = json.loads(reply.read())
    except urllib.error.HTTPError as error:
        # The emulator answers 502 with {"errorType": ..., "errorMessage": ...} when init or handler fail.
        detail = error.read().decode(errors="replace")[:2000]
        raise SmokeTestError(
            f"{event['httpMethod']} {event['path']}: the function failed ({error.code}): {detail}"
        ) from error
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as error:
        raise SmokeTestError(
            f"{event['httpMethod']} {event['path']}: no answer from the emulator ({error})"
        ) from error
    if not isinstance(payload, dict) or "statusCode" not in payload:
        # The emulator reports init and handler errors as {"errorType": ..., "errorMessage": ...}.
        raise SmokeTestError(f"{event['httpMethod']} {event['path']}: not a proxy response: {payload!r}")
    body = payload.get("body") or "null"
    try:
        decoded = json.loads(body)
    except json.JSONDecodeError as error:
        raise SmokeTestError(f"{event['path']}: body is not JSON ({error}): {body[:200]!r}") from error
    return ProxyResponse(status=int(payload["statusCode"]), body=decoded)


def check_health(endpoint: str, artifact: ModelArtifact) -> None:
    response = invoke(endpoint, api_gateway_event("GET", contract.PATH_HEALTH))
    if response.status != 200:
        raise SmokeTestError(f"GET {contract.PATH_HEALTH}: status {response.status}: {response.body!r}")
    if artifact.model_version not in json.dumps(response.body):
        raise SmokeTestError(
            f"GET {contract.PATH_HEALTH}: does not report model {artifact.model_version}: {response.body!r}"
        )


def check_predict(endpoint: str, artifact: ModelArtifact) -> float:
    response = invoke(endpoint, api_gateway_event("POST", contract.PATH_PREDICT, {"bmi": SMOKE_BMI}))
    if response.status != 200 or not isinstance(response.body, dict):
        raise SmokeTestError(f"POST {contract.PATH_PREDICT}: status {response.status}: {response.body!r}")
    prediction = response.body.get("prediction")
    expected = artifact.coefficients.predict(SMOKE_BMI)
    if not isinstance(prediction, float) or not math.isclose(prediction, expected, rel_tol=1e-9):
        raise SmokeTestError(
            f"POST {contract.PATH_PREDICT}: prediction {prediction!r}, artifact says {expected!r}"
        )
    if response.body.get("model_version") != artifact.model_version:
        raise SmokeTestError(
            f"POST {contract.PATH_PREDICT}: served model {response.body.get('model_version')!r}, "
            f"built with {artifact.model_version!r}"
        )
    return prediction


def smoke_test(endpoint: str, artifact: ModelArtifact) -> None:
    wait_for_port(endpoint, timeout=STARTUP_TIMEOUT_S)
    check_health(endpoint, artifact)
    prediction = check_predict(endpoint, artifact)
    print(
        f"smoke: GET {contract.PATH_HEALTH} 200; "
        f"POST {contract.PATH_PREDICT} bmi={SMOKE_BMI} -> {prediction:.4f} (200)"
    )


def wait_for_port(endpoint: str, *, timeout: float) -> None:
    """The emulator accepts connections as soon as it listens; the function initialises on first invoke."""
    parts = urlsplit(endpoint)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(address, timeout=1.0):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise SmokeTestError(
                    f"nothing listens on {endpoint} after {timeout:.0f} s ({error})"
                ) from error
            time.sleep(0.2)


# --- The container -------------------------------------------------------------------------------------
def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def published_endpoint(port_line: str) -> str:
    """`docker port` prints e.g. `127.0.0.1:49153` (one line per binding): the first one is ours."""
    host, _, port = port_line.splitlines()[0].strip().rpartition(":")
    if not port.isdigit():
        raise SmokeTestError(f"unexpected `docker port` output: {port_line!r}")
    return f"http://{host.strip('[]') or '127.0.0.1'}:{port}"


# Lambda runs container images as a non-root user on a read-only file system with a writable /tmp: a file
# the function cannot read (say, a 0600 model) or a write outside /tmp must fail here, not after deployment.
LAMBDA_LIKE_RUN_OPTIONS: Final = ("--user", "993:990", "--read-only", "--tmpfs", "/tmp")  # noqa: S108 - a mount point inside the container


@contextmanager
def running_container(image: str) -> Iterator[str]:
    """Runs the image with the emulator port published on a free loopback port; yields its endpoint."""
    container = _docker(
        "run", "--detach", *LAMBDA_LIKE_RUN_OPTIONS, "--publish", f"127.0.0.1::{EMULATOR_PORT}", image
    )
    try:
        yield published_endpoint(_docker("port", container, f"{EMULATOR_PORT}/tcp"))
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
    except SmokeTestError as failure:
        print(f"smoke: FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
