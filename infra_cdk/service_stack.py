"""The one stack of a stage: function, API, protection, monitoring and safe deployment, wired together."""

from __future__ import annotations

from aws_cdk import CfnOutput, DefaultStackSynthesizer, Stack
from constructs import Construct

from infra_cdk.api import PredictionApi
from infra_cdk.compliance import acknowledge_nag
from infra_cdk.delivery_access import delivery_role_arn
from infra_cdk.deployment.checks import known_answer_checks
from infra_cdk.deployment.infrastructure import SafeDeployment
from infra_cdk.encryption import StageKey
from infra_cdk.function import PredictionFunction, container_image
from infra_cdk.monitoring import Monitoring
from infra_cdk.protection import WebProtection
from infra_cdk.settings import StageSettings
from model.core.artifact import ModelArtifact


class ServiceStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        artifact: ModelArtifact,
        image_digest: str | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Diabetes progression predictions, {settings.slug} (model {artifact.model_version})",
            # Deployed through the stage's own bootstrap: its delivery role can assume no other stage's roles.
            synthesizer=DefaultStackSynthesizer(qualifier=settings.bootstrap_qualifier),
        )
        key = StageKey(self, "Encryption", settings=settings).key
        image = container_image(self, settings=settings, image_digest=image_digest)
        function = PredictionFunction(
            self, "Function", settings=settings, image=image, key=key, model_version=artifact.model_version
        )
        api = PredictionApi(
            self,
            "Api",
            settings=settings,
            alias=function.alias,
            key=key,
            invoker_principals=[delivery_role_arn(settings), *settings.invoker_principals],
        )
        if settings.waf_enabled:
            WebProtection(self, "Protection", settings=settings, stage=api.stage, key=key)
        else:
            acknowledge_nag(api.stage, "APIG3", f"WAF switched off for {settings.name} by its stage settings")
        monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            api_name=api.api_name,
            function=function.function,
            alias=function.alias,
            key=key,
            drift=artifact.drift,
        )
        SafeDeployment(
            self,
            "Deployment",
            settings=settings,
            alias=function.alias,
            rollback_alarms=monitoring.rollback_alarms,
            checks=known_answer_checks(artifact),
            key=key,
        )
        CfnOutput(self, "ApiUrl", value=api.stage.url_for_path("/"), description="Base URL of the API stage")
        CfnOutput(self, "FunctionName", value=function.function.function_name)
        CfnOutput(self, "AliasArn", value=function.alias.function_arn)
        CfnOutput(self, "DashboardUrl", value=monitoring.dashboard_url)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)
