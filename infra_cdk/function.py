"""The prediction function: the image built from ``lambda_fn/``, its role, its logs and its ``live`` alias.
Memory buys CPU for a CPU-bound cold start, Staging's matches Production's so its latency predicts theirs
(docs/benchmarks.md#function); arm64: pure Python, and Graviton costs less."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

from infra_cdk.compliance import acknowledge_nag, skip_checkov
from infra_cdk.identifiers import IMAGE_DIGEST
from infra_cdk.log_groups import stage_log_group
from infra_cdk.settings import FUNCTION_PLATFORM, StageSettings
from model.core import contract

LIVE_ALIAS = "live"
REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = "lambda_fn/Dockerfile"  # build context: the repository root
# The root .dockerignore allow-lists the image's inputs. CDK stages the asset directory through it, and
# re-includes only a Dockerfile at the context root, so this one must be re-included by path or the staged
# asset (what `cdk deploy` builds) has no Dockerfile. The rest keeps staging fast if .dockerignore changes.
_ASSET_EXCLUDE = (".git", ".venv*", "node_modules", "cdk.out", ".cache", "*_cache", f"!{DOCKERFILE}")

# Lambda's architecture of the one platform the release builds the image for (infra_cdk/settings.py).
ARCHITECTURE = {a.docker_platform: a for a in (lambda_.Architecture.ARM_64, lambda_.Architecture.X86_64)}[
    FUNCTION_PLATFORM
]


def container_image(
    scope: Construct, *, settings: StageSettings, image_digest: str | None
) -> lambda_.DockerImageCode:
    """The image pinned by digest in the stage's bootstrap repository, where a release pushed the one image
    it built for every stage; without a digest, the image built from source (a developer's `cdk deploy`)."""
    if image_digest is None:
        return lambda_.DockerImageCode.from_image_asset(
            str(REPO_ROOT),
            file=DOCKERFILE,
            platform=Platform.custom(FUNCTION_PLATFORM),
            exclude=list(_ASSET_EXCLUDE),
        )
    if not IMAGE_DIGEST.match(image_digest):
        raise ValueError(f"context image_digest {image_digest!r} must look like sha256:<64 hex digits>")
    name = settings.container_assets_repository(Stack.of(scope).account)
    repository = ecr.Repository.from_repository_name(scope, "ImageRepository", name)
    return lambda_.DockerImageCode.from_ecr(repository, tag_or_digest=image_digest)


def logs_and_role(
    scope: Construct, prefix: str, *, settings: StageSettings, key: kms.IKey, what: str
) -> tuple[logs.LogGroup, iam.Role]:
    """A function's own log group, and its role: no AWSLambdaBasicExecutionRole, it writes there only."""
    log_group = stage_log_group(scope, f"{prefix}Logs", settings=settings, key=key)
    role = iam.Role(
        scope,
        f"{prefix}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{contract.SERVICE_NAME} {settings.slug} {what}",
    )
    log_group.grant_write(role)
    return log_group, role


def acknowledge_common_findings(function: lambda_.Function, role: iam.Role, settings: StageSettings) -> None:
    """What every function of a stage accepts: tracing's "*" permissions, and no reservation where the stage
    reserves none."""
    # Active X-Ray tracing adds xray:PutTraceSegments/PutTelemetryRecords on "*" to the function's role.
    reason = "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions"
    acknowledge_nag(role.node.find_child("DefaultPolicy"), "IAM5", reason, applies_to="Resource::*")
    if settings.reserved_concurrency is None:
        skip_checkov(
            function,
            CKV_AWS_115="this stage reserves no concurrency by its settings: a new account's quota of 10 "
            "must stay wholly unreserved; the API stage's throttling bounds the calls instead",
        )


class PredictionFunction(Construct):
    """The function, published as a version behind the ``live`` alias that API Gateway and CodeDeploy use."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        image: lambda_.DockerImageCode,
        key: kms.IKey,
        model_version: str,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group, role = logs_and_role(self, "", settings=settings, key=key, what="function")
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            code=image,
            # The model version in the description makes every new model a new Lambda version to shift to.
            description=f"{contract.SERVICE_NAME} ({settings.slug}), model {model_version}",
            architecture=ARCHITECTURE,
            memory_size=settings.memory_mb,
            timeout=Duration.seconds(settings.timeout_seconds),
            reserved_concurrent_executions=settings.reserved_concurrency,  # None: no reservation
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # Lambda filters JSON application logs by level too, in step with Powertools' (WARNING is WARN).
            application_log_level_v2=lambda_.ApplicationLogLevel[
                settings.log_level.replace("WARNING", "WARN")
            ],
            # START/END/REPORT platform lines only above WARN: REPORT's numbers are in Lambda's metrics.
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            environment=contract.function_environment(stage=settings.slug, log_level=settings.log_level),
        )
        acknowledge_common_findings(self.function, role, settings)
        skip_checkov(
            self.function,
            CKV_AWS_116="synchronous API backend: a failed call returns an error to its caller; no event to "
            "dead-letter",
            CKV_AWS_117="reaches no private network resource; a VPC would add cold-start latency and NAT "
            "cost in vain",
            CKV_AWS_173="environment holds names only (service, stage, namespace, log level), no secrets",
        )
        self.alias = lambda_.Alias(
            self, "LiveAlias", alias_name=LIVE_ALIAS, version=self.function.current_version
        )
