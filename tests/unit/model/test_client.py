"""The HTTP client, in process: requests, typed answers, the error shape, retries, signing set-up, stacks.

No socket here: a recording opener stands in for urllib's. The signature itself is verified against a
signed-endpoint stand-in over loopback in tests/integration/test_client_signed_endpoint.py, and the client
is run against the real local service by the end-to-end suite (tests/e2e/test_package_client.py).
"""

from __future__ import annotations

import email.message
import http.client
import io
import json
import sys
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.credentials import Credentials

from model.core import contract
from model.core.artifact import ModelArtifact
from model.sdk.client import (
    ApiError,
    Client,
    ConfigurationError,
    ResponseError,
    Retry,
    TransportError,
    region_of,
    stack_api_url,
)
from model.sdk.predictor import Model

STAGE_URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/staging/"
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


def headers(**values: str) -> email.message.Message:
    message = email.message.Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


class Answer(io.BytesIO):
    """What urllib's opener returns for a 2xx."""

    def __init__(self, status: int, body: bytes, header_values: dict[str, str]) -> None:
        super().__init__(body)
        self.status = status
        self.headers = headers(**header_values)


class Opener:
    """Records each urllib Request and answers from a script: (status, body, headers) or an exception."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[urllib.request.Request] = []
        self.timeouts: list[float] = []

    def open(self, request: urllib.request.Request, timeout: float) -> Any:
        self.requests.append(request)
        self.timeouts.append(timeout)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        status, body, header_values = step if len(step) == 3 else (*step, {})
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if 200 <= status < 300:
            return Answer(status, raw, {"Content-Type": "application/json", **header_values})
        message = headers(**{"Content-Type": "application/json", **header_values})
        raise urllib.error.HTTPError(request.full_url, status, "error", message, io.BytesIO(raw))

    def sent(self, index: int = -1) -> tuple[str, str, dict[str, str], Any]:
        request = self.requests[index]
        body = json.loads(cast("bytes", request.data)) if request.data else None
        return request.get_method(), request.full_url, {k.lower(): v for k, v in request.header_items()}, body


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def client_for(opener: Opener, url: str = "http://127.0.0.1:3000", **options: Any) -> tuple[Client, Clock]:
    clock = Clock()
    client = Client(url, opener=opener, sleep=clock.sleep, uniform=lambda _low, high: high, **options)  # type: ignore[arg-type]
    return client, clock


@pytest.fixture(scope="module")
def local(model_artifact: ModelArtifact) -> Model:
    return Model(model_artifact)


def error(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return contract.error_body(code, message, details or [])


# --- Requests and typed answers -----------------------------------------------------------------------------
def test_predict_posts_the_bmi_and_returns_the_typed_answer(local: Model) -> None:
    opener = Opener((200, local.predict(27.3)))
    client, _ = client_for(opener)
    assert client.predict(27.3) == local.predict(27.3)
    method, url, sent, body = opener.sent()
    assert (method, url, body) == ("POST", "http://127.0.0.1:3000/v1/predict", {"bmi": 27.3})
    assert sent["content-type"] == "application/json"
    assert sent["user-agent"].startswith("diabetes-progression/")  # the stages' firewall wants one
    assert "authorization" not in sent  # a loopback URL: the local service, unsigned
    assert opener.timeouts == [30.0]


def test_every_route_of_the_package_is_a_typed_call(local: Model, model_artifact: ModelArtifact) -> None:
    info = {"artifact": asdict(model_artifact), "limits": local.model_info()["limits"]}
    opener = Opener(
        (200, local.predict_batch([22, 45.1])),
        (200, info),
        (200, {"status": "ok", "model_version": local.version}),
        (200, {"openapi": "3.1.0"}),
    )
    client, _ = client_for(opener, "http://localhost:3000/")
    assert client.predict_batch(iter([22, 45.1])) == local.predict_batch([22, 45.1])
    answer = client.model_info()
    assert answer["artifact"] == model_artifact  # a ModelArtifact, read strictly from the JSON
    assert answer["limits"] == local.model_info()["limits"]
    assert client.health() == {"status": "ok", "model_version": local.version}
    assert client.openapi() == {"openapi": "3.1.0"}
    assert [r.full_url for r in opener.requests] == [
        "http://localhost:3000/v1/predict/batch",
        "http://localhost:3000/v1/model",
        "http://localhost:3000/health",
        "http://localhost:3000/openapi.json",
    ]
    assert [r.get_method() for r in opener.requests] == ["POST", "GET", "GET", "GET"]


def test_a_numpy_number_is_sent_as_a_json_number() -> None:
    np = pytest.importorskip("numpy")
    opener = Opener((422, error("validation_error", "x")))
    client, _ = client_for(opener)
    with pytest.raises(ApiError):
        client.predict(np.float32(27.5))
    assert opener.sent()[3] == {"bmi": 27.5}


def test_a_stage_s_base_path_is_kept() -> None:
    opener = Opener((200, {"status": "ok", "model_version": "v"}))
    client, _ = client_for(opener, STAGE_URL, sign=False)
    client.health()
    assert opener.requests[0].full_url == STAGE_URL + "health"


def test_an_answer_of_another_shape_is_a_response_error(local: Model) -> None:
    wrong = {**local.predict(27.3), "prediction": "162"}
    client, _ = client_for(Opener((200, wrong), (200, b"<html>")))
    with pytest.raises(ResponseError, match="not a PredictResponse: prediction must be a number"):
        client.predict(27.3)
    with pytest.raises(ResponseError, match="not JSON"):
        client.predict(27.3)


@pytest.mark.parametrize("url", ["ftp://example.com", "file:///etc/passwd", "example.com", "http://"])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ConfigurationError, match="not an http"):
        Client(url)


# --- The error shape --------------------------------------------------------------------------------------
def test_an_error_answer_raises_the_api_s_error_with_its_details() -> None:
    details = [{"field": "bmi", "issue": "must be between 10 and 100 kg/m^2"}]
    body = error("validation_error", "The request body is not valid.", details)
    client, clock = client_for(Opener((422, body, {"x-amzn-RequestId": "req-1"})))
    with pytest.raises(ApiError) as raised:
        client.predict(500)
    failure = raised.value
    assert (failure.status, failure.code, failure.message) == (
        422,
        "validation_error",
        "The request body is not valid.",
    )
    assert failure.details == details
    assert failure.request_id == "req-1"
    assert str(failure) == (
        "The request body is not valid. bmi: must be between 10 and 100 kg/m^2 (HTTP 422, validation_error)"
    )
    assert clock.sleeps == []  # a refusal is not retried


def test_an_error_outside_the_shape_keeps_its_status_and_text() -> None:
    client, _ = client_for(Opener((404, b"<html><body>Not   here</body></html>")), retry=Retry(attempts=1))
    with pytest.raises(ApiError) as raised:
        client.health()
    assert (raised.value.status, raised.value.code) == (404, "http_404")
    assert raised.value.message == "<html><body>Not here</body></html>"


# --- Retries ----------------------------------------------------------------------------------------------
def test_throttling_is_retried_with_jittered_exponential_backoff_until_it_passes(local: Model) -> None:
    throttled = (429, error("throttled", "Too Many Requests"))
    opener = Opener(throttled, throttled, (200, local.predict(27.3)))
    client, clock = client_for(opener)
    assert client.predict(27.3) == local.predict(27.3)
    assert len(opener.requests) == 3
    assert clock.sleeps == [0.25, 0.5]  # the upper bound of each jitter draw (the test's uniform returns it)


def test_the_jitter_draws_from_zero_to_the_exponential_bound_capped() -> None:
    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return 0.0

    retry = Retry(base_seconds=1.0, cap_seconds=5.0)
    for n in range(5):
        retry.delay(n, None, uniform)
    assert draws == [(0.0, 1.0), (0.0, 2.0), (0.0, 4.0), (0.0, 5.0), (0.0, 5.0)]


def test_retry_after_is_honoured_within_the_cap() -> None:
    retry = Retry(base_seconds=0.25, cap_seconds=8.0)
    assert retry.delay(0, "3", lambda _low, high: high) == 3.0
    assert retry.delay(0, "60", lambda _low, high: high) == 8.0
    assert retry.delay(0, "Wed, 21 Oct 2026 07:28:00 GMT", lambda _low, high: high) == 0.25


def test_throttling_that_persists_is_raised_after_the_last_attempt() -> None:
    throttled = (429, error("throttled", "Too Many Requests"), {"Retry-After": "1"})
    opener = Opener(*[throttled] * 4)
    client, clock = client_for(opener)
    with pytest.raises(ApiError) as raised:
        client.predict(27.3)
    assert (raised.value.status, raised.value.code) == (429, "throttled")
    assert len(opener.requests) == 4
    assert clock.sleeps == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_failures_are_retried(status: int, local: Model) -> None:
    opener = Opener((status, error("bad_gateway", "Internal server error")), (200, local.predict(30)))
    client, clock = client_for(opener)
    assert client.predict(30) == local.predict(30)
    assert len(clock.sleeps) == 1


def test_a_function_error_is_not_retried() -> None:
    opener = Opener((500, error("internal_error", "The service failed to handle the request.")))
    client, _ = client_for(opener)
    with pytest.raises(ApiError, match="HTTP 500, internal_error"):
        client.predict(30)
    assert len(opener.requests) == 1


def test_a_connection_closed_by_the_server_is_retried_a_refused_one_is_not(local: Model) -> None:
    opener = Opener(http.client.RemoteDisconnected("closed"), (200, local.predict(30)))
    client, _ = client_for(opener)
    assert client.predict(30) == local.predict(30)
    refused = Opener(urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")))
    client, clock = client_for(refused)
    with pytest.raises(TransportError, match="Connection refused"):
        client.predict(30)
    assert clock.sleeps == []


def test_a_timeout_is_a_transport_error_naming_it() -> None:
    client, _ = client_for(
        Opener(TimeoutError("timed out"), urllib.error.URLError(TimeoutError())), timeout=2.5
    )
    with pytest.raises(TransportError, match=r"no answer within 2\.5 s"):
        client.health()
    with pytest.raises(TransportError, match=r"no connection within 2\.5 s"):
        client.health()


def test_raw_send_is_one_attempt_with_any_status() -> None:
    client, _ = client_for(Opener((503, b"busy")))
    response = client.send("POST", "/v1/predict", b"bmi=30", headers={"Content-Type": "text/plain"})
    assert (response.status, response.text, response.headers["content-type"]) == (
        503,
        "busy",
        "application/json",
    )
    assert client.retry == Retry()


def test_redirects_are_not_followed() -> None:
    from model.sdk.client import _NoRedirects

    request = urllib.request.Request("https://example.com/v1/predict")
    assert _NoRedirects().redirect_request(request, None, 302, "Found", {}, "https://elsewhere") is None


# --- Signing set-up ---------------------------------------------------------------------------------------
def signing_client(opener: Opener, url: str = STAGE_URL, **options: Any) -> Client:
    return client_for(opener, url, credentials=CREDENTIALS, **options)[0]


def test_a_deployed_stage_s_protected_routes_are_signed_and_only_those(local: Model) -> None:
    opener = Opener((200, local.predict(27.3)), (200, {"status": "ok", "model_version": "v"}))
    client = signing_client(opener)
    client.predict(27.3)
    client.health()
    _, _, signed, _ = opener.sent(0)
    assert signed["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request, " in signed["authorization"]  # the URL's region
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in signed["authorization"]
    assert signed["x-amz-security-token"] == "session-token"
    assert signed["x-amz-date"]
    _, _, public, _ = opener.sent(1)
    assert "authorization" not in public


def test_a_loopback_url_is_signed_only_when_asked(local: Model) -> None:
    opener = Opener((200, local.predict(27.3)))
    client = signing_client(opener, "http://127.0.0.1:3000", sign=True, region="us-east-2")
    client.predict(27.3)
    assert "/us-east-2/execute-api/" in opener.sent()[2]["authorization"]
    unsigned = signing_client(Opener(), sign=False)
    assert unsigned.signs is False
    with pytest.raises(ConfigurationError, match="does not sign"):
        unsigned.send("GET", "/v1/model", sign=True)


@pytest.fixture
def aws_environment(fake_aws_credentials: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No region anywhere, and a config file the test may fill; the instance metadata service is off."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = tmp_path / "no-aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return config


def test_the_region_is_the_argument_then_the_url_s_then_the_environment_s_then_the_profile_s(
    aws_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def region(url: str, **options: Any) -> str | None:
        client = Client(url, sign=True, credentials=CREDENTIALS, **options)
        assert client._signer is not None
        return client._signer.region

    aws_environment.write_text("[default]\nregion = ap-south-1\n[profile other]\nregion = sa-east-1\n")
    assert region("https://api.example.com") == "ap-south-1"
    assert region("https://api.example.com", profile="other") == "sa-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    assert region("https://api.example.com") == "eu-north-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert region("https://api.example.com") == "eu-central-1"
    assert region(STAGE_URL) == "eu-west-1"
    assert region(STAGE_URL, region="us-west-2") == "us-west-2"


def test_without_a_region_the_client_says_how_to_give_one(aws_environment: Path) -> None:
    with pytest.raises(ConfigurationError, match="pass --region or set AWS_REGION"):
        Client("https://api.example.com", sign=True)


def test_credentials_come_from_the_standard_chain(
    aws_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(STAGE_URL)
    assert client._signer is not None
    assert client._signer._credentials.get_frozen_credentials().access_key == "testing"  # the environment's
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError, match="no AWS credentials found"):
        Client(STAGE_URL)
    with pytest.raises(ConfigurationError, match="could not be found"):
        Client(STAGE_URL, profile="nobody")


def test_a_loopback_url_needs_neither_botocore_nor_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore.session", None)  # as if the client extra were not installed
    assert Client("http://127.0.0.1:3000").signs is False
    with pytest.raises(
        ConfigurationError, match=r"signing needs botocore: pip install 'diabetes-progression\[client\]'"
    ):
        Client(STAGE_URL)


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("abc123defg.execute-api.eu-west-1.amazonaws.com", "eu-west-1"),
        ("ABC.execute-api.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("api.example.com", None),
        ("abc.execute-api.eu-west-1.amazonaws.com.evil.example", None),
    ],
)
def test_the_region_of_an_execute_api_host(host: str, region: str | None) -> None:
    assert region_of(host) == region


# --- Stacks -----------------------------------------------------------------------------------------------
@pytest.fixture
def staging_stack(mocked_aws: None) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"ApiUrl": {"Value": STAGE_URL}, "Dashboard": {"Value": "d"}},
    }
    boto3.client("cloudformation", region_name="eu-west-1").create_stack(
        StackName="Staging-Service", TemplateBody=json.dumps(template)
    )


def test_a_stack_s_api_url_is_its_output(staging_stack: None) -> None:
    assert stack_api_url("Staging-Service", region="eu-west-1") == STAGE_URL
    assert Client.for_stack("Staging-Service", region="eu-west-1").base_url == STAGE_URL.rstrip("/")


def test_a_missing_output_or_stack_or_region_is_a_clear_error(
    staging_stack: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match=r"has no output 'Nope' \(outputs: ApiUrl, Dashboard\)"):
        stack_api_url("Staging-Service", region="eu-west-1", output="Nope")
    with pytest.raises(
        ConfigurationError, match=r"stack 'Production-Service' in eu-west-1: .*does not exist"
    ):
        stack_api_url("Production-Service", region="eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigurationError, match="no region"):
        stack_api_url("Staging-Service")
