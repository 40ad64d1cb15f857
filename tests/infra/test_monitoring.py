"""Alarms, their encrypted topic, and the dashboard."""

from __future__ import annotations

import json
import re

from aws_cdk.assertions import Template

from infra_cdk.settings import StageSettings
from model.core import contract
from tests.infra.cfn import as_list, one, props, ref_target, resources
from tests.infra.conftest import ALARM_SUBSCRIBERS, STACK_NAMES, Assembly
from tests.infra.test_function import function_of


def alarms(assembly: Assembly, settings: StageSettings) -> dict[str, dict]:
    found = resources(assembly.templates[STACK_NAMES[settings.name]], "AWS::CloudWatch::Alarm")
    return {k: props(v) for k, v in found.items()}


def named(alarm_map: dict[str, dict], fragment: str) -> dict:
    (alarm,) = [a for k, a in alarm_map.items() if fragment in k]
    return alarm


def test_every_alarm_notifies_the_encrypted_ssl_only_topic(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    topic_id, topic = one(template, "AWS::SNS::Topic")
    key_id, _ = one(template, "AWS::KMS::Key")
    assert ref_target(props(topic)["KmsMasterKeyId"]) == key_id
    _, policy = one(template, "AWS::SNS::TopicPolicy")
    (deny,) = [s for s in props(policy)["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    found = alarms(assembly, settings)
    assert len(found) == 5
    for alarm in found.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_cloudwatch_alarms_may_publish_to_the_topic_and_use_its_key(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    # Both halves: the topic policy (which replaces SNS's default one) must let this account's alarms
    # publish, and the key policy must let CloudWatch encrypt for the topic; either missing drops every alarm.
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    topic_id, _ = one(template, "AWS::SNS::Topic")
    _, policy = one(template, "AWS::SNS::TopicPolicy")
    (publish,) = [
        s
        for s in props(policy)["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert as_list(publish["Action"]) == ["sns:Publish"]
    assert publish["Resource"] == {"Ref": topic_id}
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    (source_arn,) = publish["Condition"]["ArnLike"].values()
    assert source_arn["Fn::Join"][1][-1] == ":alarm:*"
    assert {"Ref": "AWS::AccountId"} in source_arn["Fn::Join"][1]

    _, key = one(template, "AWS::KMS::Key")
    assert props(key)["EnableKeyRotation"] is True
    (use_key,) = [
        s
        for s in props(key)["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert use_key["Effect"] == "Allow"
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(as_list(use_key["Action"]))
    assert use_key["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_the_api_alarms_watch_this_stage_with_its_thresholds(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    found = alarms(assembly, settings)
    dimensions = [
        {"Name": "ApiName", "Value": f"{contract.SERVICE_NAME}-{settings.slug}"},
        {"Name": "Stage", "Value": settings.slug},
    ]
    rate = named(found, "Api5xxRate")
    (errors,) = [m for m in rate["Metrics"] if "MetricStat" in m]
    assert errors["MetricStat"]["Metric"]["MetricName"] == "5XXError"
    assert errors["MetricStat"]["Metric"]["Dimensions"] == dimensions
    assert rate["Threshold"] == settings.alarm_5xx_rate_percent
    latency = named(found, "ApiP99Latency")
    stats = {m["Id"]: m["MetricStat"] for m in latency["Metrics"] if "MetricStat" in m}
    assert {(s["Metric"]["MetricName"], s["Stat"]) for s in stats.values()} == {
        ("Latency", "p99"),
        ("Count", "Sum"),
    }
    assert all(s["Metric"]["Dimensions"] == dimensions for s in stats.values())
    assert latency["Threshold"] == settings.alarm_p99_latency_ms


def evaluate(expression: str, values: dict[str, float]) -> float:
    """CloudWatch's metric math for the one form the latency alarm uses: IF(a >= N, b, 0)."""
    match = re.fullmatch(r"IF\((\w+) >= (\d+), (\w+), 0\)", expression)
    assert match, expression
    gate, minimum, value = match.groups()
    return values[value] if values[gate] >= int(minimum) else 0


def test_a_few_slow_requests_cannot_roll_a_deployment_back_on_latency(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    # Given the latency alarm that CodeDeploy watches, and minutes where every request is slow
    settings, _ = stage
    latency = named(alarms(assembly, settings), "ApiP99Latency")
    (expression,) = [m for m in latency["Metrics"] if "Expression" in m]
    assert expression["ReturnData"] is True
    ids = {m["Id"]: m["MetricStat"]["Metric"]["MetricName"] for m in latency["Metrics"] if "MetricStat" in m}
    requests, p99 = (next(i for i, name in ids.items() if name == wanted) for wanted in ("Count", "Latency"))
    slow = 10 * settings.alarm_p99_latency_ms

    def breaches(count: int) -> bool:
        return evaluate(expression["Expression"], {requests: count, p99: slow}) >= latency["Threshold"]

    # Then a minute of a handful of requests (a new version's cold starts at low traffic) never breaches,
    # and the smallest minute that can is large enough that its p99 is not its slowest request alone
    fewest = next(count for count in range(1, 10_000) if breaches(count))
    assert fewest >= 100
    assert breaches(10 * fewest)
    assert latency["EvaluationPeriods"] == 3
    assert latency["DatapointsToAlarm"] == 2


def test_function_errors_are_watched_on_the_live_alias_and_throttles_on_the_function(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    found = alarms(assembly, settings)
    errors = named(found, "FunctionErrors")
    assert errors["MetricName"] == "Errors"
    assert {d["Name"]: d["Value"] for d in errors["Dimensions"]}["Resource"]["Fn::Join"][1][-1] == ":live"
    assert errors["Threshold"] == settings.alarm_function_errors
    throttles = named(found, "FunctionThrottles")
    assert throttles["MetricName"] == "Throttles"
    # What an operator reads when it fires speaks of the concurrency this stage actually has
    reserves = settings.reserved_concurrency is not None
    assert ("stage's reserved concurrency" in throttles["AlarmDescription"]) is reserves
    assert ("account's unreserved concurrency" in throttles["AlarmDescription"]) is not reserves


def test_the_drift_alarm_is_the_share_of_extrapolated_inputs_from_the_contract_metrics(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    drift = named(alarms(assembly, settings), "ExtrapolatedInputs")
    (expression,) = [m for m in drift["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "IF(predictions > 0, 100 * extrapolated / predictions, 0)"
    stats = {m["Id"]: m["MetricStat"] for m in drift["Metrics"] if "MetricStat" in m}
    assert stats["extrapolated"]["Metric"]["MetricName"] == contract.METRIC_EXTRAPOLATED
    assert stats["predictions"]["Metric"]["MetricName"] == contract.METRIC_PREDICTIONS
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == contract.METRICS_NAMESPACE
        assert stat["Metric"]["Dimensions"] == [
            {"Name": "service", "Value": contract.SERVICE_NAME},
            {"Name": contract.DIMENSION_STAGE, "Value": settings.slug},
        ]
        assert stat["Stat"] == "Sum"
    assert drift["Threshold"] == settings.alarm_extrapolated_percent


def test_the_dashboard_shows_traffic_latency_errors_predictions_drift_cold_starts_and_concurrency(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, dashboard = one(assembly.templates[STACK_NAMES[settings.name]], "AWS::CloudWatch::Dashboard")
    body = json.dumps(props(dashboard)["DashboardBody"])
    for title in (
        "Requests",
        "Latency (ms)",
        "4XX / 5XX",
        "Predictions",
        "Extrapolated inputs",
        "Cold starts and concurrency",
    ):
        assert f'\\"title\\":\\"{title}\\"' in body
    for metric in (
        "p50",
        "p99",
        contract.METRIC_PREDICTIONS,
        contract.METRIC_EXTRAPOLATED,
        contract.METRIC_COLD_START,
        "ConcurrentExecutions",
    ):
        assert metric in body


def test_the_cold_start_graph_searches_the_dimensions_powertools_gives_cold_start(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    # Powertools emits ColdStart with the dimensions function_name and service only (no stage): a search
    # filtering on stage would draw an empty graph.
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    function_id, _ = function_of(assembly, settings)
    _, dashboard = one(template, "AWS::CloudWatch::Dashboard")
    pieces = props(dashboard)["DashboardBody"]["Fn::Join"][1]
    rendered = "".join(p if isinstance(p, str) else f"<{ref_target(p)}>" for p in pieces)
    widgets = json.loads(rendered)["widgets"]
    expressions = [
        m[0]["expression"]
        for w in widgets
        for m in w["properties"].get("metrics", [])
        if isinstance(m[0], dict) and "SEARCH(" in m[0].get("expression", "")
    ]
    (search,) = expressions
    schema = f"{{{contract.METRICS_NAMESPACE},function_name,service}}"
    assert search.startswith(f'SEARCH(\'{schema} MetricName="{contract.METRIC_COLD_START}" ')
    assert f'function_name="<{function_id}>"' in search
    assert f"{contract.DIMENSION_STAGE}=" not in search


def test_alarm_subscribers_of_a_stage_are_subscribed_to_its_topic_and_only_there(
    per_account_assembly: Assembly,
) -> None:
    # Given Production lists an address and a chat webhook (Staging none), Then Production's topic has
    # exactly those subscriptions, each with its protocol, and Staging's topic none
    production = per_account_assembly.templates["Production-Service"]
    topic_id, _ = one(production, "AWS::SNS::Topic")
    subscriptions = [props(r) for r in resources(production, "AWS::SNS::Subscription").values()]
    assert sorted((s["Protocol"], s["Endpoint"]) for s in subscriptions) == sorted(
        ("https" if e.startswith("https://") else "email", e) for e in ALARM_SUBSCRIBERS
    )
    assert all(s["TopicArn"] == {"Ref": topic_id} for s in subscriptions)
    assert not resources(per_account_assembly.templates["Staging-Service"], "AWS::SNS::Subscription")
