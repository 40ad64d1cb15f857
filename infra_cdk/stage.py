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
        image_digest: str | None = None,
    ) -> None:
        # Without an account in the settings, the stage deploys to the account of the CLI's credentials; its
        # region is always the settings' (never the CLI's default).
        super().__init__(
            scope,
            settings.name,
            env=Environment(
                account=settings.account or os.environ.get("CDK_DEFAULT_ACCOUNT"), region=settings.region
            ),
        )
        self.settings = settings
        self.service = ServiceStack(
            self,
            SERVICE_STACK_ID,
            settings=settings,
            artifact=artifact,
            image_digest=image_digest,
        )
