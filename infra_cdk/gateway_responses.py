"""API Gateway's own answers, in the contract's error shape: the service's table, not the package's."""

from __future__ import annotations

from typing import Final

# API Gateway's own responses (keyed by CloudFormation's ResponseType) and the code each is answered with;
# the two defaults keep API Gateway's status, every other type takes its code's status. With no authorizer
# and no usage plan, UNAUTHORIZED and QUOTA_EXCEEDED cannot happen (DEFAULT_4XX would cover them).
GATEWAY_RESPONSES: Final = {
    "DEFAULT_4XX": "bad_request",
    "DEFAULT_5XX": "internal_error",
    "ACCESS_DENIED": "forbidden",
    "MISSING_AUTHENTICATION_TOKEN": "missing_authentication",
    "INVALID_SIGNATURE": "invalid_signature",
    "EXPIRED_TOKEN": "expired_credentials",
    "WAF_FILTERED": "request_blocked",
    "THROTTLED": "throttled",
    "REQUEST_TOO_LARGE": "payload_too_large",
    "BAD_REQUEST_PARAMETERS": "bad_request",
    "UNSUPPORTED_MEDIA_TYPE": "unsupported_media_type",
    "RESOURCE_NOT_FOUND": "not_found",
    "INTEGRATION_FAILURE": "bad_gateway",
    "INTEGRATION_TIMEOUT": "gateway_timeout",
}
