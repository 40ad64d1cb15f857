"""The service's contract, defined once: routes, input limits, environment and telemetry names.

Imported by the function, the infrastructure (authorization per route, alarms on these metrics), the
local development server and the end-to-end suite. Standard library only and free of side effects, so
that importing it costs nothing at cold start and nothing at synthesis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

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
# GATEWAY_ERRORS["REQUEST_TOO_LARGE"]): API Gateway accepts up to 10 MB but cannot hand Lambda more than its
# 6 MB synchronous payload, and would answer that with a 5xx. infra_cdk/protection.py derives and enforces it.
EDGE_BODY_LIMIT_BYTES: Final = 2_000_000


# --- Routes -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    public: bool  # public routes need no SigV4 signature behind API Gateway
    deprecated: bool = False


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
    Route("GET", PATH_OPENAPI, public=True),
    Route("POST", PATH_LEGACY_STREAM, public=False, deprecated=True),
    Route("POST", PATH_LEGACY_BATCH, public=False, deprecated=True),
)
PUBLIC_PATHS: Final = tuple(r.path for r in ROUTES if r.public)
PROTECTED_PATHS: Final = tuple(r.path for r in ROUTES if not r.public)


# --- API Gateway's own errors ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GatewayError:
    code: str
    status: int | None = None  # None: keep API Gateway's own status for that response type


# API Gateway's responses (keyed by CloudFormation's ResponseType), rewritten by the infrastructure into the
# function's error shape; the development server answers the same codes where it stands in for the gateway.
GATEWAY_ERRORS: Final = {
    "DEFAULT_4XX": GatewayError("bad_request"),
    "DEFAULT_5XX": GatewayError("internal_error"),
    "ACCESS_DENIED": GatewayError("forbidden", 403),
    "MISSING_AUTHENTICATION_TOKEN": GatewayError("missing_authentication", 403),
    "INVALID_SIGNATURE": GatewayError("invalid_signature", 403),
    "EXPIRED_TOKEN": GatewayError("expired_credentials", 403),
    "UNAUTHORIZED": GatewayError("unauthorized", 401),
    "WAF_FILTERED": GatewayError("request_blocked", 403),
    "THROTTLED": GatewayError("throttled", 429),
    "QUOTA_EXCEEDED": GatewayError("quota_exceeded", 429),
    "REQUEST_TOO_LARGE": GatewayError("payload_too_large", 413),
    "BAD_REQUEST_BODY": GatewayError("malformed_body", 400),
    "BAD_REQUEST_PARAMETERS": GatewayError("bad_request", 400),
    "UNSUPPORTED_MEDIA_TYPE": GatewayError("unsupported_media_type", 415),
    "RESOURCE_NOT_FOUND": GatewayError("not_found", 404),
    "INTEGRATION_FAILURE": GatewayError("bad_gateway", 502),
    "INTEGRATION_TIMEOUT": GatewayError("gateway_timeout", 504),
}


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
METRIC_COLD_START: Final = "ColdStart"  # emitted by Powertools itself
DIMENSION_STAGE: Final = "stage"
