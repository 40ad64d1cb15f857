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


# --- Routes -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    public: bool  # public routes need no SigV4 signature behind API Gateway
    deprecated: bool = False


ROUTES: Final = (
    Route("POST", "/v1/predict", public=False),
    Route("POST", "/v1/predict/batch", public=False),
    Route("GET", "/v1/model", public=False),
    Route("GET", "/health", public=True),
    Route("GET", "/docs", public=True),
    Route("GET", "/openapi.json", public=True),
    # The contract of the system this service replaces, kept for its existing clients.
    Route("POST", "/stream", public=False, deprecated=True),
    Route("POST", "/batch", public=False, deprecated=True),
)
PUBLIC_PATHS: Final = tuple(r.path for r in ROUTES if r.public)
PROTECTED_PATHS: Final = tuple(r.path for r in ROUTES if not r.public)


# --- Environment (set by the infrastructure, read by the function) -------------------------------------
ENV_STAGE: Final = "STAGE"
ENV_MODEL_PATH: Final = "MODEL_ARTIFACT_PATH"  # optional override of the bundled artifact's location


# --- Metrics (EMF, namespace METRICS_NAMESPACE, dimensions: service and stage) --------------------------
# The model version is attached to every metrics record as metadata rather than as a dimension: CloudWatch
# alarms cannot span dimension values, so a version dimension would tie every alarm to one deployment.
METRIC_PREDICTIONS: Final = "PredictionsServed"
METRIC_BATCH_SIZE: Final = "BatchSize"
METRIC_EXTRAPOLATED: Final = "ExtrapolatedInputs"
METRIC_REJECTIONS: Final = "ValidationRejections"
METRIC_COLD_START: Final = "ColdStart"  # emitted by Powertools itself
DIMENSION_STAGE: Final = "stage"
