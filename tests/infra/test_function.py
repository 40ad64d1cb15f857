"""The function, its alias and its logs, on both stages."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from infra_cdk.function import LIVE_ALIAS
from infra_cdk.settings import StageSettings
from model.core import contract
from tests.infra.cfn import one, props, resources
from tests.infra.conftest import STACK_NAMES, Assembly


def function_of(assembly: Assembly, settings: StageSettings) -> tuple[str, dict]:
    functions = resources(assembly.templates[STACK_NAMES[settings.name]], "AWS::Lambda::Function")
    ((logical_id, function),) = [
        (k, v) for k, v in functions.items() if props(v).get("PackageType") == "Image"
    ]
    return logical_id, props(function)


def test_the_function_is_the_arm64_container_image_with_the_stage_sizing(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, function = function_of(assembly, settings)
    assert function["PackageType"] == "Image"
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == settings.memory_mb
    assert function["Timeout"] == settings.timeout_seconds
    # No reservation is no property at all (a quota of 10 can hold none), not a reservation of 0.
    assert function.get("ReservedConcurrentExecutions") == settings.reserved_concurrency
    assert function["TracingConfig"] == {"Mode": "Active"}


def test_the_function_environment_follows_the_contract(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, function = function_of(assembly, settings)
    assert function["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": settings.log_level,
        contract.ENV_STAGE: settings.slug,
    }


def test_the_function_logs_json_into_its_own_encrypted_log_group(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    _, function = function_of(assembly, settings)
    log_group = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert function["LoggingConfig"]["LogFormat"] == "JSON"
    assert function["LoggingConfig"]["ApplicationLogLevel"] == settings.log_level.replace("WARNING", "WARN")
    group = assembly.templates[STACK_NAMES[settings.name]]["Resources"][log_group]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert "KmsKeyId" in props(group)


def test_every_log_group_has_the_stage_retention_a_key_and_the_stage_deletion_policy(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    groups = resources(assembly.templates[STACK_NAMES[settings.name]], "AWS::Logs::LogGroup")
    # function, pre-traffic hook, API access logs, WAF logs
    assert len(groups) == 4
    for group in groups.values():
        assert props(group)["RetentionInDays"] == settings.log_retention_days
        assert "KmsKeyId" in props(group)
        # WAF's goes with the stack in every stage: its name is stable (tests/infra/test_protection.py)
        waf = props(group).get("LogGroupName") == settings.waf_log_group_name
        assert group["DeletionPolicy"] == (
            "Retain" if settings.retain_data_on_delete and not waf else "Delete"
        )


def test_the_role_grants_only_its_own_logs_and_tracing(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, template = stage
    _, function = function_of(assembly, settings)
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = assembly.templates[STACK_NAMES[settings.name]]["Resources"][role_id]
    assert "ManagedPolicyArns" not in props(role)  # no AWSLambdaBasicExecutionRole: logs go to one group only
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": Match.any_value(),
                            }
                        )
                    ]
                )
            },
        },
    )


def test_a_live_alias_points_at_the_published_version(stage: tuple[StageSettings, Template]) -> None:
    _, template = stage
    template.has_resource_properties(
        "AWS::Lambda::Alias",
        {
            "Name": LIVE_ALIAS,
            "FunctionVersion": {"Fn::GetAtt": [Match.string_like_regexp("CurrentVersion"), "Version"]},
        },
    )
    template.resource_count_is("AWS::Lambda::Version", 1)


def test_the_image_asset_is_built_for_arm64_from_the_function_dockerfile(assembly: Assembly) -> None:
    for stack in STACK_NAMES.values():
        manifest_path = assembly.template_paths[stack].with_name(
            assembly.template_paths[stack].name.replace(".template.json", ".assets.json")
        )
        images = json.loads(manifest_path.read_text())["dockerImages"]
        ((_, image),) = images.items()
        assert image["source"]["dockerFile"] == "lambda_fn/Dockerfile"
        assert image["source"]["platform"] == "linux/arm64"
        staged = (manifest_path.parent / image["source"]["directory"]).resolve()
        # What `cdk deploy` builds: the Dockerfile, the function, the schema and the artifact, nothing else.
        assert (staged / "lambda_fn" / "Dockerfile").is_file()
        assert (staged / "lambda_fn" / "handler.py").is_file()
        assert (staged / "model" / "artifacts" / "model.json").is_file()
        assert not (staged / ".venv").exists()
        assert not (staged / "tests").exists()
        assert not (staged / "infra_cdk").exists()


def test_the_stack_outputs_are_the_contract_outputs(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    outputs = assembly.templates[STACK_NAMES[settings.name]]["Outputs"]
    assert set(outputs) == {"ApiUrl", "FunctionName", "AliasArn", "DashboardUrl", "AlarmTopicArn"}
    for output in outputs.values():
        assert "Export" not in output
    alias_id, _ = one(assembly.templates[STACK_NAMES[settings.name]], "AWS::Lambda::Alias")
    assert outputs["AliasArn"]["Value"] == {"Ref": alias_id}
