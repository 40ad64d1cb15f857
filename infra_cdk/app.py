"""The CDK app: the Staging and Production stages and the DeliveryAccess stack(s), run by cdk.json as
``python -m infra_cdk.app`` from the repository root. Stages are configured by infra_cdk/settings.py only.

Context keys say what to build: ``image_digest`` (a release: each stage runs that digest instead of building
lambda_fn/Dockerfile), ``github_repository`` (the ``owner/name`` the DeliveryAccess roles trust; default
``$GITHUB_REPOSITORY``, without it those stacks are left out), ``github_oidc_provider_arn`` (an existing
provider to trust) and ``model_artifact`` (default model/artifacts/model.json)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Annotations, App, Aspects, DefaultStackSynthesizer, Environment, Stage, Validations
from cdk_nag import AwsSolutionsChecks, WriteNagSuppressionsToCloudFormationAspect

from infra_cdk.delivery_access import DeliveryAccessStack
from infra_cdk.service_stack import ServiceStack
from infra_cdk.settings import (
    DELIVERY_ACCESS_STACK_ID,
    SERVICE_STACK_ID,
    STAGES,
    StageSettings,
    delivery_access_stacks,
)
from model.core.artifact import DEFAULT_ARTIFACT_PATH, ArtifactError
from model.core.serving import load_artifact


def build(app: App, stages: Sequence[StageSettings] = STAGES) -> App:
    """Adds every stage and stack to ``app`` from its context; nag runs when the app is synthesized."""
    context = app.node.try_get_context
    artifact = load_artifact(Path(context("model_artifact") or DEFAULT_ARTIFACT_PATH))
    digest = context("image_digest") or None
    for settings in stages:
        stage = Stage(app, settings.name, env=_environment(settings))
        ServiceStack(stage, SERVICE_STACK_ID, settings=settings, artifact=artifact, image_digest=digest)
        # Aspects stop at Stage boundaries: record the acknowledgements in each stage's templates too.
        Aspects.of(stage).add(WriteNagSuppressionsToCloudFormationAspect())
    repository = context("github_repository") or os.environ.get("GITHUB_REPOSITORY")
    if repository:
        for stack_id, group in delivery_access_stacks(stages).items():
            DeliveryAccessStack(
                app,
                stack_id,
                github_repository=repository,
                stages=group,
                github_oidc_provider_arn=context("github_oidc_provider_arn") or None,
                # Roles scoped to the stages' region; deployed through the first stage's bootstrap.
                env=_environment(group[0]),
                synthesizer=DefaultStackSynthesizer(qualifier=group[0].bootstrap_qualifier),
            )
    else:
        Annotations.of(app).add_info(
            f"{DELIVERY_ACCESS_STACK_ID} left out: pass -c github_repository=owner/name to synthesize it"
        )
    # cdk-nag through the validation plugin API (Aspects.of(app).add(...) fails with cdk-nag 3.0.2). Its
    # findings fail the synthesis; acknowledgements are written into the templates' Metadata as cdk_nag.
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return app


def _environment(settings: StageSettings) -> Environment:
    """The settings' account, else the credentials'; always the settings' region, never the CLI's default."""
    return Environment(
        account=settings.account or os.environ.get("CDK_DEFAULT_ACCOUNT"), region=settings.region
    )


if __name__ == "__main__":
    try:
        # App reads the output directory the CLI passes (CDK_OUTDIR). Every CLI command runs the app, `cdk
        # bootstrap` too: a checkout without a trained model is told in one line the command that trains one.
        build(App()).synth()
    except ArtifactError as error:
        sys.exit(f"infra_cdk.app: {error}")
