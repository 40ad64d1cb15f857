"""The app is synthesized once per test session (jsii start + synthesis take ~10 s), in process, with no
Docker and no AWS credentials; every infrastructure test reads that one cloud assembly."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra_cdk.app import build
from infra_cdk.settings import STAGES, StageSettings, check_stages, stage_named
from scripts import REPO_ROOT

GITHUB_REPOSITORY = "example-org/diabetes-progression"
STACK_NAMES = {s.name: s.stack_name for s in STAGES}
# The other supported layout, as a user would commit it: one account per stage (Production on the default
# bootstrap qualifier, which only a stage with an account of its own may use), a client role allowed to
# call Production, and people who receive Production's alarms.
STAGING_ACCOUNT, PRODUCTION_ACCOUNT = "111111111111", "222222222222"
CLINIC_APP = "arn:aws:iam::333333333333:role/clinic-app"
# A repository created after 15 July 2026: GitHub's OIDC subjects name it by its immutable ids.
IMMUTABLE_GITHUB_REPOSITORY = "example-org@1234567/diabetes-progression@890123456"
ALARM_SUBSCRIBERS = ("oncall@example.org", "https://hooks.example.org/alarms")
PER_ACCOUNT_STAGES = check_stages(
    (
        dataclasses.replace(stage_named("Staging"), account=STAGING_ACCOUNT),
        dataclasses.replace(
            stage_named("Production"),
            account=PRODUCTION_ACCOUNT,
            bootstrap_qualifier="hnb659fds",
            invoker_principals=(CLINIC_APP,),
            alarm_subscribers=ALARM_SUBSCRIBERS,
        ),
    )
)


@dataclass
class Assembly:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # CloudFormation stack name -> template
    template_paths: dict[str, Path]
    environments: dict[str, tuple[str, str]]  # stack name -> (account, region), "unknown-account" if unset
    _assertions: dict[str, Template] = field(default_factory=dict)

    def template(self, stack_name: str) -> Template:
        if stack_name not in self._assertions:
            self._assertions[stack_name] = Template.from_json(self.templates[stack_name])
        return self._assertions[stack_name]

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.outdir / "manifest.json").read_text())


CDK_JSON_CONTEXT: Final = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]


def synthesize(outdir: Path, context: dict[str, Any], stages: tuple[StageSettings, ...] = STAGES) -> Assembly:
    # cdk.json's feature flags, as the CLI passes them: the tests check the templates that are deployed.
    app = App(outdir=str(outdir), context={**CDK_JSON_CONTEXT, **context})
    build(app, stages)
    cloud_assembly = app.synth()
    templates, paths, environments = {}, {}, {}
    for stack in cloud_assembly.stacks_recursively:
        templates[stack.stack_name] = stack.template
        paths[stack.stack_name] = Path(stack.template_full_path)
        environments[stack.stack_name] = (stack.environment.account, stack.environment.region)
    return Assembly(outdir=outdir, templates=templates, template_paths=paths, environments=environments)


@contextmanager
def without_aws_credentials() -> Iterator[None]:
    """Synthesis must never need AWS: make any attempt to find credentials come up empty."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("AWS_", "CDK_DEFAULT_")):
            del os.environ[name]
    os.environ.update(
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory, model_artifact_path: Path) -> Assembly:
    with without_aws_credentials():
        return synthesize(
            tmp_path_factory.mktemp("cdk.out"),
            {"github_repository": GITHUB_REPOSITORY, "model_artifact": str(model_artifact_path)},
        )


@pytest.fixture(scope="session")
def per_account_assembly(tmp_path_factory: pytest.TempPathFactory, model_artifact_path: Path) -> Assembly:
    """The app synthesized with :data:`PER_ACCOUNT_STAGES` (one account per stage)."""
    with without_aws_credentials():
        return synthesize(
            tmp_path_factory.mktemp("per-account"),
            {"github_repository": IMMUTABLE_GITHUB_REPOSITORY, "model_artifact": str(model_artifact_path)},
            PER_ACCOUNT_STAGES,
        )


@pytest.fixture(params=STAGES, ids=[s.name for s in STAGES])
def stage(request: pytest.FixtureRequest, assembly: Assembly) -> tuple[StageSettings, Template]:
    """Each test taking this fixture runs once per stage, with that stage's settings and template."""
    settings: StageSettings = request.param
    return settings, assembly.template(STACK_NAMES[settings.name])
