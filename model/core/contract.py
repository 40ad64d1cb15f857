"""The service's contract, defined once: routes, input limits, errors, environment and telemetry names.
Standard library only and free of side effects: importing it costs nothing at cold start or synthesis."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, NamedTuple

SERVICE_NAME: Final = "diabetes-progression"
METRICS_NAMESPACE: Final = "DiabetesProgression"
HANDLER: Final = "lambda_fn.handler.handler"  # what the image's CMD names

# --- Inputs -------------------------------------------------------------------------------------------
BMI_MIN: Final = 10.0  # kg/m^2: outside [BMI_MIN, BMI_MAX] is not a plausible human BMI -> 422
BMI_MAX: Final = 100.0
BATCH_MAX: Final = 10_000
# A full batch of BATCH_MAX numbers is ~200 kB of JSON; anything past 1 MiB is not a request we serve -> 413.
BODY_MAX_BYTES: Final = 1_048_576
# The deployed stage's web ACL refuses a declared Content-Length of at least this many bytes (413,
# payload_too_large): API Gateway accepts up to 10 MB but cannot hand Lambda more than its
# 6 MB synchronous payload, and would answer that with a 5xx. infra_cdk/protection.py enforces it.
EDGE_BODY_LIMIT_BYTES: Final = 2_000_000


# --- Routes -------------------------------------------------------------------------------------------
class Route(NamedTuple):
    method: str
    path: str
    public: bool  # public routes need no SigV4 signature behind API Gateway

    @property
    def methods(self) -> tuple[str, ...]:
        """What the route answers: a GET route answers HEAD too (RFC 9110 §9.3.2), with the same headers."""
        return (self.method, "HEAD") if self.method == "GET" else (self.method,)


PATH_ROOT: Final = "/"  # redirects to PATH_DOCS: where a person typing the address lands
PATH_PREDICT: Final = "/v1/predict"
PATH_PREDICT_BATCH: Final = "/v1/predict/batch"
PATH_MODEL: Final = "/v1/model"
PATH_HEALTH: Final = "/health"
PATH_DOCS: Final = "/docs"
PATH_OPENAPI: Final = "/openapi.json"
# The contract of the system this service replaces, kept for its existing clients.
PATH_LEGACY_STREAM: Final = "/stream"
PATH_LEGACY_BATCH: Final = "/batch"

ROUTES: Final = (
    Route("POST", PATH_PREDICT, public=False),
    Route("POST", PATH_PREDICT_BATCH, public=False),
    Route("GET", PATH_MODEL, public=False),
    Route("GET", PATH_HEALTH, public=True),
    Route("GET", PATH_DOCS, public=True),
    Route("GET", PATH_ROOT, public=True),
    Route("GET", PATH_OPENAPI, public=True),
    Route("POST", PATH_LEGACY_STREAM, public=False),
    Route("POST", PATH_LEGACY_BATCH, public=False),
)
ROUTE_PATHS: Final = frozenset(r.path for r in ROUTES)
PUBLIC_PATHS: Final = tuple(r.path for r in ROUTES if r.public)
PROTECTED_PATHS: Final = tuple(r.path for r in ROUTES if not r.public)
POST_PATHS: Final = frozenset(r.path for r in ROUTES if r.method == "POST")  # the routes with a body
# An HTTP method (an RFC 9110 token), bounded: what the function and the development server accept as one
# before a method may appear in a message or a log line.
HTTP_METHOD: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}")


# --- Errors ---------------------------------------------------------------------------------------------
# Every error, from the function or from the edge (API Gateway, WAF), has one shape, built by error_body(),
# and one code per meaning. This table is the one list: the function, the gateway responses, the web ACL,
# the development server, the OpenAPI document and docs/ read it.
Scope = Literal["body", "route", "signed", "path", "local"]


class ErrorCode(NamedTuple):
    status: int
    meaning: str
    # Which requests can get it: "body" those with a body (the POST routes), "route" any route, "signed"
    # the protected routes, "path" an unknown path or method, "local" only the development server.
    scope: Scope
    gateway_message: str = ""  # what API Gateway itself says in the message, where the edge answers it


ERRORS: Final = {
    "bad_request": ErrorCode(400, "The request cannot be read (headers, framing).", "route", "Bad Request"),
    "malformed_json": ErrorCode(400, "The body is not valid UTF-8 JSON.", "body"),
    "empty_body": ErrorCode(400, "The body is empty.", "body"),
    "missing_authentication": ErrorCode(
        403, "The request is not SigV4-signed.", "signed", "Missing Authentication Token"
    ),
    "invalid_signature": ErrorCode(
        403,
        "The SigV4 signature does not match the request.",
        "signed",
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details.",
    ),
    "expired_credentials": ErrorCode(
        403,
        "The signing credentials have expired.",
        "signed",
        "The security token included in the request is expired",
    ),
    "forbidden": ErrorCode(
        403,
        "The signer is not one of this stage's callers.",
        "signed",
        "User: arn:aws:sts::123456789012:assumed-role/clinic-app/session is not authorized to perform: "
        "execute-api:Invoke on resource: arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/staging/POST/"
        "v1/predict with an explicit deny",
    ),
    "request_blocked": ErrorCode(
        403, "The web application firewall blocked the request.", "route", "Forbidden"
    ),
    "not_found": ErrorCode(404, "There is no resource at this path.", "path"),
    "method_not_allowed": ErrorCode(405, "The path exists; the method does not (see Allow).", "path"),
    "length_required": ErrorCode(411, "The development server needs a Content-Length.", "local"),
    "payload_too_large": ErrorCode(
        413, "The body is larger than the service accepts.", "body", "Request Too Long"
    ),
    "unsupported_media_type": ErrorCode(415, "The body is not declared as application/json.", "body"),
    "validation_error": ErrorCode(422, "The body is JSON but not a valid request.", "body"),
    "throttled": ErrorCode(429, "Too many requests: retry with backoff.", "route", "Too Many Requests"),
    "internal_error": ErrorCode(
        500, "The service failed to handle the request.", "route", "Internal server error"
    ),
    "bad_gateway": ErrorCode(
        502, "The function failed or gave an unreadable answer.", "route", "Internal server error"
    ),
    "gateway_timeout": ErrorCode(
        504, "The function did not answer in time.", "route", "Endpoint request timed out"
    ),
}


def error_body(code: str, message: str, details: Sequence[Mapping[str, str | None]] = ()) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message", "details": [{"field", "issue"}]}}``."""
    if code not in ERRORS:
        raise KeyError(f"{code!r} is not a contract error code")
    return {"error": {"code": code, "message": message, "details": [dict(d) for d in details]}}


# --- Environment (set by the infrastructure, read by the function) -------------------------------------
ENV_STAGE: Final = "STAGE"
ENV_MODEL_PATH: Final = "MODEL_ARTIFACT_PATH"  # optional override of the bundled artifact's location
ENV_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"  # read by Powertools' Logger, Metrics and Tracer
ENV_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
ENV_LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"


def function_environment(*, stage: str, log_level: str) -> dict[str, str]:
    """The variables every run of the function is configured with, deployed or local: the infrastructure,
    the development server, the benchmarks and the tests all start from this."""
    return {
        ENV_SERVICE_NAME: SERVICE_NAME,
        ENV_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ENV_STAGE: stage,
        ENV_LOG_LEVEL: log_level,
    }


# --- Metrics (EMF, namespace METRICS_NAMESPACE, dimensions: service and stage) --------------------------
# The model version is attached to every metrics record as metadata rather than as a dimension: CloudWatch
# alarms cannot span dimension values, so a version dimension would tie every alarm to one deployment.
METRIC_PREDICTIONS: Final = "PredictionsServed"
METRIC_BATCH_SIZE: Final = "BatchSize"
METRIC_EXTRAPOLATED: Final = "ExtrapolatedInputs"
METRIC_REJECTIONS: Final = "ValidationRejections"
# Per invocation, how many served BMIs fell in each of the artifact's drift bins: BmiBin0, BmiBin1, ...
METRIC_BMI_BIN: Final = "BmiBin"
METRIC_COLD_START: Final = "ColdStart"  # emitted by Powertools itself
DIMENSION_STAGE: Final = "stage"
