"""The package's client and ``call`` against a signed endpoint stand-in, over loopback, offline.

The stand-in plays API Gateway with ``AWS_IAM`` authorization in front of the function: a stage path prefix,
the protected routes refused unless their SigV4 signature verifies (recomputed here with botocore's own
signer, from the request as received and the caller's secret key), the public routes open, gateway errors in
the service's error shape. Behind it, the answers come from the same domain as the function's
(``model.core.prediction``, through the Python API). What it proves: the client signs what API Gateway checks
(method, stage path, host, body, date, session token), only on the protected routes, afresh on every retry,
and ``call`` does so from the standard credential chain (environment, profile).
"""

from __future__ import annotations

import hmac
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from model.core import contract
from model.core.jsontypes import ValidationError, read
from model.core.schemas import BatchPredictRequest, PredictRequest
from model.core.serving import load_artifact
from model.sdk.client import ApiError, Client
from model.sdk.predictor import Model
from scripts import REPO_ROOT

REGION = "eu-west-1"
STAGE = "/staging"
ACCESS_KEY, SECRET_KEY, TOKEN = "AKIDSTANDIN", "stand-in-secret-key/EXAMPLE", "stand-in-session-token"
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def signature_problem(method: str, url: str, headers: dict[str, str], body: bytes) -> str | None:
    """Why API Gateway would refuse this request's signature (the code of contract.ERRORS), or None."""
    match = AUTHORIZATION.match(headers.get("authorization", ""))
    if match is None:
        return "missing_authentication"
    if match["key"] != ACCESS_KEY or (match["region"], match["service"]) != (REGION, "execute-api"):
        return "invalid_signature"
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "invalid_signature"
    if abs(datetime.now(UTC) - signed_at) > timedelta(minutes=5) or match["date"] != stamp[:8]:
        return "expired_credentials"
    signed = match["headers"].split(";")
    if "host" not in signed or any(name not in headers for name in signed):
        return "invalid_signature"
    request = AWSRequest(method=method, url=url, data=body, headers={name: headers[name] for name in signed})
    request.context["timestamp"] = stamp
    credentials = ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, headers.get("x-amz-security-token"))
    signer = SigV4Auth(credentials, "execute-api", REGION)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return None if hmac.compare_digest(expected, match["signature"]) else "invalid_signature"


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, model: Model) -> None:
        super().__init__(("127.0.0.1", 0), Gateway)
        self.model = model
        self.throttle = 0  # how many of the next requests get a 429 (after their signature is checked)
        self.seen: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{STAGE}/"


class Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandIn
    public: ClassVar = {route.path for route in contract.ROUTES if route.public}

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        url = f"http://{headers['host']}{self.path}"
        path = self.path.removeprefix(STAGE) if self.path.startswith(f"{STAGE}/") else None
        problem = None
        if path is not None and path not in self.public:
            problem = signature_problem(self.command, url, headers, body)
        self.server.seen.append({"path": path, "signed": "authorization" in headers, "problem": problem})
        if path is None:
            self._answer(403, contract.error_body("missing_authentication", "Missing Authentication Token"))
        elif problem is not None:
            self._answer(403, contract.error_body(problem, contract.ERRORS[problem].gateway_message))
        elif self.server.throttle > 0:
            self.server.throttle -= 1
            self._answer(429, contract.error_body("throttled", "Too Many Requests"))
        else:
            self._answer(*self._function(self.command, path, body))

    def _function(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        model = self.server.model
        try:
            if (method, path) == ("POST", contract.PATH_PREDICT):
                return 200, model.predict(read(json.loads(body), PredictRequest)["bmi"])
            if (method, path) == ("POST", contract.PATH_PREDICT_BATCH):
                return 200, model.predict_batch(read(json.loads(body), BatchPredictRequest)["bmi"])
            if (method, path) == ("GET", contract.PATH_MODEL):
                info = model.model_info()
                return 200, {"artifact": info["artifact"].to_document(), "limits": info["limits"]}
            if (method, path) == ("GET", contract.PATH_HEALTH):
                return 200, {"status": "ok", "model_version": model.version}
        except ValidationError as error:
            details = [{"field": i.field, "issue": i.issue} for i in error.issues]
            return 422, contract.error_body("validation_error", "The request body is not valid.", details)
        return 404, contract.error_body("not_found", contract.ERRORS["not_found"].meaning)

    def _answer(self, status: int, document: Any) -> None:
        raw = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def local(model_artifact_path: Path) -> Model:
    return Model(load_artifact(model_artifact_path))


@pytest.fixture
def stand_in(local: Model) -> Iterator[StandIn]:
    server = StandIn(local)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def signed_client(stand_in: StandIn, secret: str = SECRET_KEY, **options: Any) -> Client:
    credentials = Credentials(ACCESS_KEY, secret, TOKEN)
    return Client(stand_in.url, sign=True, region=REGION, credentials=credentials, **options)


def test_signed_calls_verify_and_get_the_function_s_answers(stand_in: StandIn, local: Model) -> None:
    client = signed_client(stand_in)
    assert client.predict(27.3) == local.predict(27.3)
    assert client.predict_batch([22.0, 27.3, 45.1]) == local.predict_batch([22.0, 27.3, 45.1])
    assert client.model_info()["artifact"] == local.artifact
    assert client.health()["model_version"] == local.version
    assert [(s["path"], s["signed"], s["problem"]) for s in stand_in.seen] == [
        ("/v1/predict", True, None),
        ("/v1/predict/batch", True, None),
        ("/v1/model", True, None),
        ("/health", False, None),  # public: never signed
    ]


def test_exactly_the_protected_routes_are_signed(stand_in: StandIn) -> None:
    client = signed_client(stand_in)
    for route in contract.ROUTES:
        client.send(route.method, route.path, b"{}" if route.method == "POST" else None)
    assert [s["signed"] for s in stand_in.seen] == [not route.public for route in contract.ROUTES]
    assert all(s["problem"] is None for s in stand_in.seen)


def test_the_stand_in_refuses_what_api_gateway_refuses(stand_in: StandIn) -> None:
    # Not vacuous: unsigned, signed with the wrong secret, or for another region, the call is refused
    unsigned = Client(stand_in.url, sign=False)
    with pytest.raises(ApiError) as refused:
        unsigned.predict(27.3)
    assert (refused.value.status, refused.value.code) == (403, "missing_authentication")
    with pytest.raises(ApiError) as refused:
        signed_client(stand_in, secret="another-secret").predict(27.3)
    assert (refused.value.status, refused.value.code) == (403, "invalid_signature")
    assert refused.value.message == contract.ERRORS["invalid_signature"].gateway_message
    with pytest.raises(ApiError, match="invalid_signature"):
        Client(
            stand_in.url, sign=True, region="us-east-1", credentials=Credentials(ACCESS_KEY, SECRET_KEY)
        ).predict(30)


def test_a_tampered_body_or_path_breaks_the_signature(stand_in: StandIn) -> None:
    client = signed_client(stand_in)
    url = stand_in.url.rstrip("/") + "/v1/predict"
    signed = client._signer.headers("POST", url, b'{"bmi": 27.3}', {"Content-Type": "application/json"})  # type: ignore[union-attr]
    host = url.split("/")[2]
    headers = {"host": host, "content-type": "application/json", **{k.lower(): v for k, v in signed.items()}}
    assert signature_problem("POST", url, headers, b'{"bmi": 27.3}') is None
    assert signature_problem("POST", url, headers, b'{"bmi": 42.0}') == "invalid_signature"
    assert signature_problem("POST", url.replace("predict", "predict/batch"), headers, b'{"bmi": 27.3}') == (
        "invalid_signature"
    )


def test_each_retry_is_signed_afresh_and_verifies(stand_in: StandIn, local: Model) -> None:
    stand_in.throttle = 2
    client = signed_client(stand_in, sleep=lambda _seconds: None)
    assert client.predict(31.0) == local.predict(31.0)
    assert [(s["signed"], s["problem"]) for s in stand_in.seen] == [(True, None)] * 3


def test_a_validation_error_comes_back_in_the_error_shape(stand_in: StandIn) -> None:
    with pytest.raises(ApiError) as refused:
        signed_client(stand_in).predict(500)
    assert (refused.value.status, refused.value.code) == (422, "validation_error")
    assert refused.value.details == [{"field": "bmi", "issue": "must be between 10 and 100 kg/m^2"}]


# --- call, with the standard credential chain -------------------------------------------------------------
def call(stand_in: StandIn, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean.update(
        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true"
    )
    return subprocess.run(
        [sys.executable, "-m", "model", "call", "--url", stand_in.url, "--sign", *args],
        cwd=REPO_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_call_signs_with_credentials_from_the_environment(stand_in: StandIn, local: Model) -> None:
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_SESSION_TOKEN": TOKEN}
    result = call(stand_in, {**env, "AWS_REGION": REGION}, "--json", "27.3")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == local.predict(27.3)
    assert stand_in.seen[-1] == {"path": "/v1/predict", "signed": True, "problem": None}


def test_call_signs_with_a_profile_and_its_region(stand_in: StandIn, local: Model, tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(
        f"[clinic]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    (tmp_path / "config").write_text(f"[profile clinic]\nregion = {REGION}\n")
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
    }
    result = call(stand_in, env, "--profile", "clinic", "27.3")
    assert result.returncode == 0, result.stderr
    assert f"{local.predict(27.3)['prediction']:.2f}" in result.stdout


def test_call_reports_a_refused_signature_with_the_gateway_s_message(stand_in: StandIn) -> None:
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": "wrong", "AWS_REGION": REGION}
    result = call(stand_in, env, "27.3")
    assert result.returncode == 5
    message = contract.ERRORS["invalid_signature"].gateway_message
    assert result.stderr == f"diabetes-progression: error: {message} (HTTP 403, invalid_signature)\n"


def test_call_without_credentials_says_so(stand_in: StandIn) -> None:
    result = call(stand_in, {"AWS_REGION": REGION}, "27.3")
    assert result.returncode == 1
    assert "no AWS credentials found" in result.stderr
    assert stand_in.seen == []  # nothing was sent
