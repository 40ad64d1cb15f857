"""One Stage class, instantiated once per entry of infra_cdk.settings.STAGES (Staging, Production)."""

from __future__ import annotations

import os

from aws_cdk import Environment, Stage
from constructs import Construct

from infra_cdk.service_stack import ServiceStack
from infra_cdk.settings import SERVICE_STACK_ID, StageSettings
from model.artifact import ModelArtifact


class ServiceStage(Stage):
    def __init__(
        self,
        scope: Construct,
        *,
        settings: StageSettings,
        artifact: ModelArtifact,
        image_repository: str | None = None,
        image_digest: str | None = None,
    ) -> None:
        # Without an account/region in the settings, the stage deploys where the CLI's credentials point.
        super().__init__(
            scope,
            settings.name,
            env=Environment(
                account=settings.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
                region=settings.region or os.environ.get("CDK_DEFAULT_REGION"),
            ),
        )
        self.settings = settings
        self.service = ServiceStack(
            self,
            SERVICE_STACK_ID,
            settings=settings,
            artifact=artifact,
            image_repository=image_repository,
            image_digest=image_digest,
        )
