"""Per-stage settings: every way Staging and Production differ, defined once, typed and validated.

Constructs never ask "which stage is this?"; they read a :class:`StageSettings`. The two instances live in
:data:`STAGES`. Any field can be overridden at synthesis from the CDK context key ``stage_overrides``::

    npx cdk synth '**' -c stage_overrides='{"Production": {"memory_mb": 1024}}'

Overrides are checked as strictly as the defaults: an unknown stage or field, a value of the wrong type or
one out of range stops synthesis with a :class:`SettingsError` that names it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

DeploymentStrategy = Literal["all_at_once", "canary_10_percent_5_minutes", "linear_10_percent_every_1_minute"]

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+))$")

# Identifiers checked wherever they enter, at synthesis and in the release scripts: defined once here.
ACCOUNT: Final = re.compile(r"^\d{12}$")
# Every partition's form: us-east-1, us-gov-west-1, ap-southeast-2, cn-north-1, us-isob-east-1.
REGION: Final = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
IMAGE_DIGEST: Final = re.compile(r"^sha256:[0-9a-f]{64}$")  # what ECR and Lambda pin an image by
# GitHub's "owner/name": owners are letters, digits and hyphens; repository names may add "_" and ".".
GITHUB_REPOSITORY: Final = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")
CDK_BOOTSTRAP_QUALIFIER: Final = (
    "hnb659fds"  # CDK's default; change together with `cdk bootstrap --qualifier`
)


SERVICE_STACK_ID: Final = "Service"  # the one stack of every stage


class SettingsError(ValueError):
    """A stage setting (default or override) is invalid; the message names the stage and the field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StageSettings:
    """Everything that may differ between stages. Units are in the field names.

    A field with a default holds a value every stage shares; a field without one differs between the
    stages by design, so each stage in :data:`STAGES` states it, side by side with the other's.
    """

    name: str  # the CDK Stage id, e.g. "Production"
    slug: str  # lower-case stage name: the function's STAGE, the API stage and the metric dimension
    account: str | None = None  # None: the CLI's current account (CDK_DEFAULT_ACCOUNT) at deploy time
    region: str | None = None

    # Function (see infra_cdk/function.py for why these numbers)
    memory_mb: int = 1_024
    timeout_seconds: int = 5
    reserved_concurrency: int  # a cost and blast-radius ceiling; counts against the account quota
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # API
    throttle_rate_per_second: int
    throttle_burst: int
    invoker_principals: tuple[str, ...] = ()  # IAM principal ARNs allowed on protected routes, besides
    # this stage's delivery role (which runs the end-to-end tests)

    # Protection
    waf_enabled: bool = True
    waf_rate_limit_per_5_minutes_per_ip: int = 1_000
    waf_public_rate_limit_per_5_minutes_per_ip: int = 300  # unauthenticated routes: health and docs

    # Logs
    log_retention_days: int
    retain_data_on_delete: bool  # log groups and the key outlive the stack when True

    # Safe deployment
    deployment_strategy: DeploymentStrategy

    # Alarms
    alarm_5xx_rate_percent: float = 1.0
    alarm_p99_latency_ms: int
    alarm_function_errors: int = 1  # per minute, on the live alias
    alarm_extrapolated_percent: float = 20.0  # share of inputs outside the training range, per 15 minutes

    @property
    def stack_name(self) -> str:
        """The CloudFormation name CDK gives the stage's stack: Staging-Service, Production-Service."""
        return f"{self.name}-{SERVICE_STACK_ID}"

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise SettingsError(f"stage {self.name!r}: " + "; ".join(problems))

    def _problems(self) -> typing.Iterator[str]:
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", self.name):
            yield f"name {self.name!r} must be a CamelCase identifier"
        if not re.fullmatch(r"[a-z][a-z0-9]*", self.slug):
            yield f"slug {self.slug!r} must be lower-case alphanumeric"
        if self.account is not None and not ACCOUNT.match(self.account):
            yield f"account {self.account!r} must be 12 digits"
        if self.region is not None and not REGION.match(self.region):
            yield f"region {self.region!r} is not an AWS region name"
        # Lambda limits: 128..10240 MB of memory, 1..900 s; API Gateway's integration timeout caps
        # synchronous calls at 29 s, so a longer function timeout would only hide a hung request.
        yield from _within("memory_mb", self.memory_mb, 128, 10_240)
        yield from _within("timeout_seconds", self.timeout_seconds, 1, 29)
        yield from _within("reserved_concurrency", self.reserved_concurrency, 1, 1_000)
        yield from _within("throttle_rate_per_second", self.throttle_rate_per_second, 1, 10_000)
        yield from _within("throttle_burst", self.throttle_burst, 1, 5_000)
        if self.throttle_burst < self.throttle_rate_per_second:
            yield "throttle_burst must be at least throttle_rate_per_second"
        # WAF rate-based rules count over 5 minutes and accept limits from 10 to 2e9.
        yield from _within(
            "waf_rate_limit_per_5_minutes_per_ip", self.waf_rate_limit_per_5_minutes_per_ip, 10, 2_000_000_000
        )
        yield from _within(
            "waf_public_rate_limit_per_5_minutes_per_ip",
            self.waf_public_rate_limit_per_5_minutes_per_ip,
            10,
            self.waf_rate_limit_per_5_minutes_per_ip,
        )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield f"log_retention_days {self.log_retention_days} is not one CloudWatch Logs accepts"
        yield from _within("alarm_5xx_rate_percent", self.alarm_5xx_rate_percent, 0.01, 100)
        yield from _within("alarm_p99_latency_ms", self.alarm_p99_latency_ms, 10, 29_000)
        yield from _within("alarm_function_errors", self.alarm_function_errors, 1, 1_000_000)
        yield from _within("alarm_extrapolated_percent", self.alarm_extrapolated_percent, 0.01, 100)
        for arn in self.invoker_principals:
            if not _PRINCIPAL_ARN.match(arn):
                yield f"invoker_principals entry {arn!r} is not an IAM account, role or user ARN"


def _within(field: str, value: float, low: float, high: float) -> typing.Iterator[str]:
    if not low <= value <= high:
        yield f"{field} {value} must be between {low} and {high}"


# The stages, defined once. Production differs by intent: canary deployments, more headroom, a year of logs
# (health-service audit trail), resources that survive stack deletion. Staging keeps the WAF on on purpose:
# it is where the end-to-end suite proves that the managed rules do not block legitimate 10 000-value batches.
STAGES: Final = (
    StageSettings(
        name="Staging",
        slug="staging",
        reserved_concurrency=5,
        # 50/s (burst 100): room for the end-to-end suite, which runs from one GitHub runner back to back.
        throttle_rate_per_second=50,
        throttle_burst=100,
        log_retention_days=30,
        retain_data_on_delete=False,
        deployment_strategy="all_at_once",
        alarm_p99_latency_ms=1_500,
    ),
    StageSettings(
        name="Production",
        slug="production",
        reserved_concurrency=50,
        throttle_rate_per_second=200,
        throttle_burst=400,
        log_retention_days=365,
        retain_data_on_delete=True,
        deployment_strategy="canary_10_percent_5_minutes",
        alarm_p99_latency_ms=1_000,
    ),
)


def resolve_stages(overrides: object = None) -> tuple[StageSettings, ...]:
    """The stages with the context's ``stage_overrides`` applied (a JSON string or a decoded mapping)."""
    decoded = _decode(overrides)
    known = {stage.name: stage for stage in STAGES}
    unknown = sorted(set(decoded) - set(known))
    if unknown:
        raise SettingsError(f"stage_overrides names unknown stages {unknown}; known: {sorted(known)}")
    return tuple(_apply(stage, decoded.get(stage.name, {})) for stage in STAGES)


def _decode(overrides: object) -> Mapping[str, Any]:
    if overrides is None or overrides == "":
        return {}
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides)
        except ValueError as exc:
            raise SettingsError(f"stage_overrides is not valid JSON: {exc}") from exc
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise SettingsError(
            'stage_overrides must map stage names to objects: {"Production": {"memory_mb": 1024}}'
        )
    return overrides


def _apply(stage: StageSettings, changes: Mapping[str, Any]) -> StageSettings:
    hints = typing.get_type_hints(StageSettings)
    # A stage's identity names its stack, API stage, metrics and GitHub environment: not a setting.
    identity = {"name", "slug"}
    fields = {f.name for f in dataclasses.fields(StageSettings)} - identity
    coerced: dict[str, Any] = {}
    for key, value in changes.items():
        if key in identity:
            raise SettingsError(
                f"stage_overrides.{stage.name}: {key!r} is the stage's identity, not a setting"
            )
        if key not in fields:
            raise SettingsError(
                f"stage_overrides.{stage.name}: unknown setting {key!r}; known: {sorted(fields)}"
            )
        coerced[key] = _coerce(f"stage_overrides.{stage.name}.{key}", hints[key], value)
    return dataclasses.replace(stage, **coerced)


def _coerce(where: str, hint: Any, value: Any) -> Any:
    """Checks a decoded JSON value against a field's type; lists become tuples. No silent conversions."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        for option in typing.get_args(hint):
            try:
                return _coerce(where, option, value)
            except SettingsError:
                continue
        raise SettingsError(f"{where}: {value!r} does not match {hint}")
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise SettingsError(f"{where}: {value!r} is not one of {list(typing.get_args(hint))}")
        return value
    if origin is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(value, list):
            raise SettingsError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(f"{where}[]", item, v) for v in value)
    if hint is type(None):
        if value is not None:
            raise SettingsError(f"{where}: expected null, got {value!r}")
        return None
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise SettingsError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value
