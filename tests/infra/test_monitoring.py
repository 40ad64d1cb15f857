"""Alarms, their encrypted topic, and the dashboard."""

from __future__ import annotations

import ast
import bisect
import json
import math
import random
import re

import numpy as np
import pytest
from aws_cdk.assertions import Template

from infra_cdk import drift
from infra_cdk.settings import StageSettings
from model.core import contract
from model.core.artifact import ModelArtifact
from model.train.dataset import load_dataset
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
    assert len(found) == 6
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
        "Input drift (PSI over the last day)",
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


# --- Input drift ----------------------------------------------------------------------------------------
def metric_math(expression: str, values: dict[str, float | None]) -> float:
    """CloudWatch metric math on one datapoint per query, for what the drift alarm uses: + - * /, >= and >,
    LOG (the natural logarithm, as CloudWatch's), FILL(x, v) (v where x has no datapoint: None here) and
    IF(condition, then, else). Anything else in the expression fails the test."""
    tree = ast.parse(expression, mode="eval")
    allowed = (ast.Expression, ast.BinOp, ast.Compare, ast.Call, ast.Name, ast.Constant, ast.Load)
    operators = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.GtE, ast.Gt)
    assert all(isinstance(node, allowed + operators) for node in ast.walk(tree)), expression
    functions = {
        "LOG": math.log,
        "FILL": lambda x, v: v if x is None else x,
        "IF": lambda c, a, b: a if c else b,
    }
    # eval of a tree checked above to hold only arithmetic, comparisons, these three functions and the ids
    return float(eval(compile(tree, "<metric math>", "eval"), {"__builtins__": {}}, {**functions, **values}))  # noqa: S307


def drift_alarm(assembly: Assembly, settings: StageSettings) -> dict:
    return named(alarms(assembly, settings), "InputDrift")


def psi_of(alarm: dict, counts: list[float | None]) -> float:
    """The alarm's watched value for one window with these per-bin sums, every query evaluated as
    CloudWatch does: metrics by their bin, expressions from the ids they name."""
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    bins = {q["Id"]: int(q["MetricStat"]["Metric"]["MetricName"].removeprefix(contract.METRIC_BMI_BIN))
            for q in alarm["Metrics"] if "MetricStat" in q}  # fmt: skip

    def value(query_id: str) -> float | None:
        if query_id in bins:
            return counts[bins[query_id]]
        expression = queries[query_id]["Expression"]
        names = {n.id for n in ast.walk(ast.parse(expression, mode="eval")) if isinstance(n, ast.Name)}
        return metric_math(expression, {n: value(n) for n in names if n in queries})

    (watched,) = [q["Id"] for q in alarm["Metrics"] if q.get("ReturnData", True) and "Expression" in q]
    return float(value(watched))  # type: ignore[arg-type]


def psi_twin(counts: list[float], expected: tuple[float, ...], minimum: int = drift.MIN_SAMPLES) -> float:
    """The index, computed directly: sum (a - e) ln(a / e), a the served share plus EPSILON."""
    n = sum(counts)
    if n < minimum:
        return 0.0
    shares = [c / n + drift.EPSILON for c in counts]
    return sum((a - e) * math.log(a / e) for a, e in zip(shares, expected, strict=True))


def bin_counts(artifact: ModelArtifact, bmis: list[float]) -> list[float]:
    counts = [0.0] * len(artifact.drift.proportions)
    for bmi in bmis:
        counts[bisect.bisect_right(artifact.drift.edges, bmi)] += 1
    return counts


def test_the_drift_alarm_reads_every_bin_over_a_day_and_is_within_cloudwatch_s_limits(
    stage: tuple[StageSettings, Template], assembly: Assembly, model_artifact: ModelArtifact
) -> None:
    settings, _ = stage
    alarm = drift_alarm(assembly, settings)
    stats = [q for q in alarm["Metrics"] if "MetricStat" in q]
    expressions = [q for q in alarm["Metrics"] if "Expression" in q]
    # One metric per drift bin of the artifact, summed over one day, of this stage only
    assert sorted(s["MetricStat"]["Metric"]["MetricName"] for s in stats) == sorted(
        f"{contract.METRIC_BMI_BIN}{i}" for i in range(len(model_artifact.drift.proportions))
    )
    for stat in stats:
        assert stat["MetricStat"]["Stat"] == "Sum"
        assert stat["MetricStat"]["Period"] == 86_400
        assert stat["MetricStat"]["Metric"]["Namespace"] == contract.METRICS_NAMESPACE
        assert stat["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "service", "Value": contract.SERVICE_NAME},
            {"Name": contract.DIMENSION_STAGE, "Value": settings.slug},
        ]
    # PutMetricAlarm takes at most 10 metrics and 10 expressions; CloudFormation 2 048 characters each
    assert len(stats) <= 10
    assert len(expressions) <= 10
    assert max(len(e["Expression"]) for e in expressions) <= 2048
    # A notification on one breaching day, never on a quiet one (missing data does not breach)
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
        drift.PSI_ALARM,
        1,
        1,
    )
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def uniform(low: float, high: float, n: int, seed: int = 0) -> list[float]:
    return [
        round(b, 1)
        for b in random.Random(seed).choices([low + (high - low) * i / 1000 for i in range(1001)], k=n)
    ]


@pytest.mark.parametrize(
    ("population", "alarms_"),
    [("training", False), ("all 442", False), ("obese-only clinic", True), ("everyone +2 kg/m2", True),
     ("obese-only clinic, a quiet day (below the minimum)", False), ("no traffic in some bins", True)],
)  # fmt: skip
def test_the_synthesised_psi_is_the_index_of_known_distributions(
    stage: tuple[StageSettings, Template],
    assembly: Assembly,
    model_artifact: ModelArtifact,
    population: str,
    alarms_: bool,
) -> None:
    data = load_dataset()
    bmis = {
        "training": data.train.x.tolist(),
        "all 442": data.bmi.tolist(),
        "obese-only clinic": uniform(30, 45, 500),
        "everyone +2 kg/m2": [b + 2 for b in data.train.x.tolist()],
        "obese-only clinic, a quiet day (below the minimum)": uniform(30, 45, drift.MIN_SAMPLES - 1),
        "no traffic in some bins": uniform(18, 23, 300),
    }[population]
    counts = bin_counts(model_artifact, bmis)
    alarm = drift_alarm(assembly, stage[0])
    # When the very expressions the stack synthesises are evaluated on the window's per-bin sums
    value = psi_of(alarm, [c or None for c in counts])  # an empty bin has no datapoint at all
    # Then they compute the index (to the 9 decimals the training shares are written with), and alarm only
    # from the threshold, with enough BMIs
    assert value == pytest.approx(psi_twin(counts, model_artifact.drift.proportions), abs=1e-6)
    assert (value >= alarm["Threshold"]) is alarms_
    if population == "training":
        assert value < 1e-4  # the training patients themselves: no drift
    if population == "obese-only clinic":
        assert value > 20 * drift.PSI_ALARM
    if population.startswith("hold-out"):
        assert psi_twin(counts, model_artifact.drift.proportions, minimum=0) > drift.PSI_ALARM  # would alarm
        assert value == 0.0


def test_the_dashboard_draws_the_drift_index_with_its_watch_and_alarm_lines(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, dashboard = one(assembly.templates[STACK_NAMES[settings.name]], "AWS::CloudWatch::Dashboard")
    pieces = props(dashboard)["DashboardBody"]["Fn::Join"][1]
    widgets = json.loads("".join(p if isinstance(p, str) else "<ref>" for p in pieces))["widgets"]
    (widget,) = [w for w in widgets if w["properties"].get("title", "").startswith("Input drift")]
    annotations = widget["properties"]["annotations"]["horizontal"]
    assert sorted(a["value"] for a in annotations) == [drift.PSI_WATCH, drift.PSI_ALARM]
    expressions = [m[0]["expression"] for m in widget["properties"]["metrics"] if isinstance(m[0], dict)]
    assert drift_alarm(assembly, settings)["Metrics"][-1]["Expression"] in expressions


def window_psi(model_artifact: ModelArtifact, n: int, shift: float, windows: int = 2000) -> np.ndarray:
    """The index of ``windows`` days of ``n`` BMIs drawn from the training patients', shifted by ``shift``."""
    train = load_dataset().train.x
    draws = np.random.default_rng(0).choice(train, size=(windows, n)) + shift
    bins = np.searchsorted(np.array(model_artifact.drift.edges), draws, side="right")
    shares = np.stack([(bins == i).mean(axis=1) for i in range(10)], axis=1) + drift.EPSILON
    expected = np.array(model_artifact.drift.proportions)
    return np.sum((shares - expected) * np.log(shares / expected), axis=1)


def test_the_threshold_and_minimum_keep_false_alarms_negligible_and_see_a_shift(
    model_artifact: ModelArtifact,
):
    # With no drift the index is about (bins - 1) / n: from the minimum of 200 BMIs a day, no false alarm in
    # 2 000 days, where days of 100 would alarm now and then; everyone 2 kg/m^2 heavier alarms most days
    stable = window_psi(model_artifact, drift.MIN_SAMPLES, 0.0)
    assert np.mean(stable >= drift.PSI_ALARM) == 0.0
    assert np.mean(stable) == pytest.approx(9 / drift.MIN_SAMPLES, rel=0.1)
    assert np.mean(window_psi(model_artifact, drift.MIN_SAMPLES // 2, 0.0) >= drift.PSI_ALARM) > 0.0
    assert np.mean(window_psi(model_artifact, drift.MIN_SAMPLES, 2.0) >= drift.PSI_ALARM) > 0.85
