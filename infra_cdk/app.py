"""The CDK app: the Staging and Production stages and the DeliveryAccess stack.

cdk.json runs it as ``python -m infra_cdk.app`` from the repository root, which makes ``lambda_fn.contract``
and ``model.artifact`` importable without touching ``sys.path``.

Stage settings come from infra_cdk/settings.py only (a commit changes them). Context keys (``-c key=value``)
say what to build, never how a stage is configured:

* ``image_digest``: deploy the image with this digest from each stage's bootstrap repository (a release)
  instead of building lambda_fn/Dockerfile.
* ``github_repository``: ``owner/name`` trusted by the DeliveryAccess roles (defaults to the
  ``GITHUB_REPOSITORY`` environment variable that GitHub Actions sets); without it those stacks are left out.
* ``github_oidc_provider_arn``: the account's existing IAM OIDC provider for GitHub, trusted by the
  DeliveryAccess roles instead of creating one (an account holds only one provider per URL).
* ``model_artifact``: path of the model artifact to deploy (default: model/artifacts/model.json).

One DeliveryAccess stack per account the stages use: ``DeliveryAccess`` when they share one account,
``DeliveryAccess-Staging`` and ``DeliveryAccess-Production`` with one account per stage. Each lives in its
stages' region, whatever the CLI's default region is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Annotations, App, Aspects, DefaultStackSynthesizer, Environment, Validations
from cdk_nag import AwsSolutionsChecks, WriteNagSuppressionsToCloudFormationAspect

from infra_cdk.delivery_access import DeliveryAccessStack
from infra_cdk.settings import DELIVERY_ACCESS_STACK_ID, STAGES, StageSettings, delivery_access_stacks
from infra_cdk.stage import ServiceStage
from model.artifact import DEFAULT_ARTIFACT_PATH, load_artifact

_REPO_ROOT = Path(__file__).resolve().parent.parent


def build(app: App, stages: Sequence[StageSettings] = STAGES) -> App:
    """Adds every stage and stack to ``app`` from its context; nag runs when the app is synthesized."""
    context = app.node.try_get_context
    artifact = load_artifact(Path(context("model_artifact") or DEFAULT_ARTIFACT_PATH))
    for settings in stages:
        stage = ServiceStage(
            app, settings=settings, artifact=artifact, image_digest=context("image_digest") or None
        )
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
                # The stages' region (one per account, infra_cdk/settings.py), never the CLI's default: the
                # roles are scoped to it. Deployed through the first stage's bootstrap.
                env=Environment(
                    account=group[0].account or os.environ.get("CDK_DEFAULT_ACCOUNT"), region=group[0].region
                ),
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


def default_outdir() -> str:
    """The CLI passes CDK_OUTDIR; a direct `python infra_cdk/app.py` honours cdk.json's "output" too."""
    return os.environ.get("CDK_OUTDIR") or str(
        _REPO_ROOT
        / json.loads((_REPO_ROOT / "cdk.json").read_text(encoding="utf-8")).get("output", "cdk.out")
    )


def main() -> None:
    build(App(outdir=default_outdir())).synth()


if __name__ == "__main__":
    main()
