"""The HTTP client, in process: requests, typed answers, the error shape, retries, signing set-up, stacks.

Against stage stand-ins on loopback (:mod:`.stage`), kind and hostile, over real sockets. The signature
itself is verified against a signed-endpoint stand-in in tests/integration/test_client_signed_endpoint.py,
and the client is run against the real local service by the end-to-end suite
(tests/e2e/test_package_client.py).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

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

from .stage import Stage, hang_up

STAGE_URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/staging/"
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def client_for(server: Stage, url: str | None = None, **options: Any) -> tuple[Client, Clock]:
    clock = Clock()
    client = Client(url or server.url, sleep=clock.sleep, uniform=lambda _low, high: high, **options)
    return client, clock


@pytest.fixture(scope="module")
def local(model_artifact: ModelArtifact) -> Model:
    return Model(model_artifact)


def error(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return contract.error_body(code, message, details or [])


# --- Requests and typed answers -----------------------------------------------------------------------------
def test_predict_posts_the_bmi_and_returns_the_typed_answer(stage, local: Model) -> None:
    server = stage((200, local.predict(27.3)))
    client, _ = client_for(server)
    assert client.predict(27.3) == local.predict(27.3)
    (sent,) = server.received
    assert (sent.method, sent.target, sent.json()) == ("POST", "/v1/predict", {"bmi": 27.3})
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"].startswith("diabetes-progression/")  # the stages' firewall wants one
    assert "authorization" not in sent.headers  # a loopback URL: the local service, unsigned
    assert client.timeout == 30.0


def test_every_route_of_the_package_is_a_typed_call(
    stage, local: Model, model_artifact: ModelArtifact
) -> None:
    info = {"artifact": asdict(model_artifact), "limits": local.model_info()["limits"]}
    server = stage(
        (200, local.predict_batch([22, 45.1])),
        (200, info),
        (200, {"status": "ok", "model_version": local.version}),
        (200, {"openapi": "3.1.0"}),
    )
    client, _ = client_for(server, server.url.replace("127.0.0.1", "localhost") + "/")
    assert client.predict_batch(iter([22, 45.1])) == local.predict_batch([22, 45.1])
    answer = client.model_info()
    assert answer["artifact"] == model_artifact  # a ModelArtifact, read strictly from the JSON
    assert answer["limits"] == local.model_info()["limits"]
    assert client.health() == {"status": "ok", "model_version": local.version}
    assert client.openapi() == {"openapi": "3.1.0"}
    assert [(r.method, r.target) for r in server.received] == [
        ("POST", "/v1/predict/batch"),
        ("GET", "/v1/model"),
        ("GET", "/health"),
        ("GET", "/openapi.json"),
    ]


def test_a_numpy_number_is_sent_as_a_json_number(stage) -> None:
    np = pytest.importorskip("numpy")
    server = stage((422, error("validation_error", "x")))
    client, _ = client_for(server)
    with pytest.raises(ApiError):
        client.predict(np.float32(27.5))
    assert server.received[0].json() == {"bmi": 27.5}


def test_a_stage_s_base_path_is_kept(stage) -> None:
    server = stage((200, {"status": "ok", "model_version": "v"}))
    client, _ = client_for(server, server.url + "/staging/", sign=False)
    client.health()
    assert server.received[0].target == "/staging/health"


def test_an_answer_of_another_shape_is_a_response_error(stage, local: Model) -> None:
    wrong = {**local.predict(27.3), "prediction": "162"}
    client, _ = client_for(stage((200, wrong), (200, b"<html>")))
    with pytest.raises(ResponseError, match="not a PredictResponse: prediction must be a number"):
        client.predict(27.3)
    with pytest.raises(ResponseError, match="not JSON"):
        client.predict(27.3)


def test_fields_a_newer_service_adds_to_an_answer_are_left_out_not_refused(stage, local: Model) -> None:
    # An installed client keeps working when the API grows (issue 22 added extrapolation_distance)
    grown = {**local.predict(27.3), "explanation": {"top_feature": "bmi"}}
    client, _ = client_for(stage((200, grown)))
    assert client.predict(27.3) == local.predict(27.3)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com", "file:///etc/passwd", "example.com", "http://", "http://[::1", "http://x:99999"],
)
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"not an http|not a valid URL"):
        Client(url)


# --- The error shape --------------------------------------------------------------------------------------
def test_an_error_answer_raises_the_api_s_error_with_its_details(stage) -> None:
    details = [{"field": "bmi", "issue": "must be between 10 and 100 kg/m^2"}]
    body = error("validation_error", "The request body is not valid.", details)
    client, clock = client_for(stage((422, body, {"x-amzn-RequestId": "req-1"})))
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


def test_an_error_outside_the_shape_keeps_its_status_and_text(stage) -> None:
    server = stage((404, b"<html><body>Not   here</body></html>"))
    client, _ = client_for(server, retry=Retry(attempts=1))
    with pytest.raises(ApiError) as raised:
        client.health()
    assert (raised.value.status, raised.value.code) == (404, "http_404")
    assert raised.value.message == "<html><body>Not here</body></html>"


# --- Retries ----------------------------------------------------------------------------------------------
def test_throttling_is_retried_with_jittered_exponential_backoff_until_it_passes(stage, local: Model) -> None:
    throttled = (429, error("throttled", "Too Many Requests"))
    server = stage(throttled, throttled, (200, local.predict(27.3)))
    client, clock = client_for(server)
    assert client.predict(27.3) == local.predict(27.3)
    assert len(server.received) == 3
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


def test_throttling_that_persists_is_raised_after_the_last_attempt(stage) -> None:
    throttled = (429, error("throttled", "Too Many Requests"), {"Retry-After": "1"})
    server = stage(*[throttled] * 4)
    client, clock = client_for(server)
    with pytest.raises(ApiError) as raised:
        client.predict(27.3)
    assert (raised.value.status, raised.value.code) == (429, "throttled")
    assert len(server.received) == 4
    assert clock.sleeps == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_failures_are_retried(stage, status: int, local: Model) -> None:
    server = stage((status, error("bad_gateway", "Internal server error")), (200, local.predict(30)))
    client, clock = client_for(server)
    assert client.predict(30) == local.predict(30)
    assert len(clock.sleeps) == 1


def test_a_function_error_is_not_retried(stage) -> None:
    server = stage((500, error("internal_error", "The service failed to handle the request.")))
    client, _ = client_for(server)
    with pytest.raises(ApiError, match="HTTP 500, internal_error"):
        client.predict(30)
    assert len(server.received) == 1


def test_a_connection_closed_by_the_server_is_retried_a_refused_one_is_not(stage, local: Model) -> None:
    server = stage(hang_up, (200, local.predict(30)))
    client, _ = client_for(server)
    assert client.predict(30) == local.predict(30)
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client, clock = client_for(server, f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError, match="Connection refused"):
        client.predict(30)
    assert clock.sleeps == []


def test_raw_send_is_one_attempt_with_any_status(stage) -> None:
    client, _ = client_for(stage((503, b"busy")))
    response = client.send("POST", "/v1/predict", b"bmi=30", headers={"Content-Type": "text/plain"})
    assert (response.status, response.text, response.headers["content-type"]) == (
        503,
        "busy",
        "application/json",
    )
    assert client.retry == Retry()


def test_redirects_are_not_followed(stage) -> None:
    server = stage((302, b"", {"Location": "https://elsewhere.example/v1/predict"}))
    client, _ = client_for(server)
    with pytest.raises(ApiError) as raised:
        client.predict(27.3)
    assert raised.value.status == 302
    assert len(server.received) == 1


# --- Signing set-up ---------------------------------------------------------------------------------------
def signing_client(server: Stage, url: str | None = None, **options: Any) -> Client:
    return client_for(server, url, credentials=CREDENTIALS, **options)[0]


def test_a_deployed_stage_s_protected_routes_are_signed_and_only_those(stage, local: Model) -> None:
    server = stage((200, local.predict(27.3)), (200, {"status": "ok", "model_version": "v"}))
    client = signing_client(server, sign=True, region="eu-west-1")
    client.predict(27.3)
    client.health()
    signed, public = server.received[0].headers, server.received[1].headers
    assert signed["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request, " in signed["authorization"]
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in signed["authorization"]
    assert signed["x-amz-security-token"] == "session-token"
    assert signed["x-amz-date"]
    assert "authorization" not in public
    assert Client(STAGE_URL, credentials=CREDENTIALS).signs  # a deployed stage: signed by default


def test_a_loopback_url_is_signed_only_when_asked(stage, local: Model) -> None:
    server = stage((200, local.predict(27.3)))
    client = signing_client(server, sign=True, region="us-east-2")
    client.predict(27.3)
    assert "/us-east-2/execute-api/" in server.received[0].headers["authorization"]
    unsigned = signing_client(server, STAGE_URL, sign=False)
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


@pytest.fixture
def silent_cloudformation(fake_aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CloudFormation's endpoint on a socket that is connected to (the backlog) but never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", f"http://127.0.0.1:{listener.getsockname()[1]}")
        yield


def test_a_stack_lookup_that_gets_no_answer_ends_within_the_timeout(silent_cloudformation: None) -> None:
    started = time.monotonic()
    with pytest.raises(
        ConfigurationError, match=r"stack 'Staging-Service' in eu-west-1: no answer within 1 s"
    ):
        Client.for_stack("Staging-Service", region="eu-west-1", timeout=1)
    assert time.monotonic() - started < 1.5  # botocore's own timeouts and retries: minutes
    with pytest.raises(ConfigurationError, match="timeout must be more than 0"):
        Client.for_stack("Staging-Service", region="eu-west-1", timeout=0)


def test_botocore_s_failures_are_configuration_errors(
    fake_aws_credentials: None, stage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read the AWS configuration: .*could not be found"):
        Client.for_stack("Staging-Service", profile="nobody")
    with pytest.raises(ConfigurationError, match="could not be found"):
        Client("https://api.example.com", profile="nobody", credentials=CREDENTIALS)
    empty = b"<DescribeStacksResponse><DescribeStacksResult><Stacks/></DescribeStacksResult>"
    empty += b"</DescribeStacksResponse>"
    cloudformation = stage((200, empty, {"Content-Type": "text/xml"}))
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", cloudformation.url)
    with pytest.raises(ConfigurationError, match="DescribeStacks answered no stack"):
        stack_api_url("Staging-Service", region="eu-west-1")
    (tmp_path / "no-aws-config").write_text("[default\nregion = eu-west-1\n")  # unparsable
    with pytest.raises(ConfigurationError, match="Unable to parse config file"):
        stack_api_url("Staging-Service")


class Expired(Credentials):
    def get_frozen_credentials(self) -> Any:
        from botocore.exceptions import TokenRetrievalError

        raise TokenRetrievalError(provider="sso", error_msg="the SSO session has expired")


def test_credentials_that_cannot_be_refreshed_at_a_call_are_a_configuration_error(stage) -> None:
    client = Client(stage().url, sign=True, region="eu-west-1", credentials=Expired("a", "b"))
    with pytest.raises(ConfigurationError, match=r"cannot refresh AWS credentials: .*SSO session"):
        client.model_info()
