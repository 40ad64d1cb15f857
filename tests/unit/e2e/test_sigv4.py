"""The e2e client's SigV4 signing, checked offline against fixed credentials and a fixed clock."""

from __future__ import annotations

import datetime
import hashlib
import hmac

import pytest
import requests
from botocore.credentials import ReadOnlyCredentials

from tests.e2e.sigv4 import SigV4Auth, region_of

# The credentials and clock of AWS's published Signature Version 4 test suite.
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
FIXED_NOW = datetime.datetime(2015, 8, 30, 12, 36, 0)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *_a, **_k: FIXED_NOW)


def prepare(method: str, url: str, auth: SigV4Auth, **kwargs) -> requests.PreparedRequest:
    return requests.Request(method, url, auth=auth, **kwargs).prepare()


def test_signature_matches_the_aws_test_suite_vector():
    # Given the "get-vanilla" case of AWS's SigV4 test suite
    auth = SigV4Auth(ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None), "us-east-1", service="service")

    # When requests prepares the request through our auth hook
    prepared = prepare("GET", "https://example.amazonaws.com/", auth)

    # Then the signature is the published one
    assert prepared.headers["X-Amz-Date"] == "20150830T123600Z"
    assert prepared.headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def expected_execute_api_signature(*, host: str, path: str, body: bytes, token: str, region: str) -> str:
    """An independent SigV4 computation, straight from the algorithm's specification."""
    amz_date, day = "20150830T123600Z", "20150830"
    canonical_headers = f"content-type:application/json\nhost:{host}\nx-amz-date:{amz_date}\n"
    canonical_headers += f"x-amz-security-token:{token}\n"
    signed = "content-type;host;x-amz-date;x-amz-security-token"
    canonical_request = "\n".join(
        ["POST", path, "", canonical_headers, signed, hashlib.sha256(body).hexdigest()]
    )
    scope = f"{day}/{region}/execute-api/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{SECRET_KEY}".encode(), day), region), "execute-api"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, SignedHeaders={signed}, Signature={signature}"


def test_signs_an_execute_api_post_with_body_and_session_token():
    # Given temporary credentials (as an OIDC-assumed CI role has) and a protected route of a stage
    host = "abc123defg.execute-api.eu-west-1.amazonaws.com"
    auth = SigV4Auth(ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, "SESSION-TOKEN"), "eu-west-1")

    # When a JSON prediction request is prepared
    prepared = prepare("POST", f"https://{host}/staging/v1/predict", auth, json={"bmi": 30.5})

    # Then the body, the content type, the host and the token are all covered by the signature
    assert isinstance(prepared.body, bytes)
    assert prepared.headers["X-Amz-Security-Token"] == "SESSION-TOKEN"
    assert prepared.headers["Authorization"] == expected_execute_api_signature(
        host=host, path="/staging/v1/predict", body=prepared.body, token="SESSION-TOKEN", region="eu-west-1"
    )


def test_hop_by_hop_headers_are_not_signed():
    auth = SigV4Auth(ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None), "eu-west-1")
    prepared = prepare(
        "GET",
        "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/model",
        auth,
        headers={"Connection": "close"},
    )
    assert "SignedHeaders=host;x-amz-date," in prepared.headers["Authorization"]


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("abc123.execute-api.eu-west-1.amazonaws.com", "eu-west-1"),
        ("ABC123.execute-api.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("abc123.execute-api.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("api.example.com", None),
        ("127.0.0.1", None),
    ],
)
def test_region_is_read_from_execute_api_host_names(host, region):
    assert region_of(host) == region
