"""Logging and metrics: the Powertools singletons and the few events the function reports. Every log line is
JSON with the request id and the model version; patient inputs are health data, so nothing here accepts a
BMI. EMF metrics are flushed once per invocation (dimensions service and stage). No Tracer: the X-Ray SDK
costs more than the whole cold start, and Lambda's active tracing works without it (docs/benchmarks.md)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from model.core import contract
from model.core.prediction import BatchPrediction

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

STAGE: Final = os.environ.get(contract.ENV_STAGE, "local")

logger: Final = Logger(service=contract.SERVICE_NAME)
metrics: Final = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
metrics.set_default_dimensions(**{contract.DIMENSION_STAGE: STAGE})

_model_version = "unknown"
_cold_start = True  # until the first invocation of this process has published its metrics
# What the current request did, for its one summary line: Lambda runs one request at a time per process.
_request: dict[str, Any] = {}


def bind_model_version(version: str) -> None:
    """Adds the model version to every later log line and metrics record."""
    global _model_version
    _model_version = version
    logger.append_keys(model_version=version)


def start_request(request_id: str | None) -> None:
    """Ties the request's log lines and metrics to API Gateway's request id (``x-amzn-RequestId``)."""
    _request.clear()
    logger.set_correlation_id(request_id)
    metrics.add_metadata(key="request_id", value=request_id or "")


def record_predictions(result: BatchPrediction, drift_bins: list[int], *, batch: bool) -> None:
    """The invocation's counts, in its one EMF record, with how many BMIs fell in each of the model's drift
    bins that any fell in (the stage fills the others with 0): what it compares with the training (PSI)."""
    count, extrapolated = len(result.values), result.extrapolated_count
    metrics.add_metric(name=contract.METRIC_PREDICTIONS, unit=MetricUnit.Count, value=count)
    metrics.add_metric(name=contract.METRIC_EXTRAPOLATED, unit=MetricUnit.Count, value=extrapolated)
    for index, inside in enumerate(drift_bins):
        if inside:
            metrics.add_metric(name=f"{contract.METRIC_BMI_BIN}{index}", unit=MetricUnit.Count, value=inside)
    if batch:
        metrics.add_metric(name=contract.METRIC_BATCH_SIZE, unit=MetricUnit.Count, value=count)
    _request.update(predictions=count, extrapolated=extrapolated)


def record_rejection(*, code: str, fields: list[str | None]) -> None:
    metrics.add_metric(name=contract.METRIC_REJECTIONS, unit=MetricUnit.Count, value=1)
    _request.update(error_code=code, rejected_fields=fields[:10])  # names ("bmi[3]"), never values


def note_error(code: str, **detail: str) -> None:
    """An error that is not an input rejection (404, 405, 500, a malformed event): logged with the
    request, not counted."""
    _request.update(error_code=code, **detail)


def publish_metrics(context: LambdaContext) -> None:
    """Flushes this invocation's EMF record and, once per process, Powertools' ColdStart metric. Not
    ``@metrics.log_metrics``: it warns on every invocation that records no metric (/health, /docs, 404s)."""
    global _cold_start
    if _cold_start:
        _cold_start = False
        metrics.provider.add_cold_start_metric(context)
    if metrics.provider.metric_set:
        metrics.add_metadata(key="model_version", value=_model_version)
        metrics.flush_metrics()
    else:
        metrics.clear_metrics()  # drops the metadata this request set, so nothing carries over


def log_request(*, method: str | None, route: str | None, status: int) -> None:
    """One line per request: INFO for a rejection or an error (what someone will investigate), DEBUG for a
    success, which its EMF record already counts (an INFO line per success would double the log volume
    and cost a third of a warm request: docs/benchmarks.md). ``route`` is a contract path or None: what a
    caller typed as a path is never logged (lambda_fn.event_guard)."""
    fields = {"method": method, "route": route, "status": status, **_request}
    if status < 400:
        logger.debug("request served", extra=fields)
    else:
        logger.info("request rejected" if status < 500 else "request failed", extra=fields)
