"""Alarms (to a KMS-encrypted topic) and the stage's dashboard. Three alarms also guard deployments
(:attr:`Monitoring.rollback_alarms`): the live alias's errors, the API's 5xx rate and its p99 latency
(:data:`P99_MIN_REQUESTS`); CodeDeploy rolls a deployment back when any fires during the shift. Two watch
who is served: inputs outside the training range, and the drift inside it (:mod:`infra_cdk.drift`). They
alarm (someone should look) but never roll back, since a new version does not change who the patients are."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra_cdk.drift import MIN_SAMPLES, PSI_ALARM, drift_watch
from infra_cdk.settings import StageSettings
from model.core import contract
from model.core.artifact import Drift

_MINUTE = Duration.minutes(1)
# From 100 requests in a minute, the p99 is no longer the slowest request: one cold start (the first calls
# of a new version load its image, which can take over a second) cannot breach the latency alarm alone, and
# the alarm needs two such minutes out of three. Quieter minutes count as 0 ms: at that traffic the errors
# and 5XX alarms guard the deployment, and the dashboard still shows the raw p99.
P99_MIN_REQUESTS = 100


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        api_name: str,
        function: lambda_.Function,
        alias: lambda_.Alias,
        key: kms.IKey,
        drift: Drift,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._api_name = api_name
        self._function = function
        self.topic = self._build_topic(key)
        self._alarms: list[cloudwatch.Alarm] = []  # filled by _alarm; the dashboard lists them in this order
        psi, drift_graph = drift_watch(self._app_metric, drift.proportions)
        self.rollback_alarms: list[cloudwatch.IAlarm] = self._build_alarms(alias, psi)
        dashboard = self._build_dashboard(drift_graph)
        self.dashboard_url = (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={dashboard.dashboard_name}"
        )

    def _build_topic(self, key: kms.IKey) -> sns.Topic:
        settings = self._settings
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{contract.SERVICE_NAME} {settings.slug} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        self._allow_cloudwatch_alarms_to_publish(topic, key)
        for index, endpoint in enumerate(settings.alarm_subscribers):
            # Named by position: an address never becomes a construct path or logical id.
            https = endpoint.startswith("https://")
            protocol = sns.SubscriptionProtocol.HTTPS if https else sns.SubscriptionProtocol.EMAIL
            sns.Subscription(
                self, f"AlarmSubscriber{index}", topic=topic, endpoint=endpoint, protocol=protocol
            )
        return topic

    def _build_alarms(self, alias: lambda_.Alias, psi: cloudwatch.IMetric) -> list[cloudwatch.IAlarm]:
        """All the alarms; returns those that roll a deployment back."""
        settings = self._settings
        api_5xx_rate = self._alarm(
            "Api5xxRate",
            _math(
                "100 * errors", "5XX rate (%)", errors=self._api_metric("5XXError", cloudwatch.Stats.AVERAGE)
            ),
            threshold=settings.alarm_5xx_rate_percent,
            description=f"at least {settings.alarm_5xx_rate_percent}% of API requests fail with 5XX",
        )
        api_p99_latency = self._alarm(
            "ApiP99Latency",
            _math(
                f"IF(requests >= {P99_MIN_REQUESTS}, p99, 0)",
                f"p99 latency (ms) in minutes of at least {P99_MIN_REQUESTS} requests",
                requests=self._api_metric("Count", cloudwatch.Stats.SUM),
                p99=self._api_metric("Latency", cloudwatch.Stats.percentile(99)),
            ),
            threshold=settings.alarm_p99_latency_ms,
            description=(
                f"p99 API latency at or above {settings.alarm_p99_latency_ms} ms, in minutes of "
                f"{P99_MIN_REQUESTS} requests or more"
            ),
        )
        # On the alias: during a canary these are the errors of the versions actually taking traffic.
        function_errors = self._alarm(
            "FunctionErrors",
            alias.metric_errors(statistic=cloudwatch.Stats.SUM, period=_MINUTE),
            threshold=settings.alarm_function_errors,
            description="the live alias reports function errors (unhandled exceptions, timeouts)",
        )
        self._alarm(
            "FunctionThrottles",
            self._function.metric_throttles(statistic=cloudwatch.Stats.SUM, period=_MINUTE),
            threshold=1,
            description=(
                "invocations throttled: the stage's reserved concurrency is exhausted"
                if settings.reserved_concurrency is not None
                else "invocations throttled: the account's unreserved concurrency is exhausted"
            ),
        )
        self._alarm(
            "ExtrapolatedInputs",
            self._extrapolated_ratio(),
            threshold=settings.alarm_extrapolated_percent,
            description=(
                f"at least {settings.alarm_extrapolated_percent}% of inputs lie outside the training "
                "range (model drift: the served population differs from the training data)"
            ),
            periods=2,
        )
        description = f"input drift: PSI of a day's served BMIs (at least {MIN_SAMPLES}) against training"
        self._alarm("InputDrift", psi, threshold=PSI_ALARM, description=description, periods=1)
        return [function_errors, api_5xx_rate, api_p99_latency]

    def _allow_cloudwatch_alarms_to_publish(self, topic: sns.Topic, key: kms.IKey) -> None:
        # Both halves, scoped to this account (confused deputy): the topic policy (enforce_ssl gives the topic
        # one, which replaces SNS's default policy) for its alarms, and the key policy for the topic's key.
        # Without either, no alarm action could publish.
        cloudwatch_service = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        this_account = {"aws:SourceAccount": Aws.ACCOUNT_ID}
        alarms = f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[cloudwatch_service],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": this_account, "ArnLike": {"aws:SourceArn": alarms}},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[cloudwatch_service],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": this_account},
            )
        )

    def _app_metric(self, name: str, period: Duration = _MINUTE) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=contract.METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": contract.SERVICE_NAME, contract.DIMENSION_STAGE: self._settings.slug},
            statistic=cloudwatch.Stats.SUM,
            period=period,
        )

    def _api_metric(self, name: str, statistic: str, label: str | None = None) -> cloudwatch.Metric:
        # Dimensions by name, not by reference to the API stage: CodeDeploy's rollback alarms must not depend
        # on the stage, whose deployment depends on the alias that depends on the deployment group.
        return cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name=name,
            dimensions_map={"ApiName": self._api_name, "Stage": self._settings.slug},
            statistic=statistic,
            period=_MINUTE,
            label=label,
        )

    def _extrapolated_ratio(self) -> cloudwatch.MathExpression:
        period = Duration.minutes(15)
        return _math(
            "IF(predictions > 0, 100 * extrapolated / predictions, 0)",
            "Inputs outside the training range (%)",
            period=period,
            extrapolated=self._app_metric(contract.METRIC_EXTRAPOLATED, period),
            predictions=self._app_metric(contract.METRIC_PREDICTIONS, period),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        periods: int = 3,
    ) -> cloudwatch.Alarm:
        """An alarm that notifies the topic when it fires and when it clears."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=periods,
            datapoints_to_alarm=min(2, periods),
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{contract.SERVICE_NAME} {self._settings.slug}: {description}",
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self._alarms.append(alarm)
        return alarm

    def _build_dashboard(self, drift_graph: cloudwatch.GraphWidget) -> cloudwatch.Dashboard:
        # Powertools emits ColdStart as a metric of its own with exactly the dimensions function_name and
        # service (single_metric, without the default dimensions, so no stage): the function's name is what
        # tells this stage's cold starts apart.
        cold_starts = _math(
            f"SEARCH('{{{contract.METRICS_NAMESPACE},function_name,service}} "
            f'MetricName="{contract.METRIC_COLD_START}" function_name="{self._function.function_name}"'
            "', 'Sum', 60)",
            "Cold starts",
        )
        sum_, percentile, api = cloudwatch.Stats.SUM, cloudwatch.Stats.percentile, self._api_metric
        p99_alarm = cloudwatch.HorizontalAnnotation(
            value=self._settings.alarm_p99_latency_ms, label="p99 alarm"
        )
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        dashboard.add_widgets(
            _graph("Requests", [api("Count", sum_, "Requests")]),
            _graph(
                "Latency (ms)",
                [api("Latency", percentile(p), f"p{p}") for p in (50, 90, 99)],
                left_annotations=[p99_alarm],
            ),
            _graph("4XX / 5XX", [api("4XXError", sum_, "4XX"), api("5XXError", sum_, "5XX")]),
        )
        dashboard.add_widgets(
            _graph(
                "Predictions",
                [self._app_metric(contract.METRIC_PREDICTIONS), self._app_metric(contract.METRIC_REJECTIONS)],
            ),
            _graph(
                "Extrapolated inputs",
                [self._app_metric(contract.METRIC_EXTRAPOLATED)],
                right=[self._extrapolated_ratio()],
            ),
            _graph(
                "Cold starts and concurrency",
                [cold_starts],
                right=[
                    self._function.metric(
                        "ConcurrentExecutions", statistic=cloudwatch.Stats.MAXIMUM, period=_MINUTE
                    ),
                    self._function.metric_throttles(statistic=sum_, period=_MINUTE),
                ],
            ),
        )
        dashboard.add_widgets(drift_graph)
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self._alarms, width=24))
        return dashboard


def _graph(title: str, left: list[cloudwatch.IMetric], **options: Any) -> cloudwatch.GraphWidget:
    """A third of the dashboard's width."""
    return cloudwatch.GraphWidget(title=title, left=left, width=8, **options)


def _math(
    expression: str, label: str, *, period: Duration = _MINUTE, **using: cloudwatch.IMetric
) -> cloudwatch.MathExpression:
    """The metric math ``expression``; each metric it uses is passed by its name in the expression."""
    return cloudwatch.MathExpression(expression=expression, using_metrics=using, label=label, period=period)
