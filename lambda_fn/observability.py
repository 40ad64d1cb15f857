"""Logging and metrics: the process-wide Powertools singletons and the few events the function reports.

- Logs are structured JSON; every line carries the correlation id (API Gateway's request id, injected by
  the handler) and the model version (appended once the model is loaded).
- Patient inputs are health data: nothing here accepts a BMI value, so none can be logged by accident.
  Only counts, codes and field names are recorded.
- Metrics are CloudWatch EMF lines flushed once per invocation, in contract.METRICS_NAMESPACE, with the
  low-cardinality dimensions service and stage. The model version travels as metadata (searchable in
  Logs Insights) rather than as a dimension, see lambda_fn/contract.py.
- Tracing: no Powertools Tracer. It needs the X-Ray SDK, whose import alone costs more than the whole
  cold-start budget (270-580 ms measured, docs/benchmarks.md). With active tracing on the function (the
  infrastructure enables it) Lambda records the invocation's segment without any SDK in the image, which
  is all a function that calls nothing else has to show.
"""

from __future__ import annotations

import os
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_fn import contract

STAGE: Final = os.environ.get(contract.ENV_STAGE, "local")

logger: Final = Logger(service=contract.SERVICE_NAME)
metrics: Final = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
metrics.set_default_dimensions(**{contract.DIMENSION_STAGE: STAGE})

_model: dict[str, str] = {"version": "unknown"}
# What the current request did, summarised on its one "request served" line. Lambda runs one request at a
# time per process, so a module-level dict reset per invocation is safe.
_request_summary: dict[str, Any] = {}
_cold_start: list[bool] = [True]  # cleared by the first invocation of this process
_FIRST_ERROR_STATUS: Final = 400
_FIRST_SERVER_ERROR_STATUS: Final = 500


def bind_model_version(version: str) -> None:
    """Adds the model version to every later log line and metrics record."""
    _model["version"] = version
    logger.append_keys(model_version=version)


def start_request(request_id: str | None) -> None:
    """Resets the per-request summary and ties the request's log lines and metrics to API Gateway's
    request id (the id a client sees in ``x-amzn-RequestId``)."""
    _request_summary.clear()
    logger.set_correlation_id(request_id)
    metrics.add_metadata(key="request_id", value=request_id or "")


def record_predictions(*, count: int, extrapolated: int, batch: bool) -> None:
    metrics.add_metric(name=contract.METRIC_PREDICTIONS, unit=MetricUnit.Count, value=count)
    metrics.add_metric(name=contract.METRIC_EXTRAPOLATED, unit=MetricUnit.Count, value=extrapolated)
    if batch:
        metrics.add_metric(name=contract.METRIC_BATCH_SIZE, unit=MetricUnit.Count, value=count)
    metrics.add_metadata(key="model_version", value=_model["version"])
    _request_summary.update(predictions=count, extrapolated=extrapolated)


def record_rejection(*, code: str, fields: list[str | None]) -> None:
    metrics.add_metric(name=contract.METRIC_REJECTIONS, unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="model_version", value=_model["version"])
    # Field names only ("bmi[3]"), never the submitted values.
    _request_summary.update(error_code=code, rejected_fields=fields[:10])


def publish_metrics(context: LambdaContext) -> None:
    """Flushes this invocation's EMF record (and, once per process, Powertools' ColdStart metric).

    Used instead of ``@metrics.log_metrics``: routes without application metrics (/health, /docs,
    /v1/model, 404s) would make it warn on every call, and silencing that would mean changing the whole
    process's warnings filter."""
    if _cold_start:
        _cold_start.clear()
        metrics.provider.add_cold_start_metric(context)
    if metrics.provider.metric_set:
        metrics.flush_metrics()
    else:
        metrics.clear_metrics()  # drops the metadata this request set, so nothing carries over


def note_error(code: str) -> None:
    """An error that is not an input rejection (404, 405, 500): logged with the request, not counted."""
    _request_summary.update(error_code=code)


def log_request(*, method: str, path: str, status: int) -> None:
    """One line per request: INFO for a rejection or an error (what someone will investigate), DEBUG for
    a success. A success is already recorded by its EMF line (counts, model version, request id); an INFO
    line per success would double the log volume and, at ~30 µs per formatted line, cost a third of the
    warm latency budget (docs/benchmarks.md). POWERTOOLS_LOGGER_SAMPLE_RATE samples them when wanted."""
    fields = {"method": method, "path": path, "status": status, **_request_summary}
    if status < _FIRST_ERROR_STATUS:
        logger.debug("request served", extra=fields)
    elif status < _FIRST_SERVER_ERROR_STATUS:
        logger.info("request rejected", extra=fields)
    else:
        logger.info("request failed", extra=fields)
