"""SigV4 signing for requests to a deployed stage's protected routes (API Gateway ``AWS_IAM`` auth).

The signature is computed by botocore's own signer, so it is exactly what the AWS SDKs send. Only the
headers that survive the trip to API Gateway unchanged are signed (``host``, ``content-type`` and the
``x-amz-*`` headers botocore adds): hop-by-hop headers such as ``Connection`` may be rewritten on the way
and would break the signature.
"""

from __future__ import annotations

import re
from typing import Final

import requests
from botocore.auth import SigV4Auth as _BotocoreSigV4
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

SERVICE: Final = "execute-api"
_SIGNED_HEADERS: Final = ("content-type",)
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


def region_of(url_host: str) -> str | None:
    """The region in an ``{api-id}.execute-api.{region}.amazonaws.com`` host name, if it is one."""
    match = _EXECUTE_API_HOST.match(url_host.lower())
    return match.group(1) if match else None


class SigV4Auth(requests.auth.AuthBase):
    """A ``requests`` auth hook that signs each request with AWS Signature Version 4."""

    def __init__(self, credentials: ReadOnlyCredentials, region: str, service: str = SERVICE) -> None:
        self._signer = _BotocoreSigV4(credentials, service, region)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        headers = {k: v for k, v in request.headers.items() if k.lower() in _SIGNED_HEADERS}
        aws_request = AWSRequest(method=request.method, url=request.url, data=request.body, headers=headers)
        self._signer.add_auth(aws_request)
        for name, value in aws_request.headers.items():
            if name.lower() == "authorization" or name.lower().startswith("x-amz-"):
                request.headers[name] = value
        return request
