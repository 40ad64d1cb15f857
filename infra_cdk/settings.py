"""Per-stage settings: every way Staging and Production differ, defined once, typed and validated.

Constructs never ask "which stage is this?"; they read a :class:`StageSettings`. The stages live in
:data:`STAGES` only, changed by reviewed commits: nothing overrides them at synthesis or deployment, so no
release can silently revert what another deployed (docs/deploy.md, "Per-stage settings").
"""

from __future__ import annotations

import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from infra_cdk.identifiers import ACCOUNT, ALARM_SUBSCRIBER, BOOTSTRAP_QUALIFIER, PRINCIPAL_ARN, REGION
from model.core.contract import SERVICE_NAME
from model.core.jsontypes import Range, unwrap

DeploymentStrategy = Literal["all_at_once", "canary_10_percent_5_minutes", "linear_10_percent_every_1_minute"]

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
DEFAULT_BOOTSTRAP_QUALIFIER: Final = "hnb659fds"  # what a plain `cdk bootstrap` creates
# The function's CPU (Graviton): the image is built for it (scripts/release/image.py), Lambda runs it there.
FUNCTION_PLATFORM: Final = "linux/arm64"

SERVICE_STACK_ID: Final = "Service"  # the one stack of every stage
DELIVERY_ACCESS_STACK_ID: Final = "DeliveryAccess"  # per account: -Staging / -Production with one per stage
# Account-level things the DeliveryAccess stack creates and scripts/release/preflight.py checks.
GITHUB_OIDC_HOST: Final = "token.actions.githubusercontent.com"
OIDC_AUDIENCE: Final = "sts.amazonaws.com"
LAMBDA_CONCURRENCY_QUOTA_CODE: Final = "L-B99A9384"  # Service Quotas: Lambda "Concurrent executions"
# The pre-traffic hook runs once per deployment; where a stage reserves concurrency, the hook reserves
# these two slots (one run and a retry) so a saturated function cannot starve the check of its own release.
HOOK_RESERVED_CONCURRENCY: Final = 2

# A stage's Release job runs on one OIDC session, as long as the job's timeout; the delivery roles allow
# sessions this long (infra_cdk/delivery_access.py).
MAX_RELEASE_JOB_MINUTES: Final = 120


class SettingsError(ValueError):
    """A stage setting is invalid; the message names the stage and the field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StageSettings:
    """Everything that may differ between stages, units in the field names, each number's range in its
    annotation. A field with a default holds a value every stage shares; each stage in :data:`STAGES` states
    the others, side by side."""

    name: str  # the CDK Stage id, e.g. "Production"
    slug: str  # lower-case stage name: the function's STAGE, the API stage and the metric dimension
    # Where the stage lives. account None: the account of the credentials that deploy it (then every stage
    # shares that one account, each with its own bootstrap qualifier); set it on every stage for one account
    # per stage. The region is always fixed: the stage, its DeliveryAccess roles and the Release meet there.
    account: str | None = None
    region: str
    # The CDK bootstrap (`cdk bootstrap --qualifier`) the stage deploys through. Its delivery role may assume
    # only this bootstrap's roles, so stages sharing an account must not share a qualifier.
    bootstrap_qualifier: str = DEFAULT_BOOTSTRAP_QUALIFIER

    # Function (see infra_cdk/function.py for why these numbers); Lambda allows 128 to 10 240 MB, and API
    # Gateway's 29 s integration timeout caps synchronous calls: a longer timeout would only hide a hung one.
    memory_mb: Annotated[int, Range(128, 10_240)] = 1_024
    timeout_seconds: Annotated[int, Range(1, 29)] = 5  # ~1 000x a full batch: a hung call fails fast
    # A cost and blast-radius ceiling taken from the account's Lambda concurrency quota, with the hook's
    # HOOK_RESERVED_CONCURRENCY; None reserves nothing (function and hook use the unreserved pool), which is
    # what an account with the new-account quota of 10 allows (docs/deploy.md, "Lambda concurrency quota").
    reserved_concurrency: Annotated[int | None, Range(1, 1_000)]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # API
    throttle_rate_per_second: Annotated[int, Range(1, 10_000)]
    throttle_burst: Annotated[int, Range(1, 5_000)]
    # IAM principal ARNs (roles, users, or `arn:aws:iam::<account>:root` for a whole account) allowed on the
    # protected routes besides this stage's delivery role (docs/deploy.md, "Let a client call the API").
    invoker_principals: tuple[str, ...] = ()

    # Protection: WAF rate-based rules count over 5 minutes, from 10 requests
    waf_enabled: bool = True
    waf_rate_limit_per_5_minutes_per_ip: Annotated[int, Range(10, 2_000_000_000)] = 1_000
    # For the unauthenticated routes: health and docs
    waf_public_rate_limit_per_5_minutes_per_ip: Annotated[int, Range(10, 2_000_000_000)] = 300

    # Logs
    log_retention_days: int
    retain_data_on_delete: bool  # log groups and the key outlive the stack when True

    # Safe deployment
    deployment_strategy: DeploymentStrategy

    # Alarms
    alarm_5xx_rate_percent: Annotated[float, Range(0.01, 100)] = 1.0
    alarm_p99_latency_ms: Annotated[int, Range(10, 29_000)]
    alarm_function_errors: Annotated[int, Range(1, 1_000_000)] = 1  # per minute, on the live alias
    # The share of inputs outside the training range, per 15 minutes
    alarm_extrapolated_percent: Annotated[float, Range(0.01, 100)] = 20.0
    # Who the alarm topic notifies: e-mail addresses (each confirms once, from the message SNS sends) or
    # https:// endpoints (a chat integration's webhook).
    alarm_subscribers: tuple[str, ...] = ()

    # Its Release job (.github/workflows/deploy-stage.yml): how long it may take (deployment with canary, hook
    # and rollback, then verification), which end-to-end tests verify it: all, or the `smoke` subset.
    release_timeout_minutes: Annotated[int, Range(10, MAX_RELEASE_JOB_MINUTES)]
    verification: Literal["full", "smoke"]
    # Whether the Release stops a model worse than the one the stage serves (scripts/release/model_gate.py).
    model_gate: bool = False

    @property
    def stack_name(self) -> str:
        """The CloudFormation name CDK gives the stage's stack: Staging-Service, Production-Service."""
        return f"{self.name}-{SERVICE_STACK_ID}"

    @property
    def account_variable(self) -> str:
        """The GitHub repository variable holding the stage's account id, which the Release reads."""
        return f"{self.name.upper()}_AWS_ACCOUNT_ID"

    @property
    def delivery_role_name(self) -> str:
        """Fixed, so the stage's API resource policy can name its delivery role without a reference."""
        return f"{SERVICE_NAME}-delivery-{self.slug}"

    @property
    def waf_log_group_name(self) -> str:
        """Stable across re-creations of the stage, so WAF's account-wide log policy lists it once."""
        return f"aws-waf-logs-{SERVICE_NAME}-{self.slug}"

    @property
    def reserved_concurrency_total(self) -> int:
        """What the stage takes from the account's concurrency quota: its function and its hook."""
        if self.reserved_concurrency is None:
            return 0
        return self.reserved_concurrency + HOOK_RESERVED_CONCURRENCY

    @property
    def toolkit_stack_name(self) -> str:
        """The bootstrap stack's name: CDK's default for the default qualifier, else one per qualifier (two
        bootstraps of one account and region under one name would replace each other)."""
        default = self.bootstrap_qualifier == DEFAULT_BOOTSTRAP_QUALIFIER
        return "CDKToolkit" if default else f"CDKToolkit-{self.bootstrap_qualifier}"

    def container_assets_repository(self, account: str) -> str:
        """The bootstrap's ECR repository, which the release pushes the image to and Lambda pulls from."""
        return f"cdk-{self.bootstrap_qualifier}-container-assets-{account}-{self.region}"

    def bootstrap_role_name(self, role: str, account: str, region: str) -> str:  # account, region: or tokens
        return f"cdk-{self.bootstrap_qualifier}-{role}-role-{account}-{region}"

    def __post_init__(self) -> None:
        if problems := list(self._problems()):
            raise SettingsError(f"stage {self.name!r}: " + "; ".join(problems))

    def _problems(self) -> typing.Iterator[str]:
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", self.name):
            yield f"name {self.name!r} must be a CamelCase identifier"
        if not re.fullmatch(r"[a-z][a-z0-9]*", self.slug):
            yield f"slug {self.slug!r} must be lower-case alphanumeric"
        if self.account is not None and not ACCOUNT.match(self.account):
            yield f"account {self.account!r} must be 12 digits"
        if not REGION.match(self.region):
            yield f"region {self.region!r} is not an AWS region name"
        if not BOOTSTRAP_QUALIFIER.match(self.bootstrap_qualifier):
            yield f"bootstrap_qualifier {self.bootstrap_qualifier!r}: 1 to 10 lower-case letters or digits"
        for field, hint in typing.get_type_hints(StageSettings, include_extras=True).items():
            value = getattr(self, field)
            for bounds in unwrap(hint)[1]:  # the field's Range, if it has one
                if value is not None and not bounds.minimum <= value <= bounds.maximum:
                    yield f"{field} {value} must be between {bounds.minimum} and {bounds.maximum}"
        if self.throttle_burst < self.throttle_rate_per_second:
            yield "throttle_burst must be at least throttle_rate_per_second"
        if self.waf_public_rate_limit_per_5_minutes_per_ip > self.waf_rate_limit_per_5_minutes_per_ip:
            yield "waf_public_rate_limit_per_5_minutes_per_ip must be at most the stage's rate limit"
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield f"log_retention_days {self.log_retention_days} is not one CloudWatch Logs accepts"
        for arn in self.invoker_principals:
            if not PRINCIPAL_ARN.match(arn):
                yield f"invoker_principals entry {arn!r} is not an IAM account, role or user ARN"
        for subscriber in self.alarm_subscribers:
            if not ALARM_SUBSCRIBER.match(subscriber):
                yield f"alarm_subscribers entry {subscriber!r} is not an e-mail address or https:// URL"


def check_stages(stages: Sequence[StageSettings]) -> tuple[StageSettings, ...]:
    """What makes a set of stages deployable side by side; returns them, or raises :class:`SettingsError`."""
    problems = []
    for field in ("name", "slug"):
        values = [getattr(stage, field) for stage in stages]
        if len(set(values)) != len(values):
            problems.append(f"every stage needs its own {field}: {values}")
    if len({stage.account is None for stage in stages}) > 1:
        problems.append(
            "set `account` on every stage (one account per stage) or on none (one shared account)"
        )
    for account, group in stages_by_account(stages).items():
        where = f"in account {account}" if account else "in the one account of the credentials"
        qualifiers = [stage.bootstrap_qualifier for stage in group]
        if len(set(qualifiers)) != len(qualifiers):
            problems.append(
                f"stages {where} need their own bootstrap_qualifier each ({qualifiers}): a delivery role "
                "that may assume one bootstrap's roles can change every stage deployed through them"
            )
        if len({stage.region for stage in group}) > 1:
            problems.append(
                f"stages {where} share one DeliveryAccess stack and so one region, not "
                f"{sorted({stage.region for stage in group})}"
            )
    if problems:
        raise SettingsError("; ".join(problems))
    return tuple(stages)


def stages_by_account(stages: Sequence[StageSettings]) -> dict[str | None, tuple[StageSettings, ...]]:
    """The stages by account (None: the account of the credentials), in order: one DeliveryAccess each."""
    return {
        account: tuple(s for s in stages if s.account == account)
        for account in dict.fromkeys(s.account for s in stages)
    }


def delivery_access_stacks(stages: Sequence[StageSettings]) -> dict[str, tuple[StageSettings, ...]]:
    """{stack name: the stages it serves}: one DeliveryAccess per account, named after its stages when
    there is more than one account (DeliveryAccess-Staging, DeliveryAccess-Production)."""
    groups = stages_by_account(stages).values()
    return {
        DELIVERY_ACCESS_STACK_ID + ("" if len(groups) == 1 else "-" + "-".join(s.name for s in group)): group
        for group in groups
    }


def stage_named(name: str, stages: Sequence[StageSettings] | None = None) -> StageSettings:
    """The stage called ``name`` (``Staging``, ``Production``) of ``stages``, by default of STAGES as it is
    when called; :class:`SettingsError` names the others."""
    candidates = STAGES if stages is None else stages
    for stage in candidates:
        if stage.name == name:
            return stage
    raise SettingsError(f"no stage {name!r}; stages: {[stage.name for stage in candidates]}")


# The stages, defined once. Production differs by intent: canary deployments, a concurrency ceiling, a year
# of logs (health-service audit trail), resources that survive stack deletion. Staging keeps the WAF on on
# purpose: it is where the end-to-end suite proves that the managed rules let 10 000-value batches through.
# Both share one account and region here, each through its own bootstrap qualifier (layout "one account"
# of docs/deploy.md); for one account per stage, set `account` on both.
STAGES: Final = check_stages(
    (
        StageSettings(
            name="Staging",
            slug="staging",
            region="eu-west-1",
            bootstrap_qualifier="dpstaging",
            # No reservation: a new account's concurrency quota of 10 can hold no reservation at all.
            reserved_concurrency=None,
            # 50/s (burst 100): room for the end-to-end suite, which runs from one GitHub runner back to back.
            throttle_rate_per_second=50,
            throttle_burst=100,
            log_retention_days=30,
            retain_data_on_delete=False,
            deployment_strategy="all_at_once",
            release_timeout_minutes=60,
            verification="full",
            alarm_p99_latency_ms=1_500,
        ),
        StageSettings(
            name="Production",
            slug="production",
            region="eu-west-1",
            bootstrap_qualifier="dpprod",
            reserved_concurrency=50,
            throttle_rate_per_second=200,
            throttle_burst=400,
            log_retention_days=365,
            retain_data_on_delete=True,
            deployment_strategy="canary_10_percent_5_minutes",
            # CloudFormation waits for CodeDeploy: the hook, the 5-minute canary, a rollback if alarms fire.
            release_timeout_minutes=90,
            verification="smoke",
            model_gate=True,
            alarm_p99_latency_ms=1_000,
        ),
    )
)
