"""What the function tells operators: EMF metrics and structured logs, read from its real output."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_fn import observability
from model.core import contract
from model.core.artifact import ModelArtifact

from .conftest import REQUEST_ID, Invoker

DISTINCTIVE_BMI = 27.3456789  # a value that cannot appear in output by coincidence


def the_record(emf: list[dict[str, Any]]) -> dict[str, Any]:
    """The invocation's application-metrics record (ColdStart, once per process, is a separate line)."""
    records = [r for r in emf if contract.METRIC_COLD_START not in r]
    assert len(records) == 1, emf
    return records[0]


def metric_names(record: dict[str, Any]) -> set[str]:
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    return {m["Name"] for m in directive["Metrics"]}


def assert_standard_record(record: dict[str, Any], model: ModelArtifact) -> None:
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == contract.METRICS_NAMESPACE
    # Low cardinality: service and stage only; the model version is metadata, not a dimension
    assert [sorted(d) for d in directive["Dimensions"]] == [sorted(["service", contract.DIMENSION_STAGE])]
    assert record["service"] == contract.SERVICE_NAME
    assert record[contract.DIMENSION_STAGE] == observability.STAGE
    assert record["model_version"] == model.model_version
    assert record["request_id"] == REQUEST_ID
    assert all(m["Unit"] == "Count" for m in directive["Metrics"])


def bins(model: ModelArtifact) -> list[str]:
    return [f"{contract.METRIC_BMI_BIN}{i}" for i in range(len(model.drift.proportions))]


def test_a_prediction_emits_predictions_extrapolations_and_the_drift_bin_it_falls_in(
    invoke: Invoker, served_model: ModelArtifact
) -> None:
    record = the_record(invoke("POST", "/v1/predict", {"bmi": 12.0}).emf)
    assert_standard_record(record, served_model)
    # and one metric per drift bin a BMI fell in (BMI 12: the leanest); the stage fills the others with 0
    leanest = bins(served_model)[0]
    assert metric_names(record) == {contract.METRIC_PREDICTIONS, contract.METRIC_EXTRAPOLATED, leanest}
    assert record[contract.METRIC_PREDICTIONS] == [1.0]
    assert record[contract.METRIC_EXTRAPOLATED] == [1.0]
    assert record[leanest] == [1.0]


def test_a_batch_also_emits_its_size_and_one_count_per_drift_bin(
    invoke: Invoker, served_model: ModelArtifact
) -> None:
    bmis = [20.0, 45.0, 50.0, 25.0, 25.1, *served_model.drift.edges]
    record = the_record(invoke("POST", "/v1/predict/batch", {"bmi": bmis}).emf)
    assert_standard_record(record, served_model)
    assert record[contract.METRIC_PREDICTIONS] == [len(bmis)]
    assert record[contract.METRIC_BATCH_SIZE] == [len(bmis)]
    assert record[contract.METRIC_EXTRAPOLATED] == [2.0]
    # An edge counts in the bin above it, as the training proportions were counted; aggregated per invocation
    edges = served_model.drift.edges
    expected = [
        sum(1 for b in bmis if (i == 0 or b >= edges[i - 1]) and (i == 9 or b < edges[i])) for i in range(10)
    ]
    assert [record.get(name, [0.0]) for name in bins(served_model)] == [[float(n)] for n in expected]
    assert sum(expected) == len(bmis)


def test_the_legacy_routes_count_their_bmis_in_the_drift_bins_too(
    invoke: Invoker, served_model: ModelArtifact
) -> None:
    scaled = [served_model.feature.to_scaled(b) for b in (20.0, 33.0)]
    record = the_record(invoke("POST", "/batch", {"input": scaled}).emf)
    assert sum(record.get(name, [0])[0] for name in bins(served_model)) == 2


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/v1/predict", '{"bmi": "x"}', None),
        ("/v1/predict", "{", None),
        ("/v1/predict", '{"bmi": 27.3}', {"Content-Type": "text/plain"}),
        ("/batch", '{"input": [99.0]}', None),
    ],
)
def test_a_rejection_is_counted(
    invoke: Invoker, served_model: ModelArtifact, path: str, body: str, headers: dict[str, str] | None
) -> None:
    record = the_record(invoke("POST", path, body, headers=headers).emf)
    assert_standard_record(record, served_model)
    assert metric_names(record) == {contract.METRIC_REJECTIONS}
    assert record[contract.METRIC_REJECTIONS] == [1.0]


@pytest.mark.parametrize(("method", "path"), [("GET", "/health"), ("GET", "/v1/model"), ("GET", "/nowhere")])
def test_routes_without_predictions_emit_no_application_metrics(
    invoke: Invoker, method: str, path: str
) -> None:
    assert [r for r in invoke(method, path).emf if contract.METRIC_COLD_START not in r] == []


def test_a_rejection_is_logged_once_with_correlation_id_and_model_version(
    invoke: Invoker, served_model: ModelArtifact
) -> None:
    result = invoke("POST", "/v1/predict/batch", {"bmi": [DISTINCTIVE_BMI, "x"]})
    (line,) = result.logs
    assert line["level"] == "INFO"
    assert line["message"] == "request rejected"
    assert line["correlation_id"] == REQUEST_ID
    assert line["model_version"] == served_model.model_version
    assert line["service"] == contract.SERVICE_NAME
    assert (line["status"], line["error_code"], line["rejected_fields"]) == (
        422,
        "validation_error",
        ["bmi[1]"],
    )
    assert (line["method"], line["route"]) == ("POST", "/v1/predict/batch")


def test_an_unknown_field_is_named_to_the_client_but_not_in_the_log(invoke: Invoker) -> None:
    result = invoke("POST", "/v1/predict", {"bmi": 27.3, "27.3456": 1})
    assert result.body["error"]["details"] == [{"field": "27.3456", "issue": "is not an accepted field"}]
    (line,) = result.logs
    assert line["rejected_fields"] == ["(unknown field)"]


def test_a_success_writes_no_info_line(invoke: Invoker) -> None:
    # Successes are recorded by their EMF line; the per-request line is DEBUG (see observability.log_request)
    assert invoke("POST", "/v1/predict", {"bmi": DISTINCTIVE_BMI}).logs == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/predict", {"bmi": DISTINCTIVE_BMI}),
        ("/v1/predict", {"bmi": str(DISTINCTIVE_BMI)}),
        ("/v1/predict", {"bmi": DISTINCTIVE_BMI, "unknown": DISTINCTIVE_BMI}),
        ("/v1/predict/batch", {"bmi": [DISTINCTIVE_BMI, 1000 + DISTINCTIVE_BMI]}),
        ("/stream", {"input": DISTINCTIVE_BMI}),
    ],
)
def test_no_submitted_value_ever_reaches_the_output(invoke: Invoker, path: str, body: dict[str, Any]) -> None:
    # Patient inputs are health data: neither log lines nor metrics nor error texts may repeat them
    result = invoke("POST", path, body)
    assert "27.345" not in "\n".join(result.output)
    if result.status >= 400:
        assert "27.345" not in result.raw_body


def test_an_unexpected_failure_is_a_500_in_the_error_shape_with_the_detail_only_in_the_log(
    invoke: Invoker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a bug deep in the domain code
    def broken(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("model.core.prediction.predict_batch", broken)
    result = invoke("POST", "/v1/predict", {"bmi": 27.3})
    # Then the client gets a generic 500 and the log gets the stack
    assert result.status == 500
    assert result.body == {
        "error": {
            "code": "internal_error",
            "message": "The service failed to handle the request.",
            "details": [],
        }
    }
    assert "secret internal detail" not in result.raw_body
    levels = {line["message"]: line for line in result.logs}
    assert "secret internal detail" in levels["unhandled error"]["exception"]
    assert levels["unhandled error"]["level"] == "ERROR"
    assert levels["request failed"]["status"] == 500


def test_powertools_debug_logging_never_sees_a_request_value(
    invoke: Invoker, caplog: pytest.LogCaptureFixture
) -> None:
    # Powertools formats the route's arguments into a DEBUG message on every request: the routes take none,
    # and the body is read inside them, so no request value can reach a repr it logs.
    with caplog.at_level("DEBUG", logger="aws_lambda_powertools"):
        invoke("POST", "/v1/predict/batch", {"bmi": [DISTINCTIVE_BMI, 31.0]})
        invoke("POST", "/v1/predict", {"bmi": "x", "note": DISTINCTIVE_BMI})
    assert any("Calling API Route Handler" in r.getMessage() for r in caplog.records)
    assert not [r.getMessage() for r in caplog.records if str(DISTINCTIVE_BMI) in r.getMessage()]
