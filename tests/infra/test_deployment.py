"""Safe deployment: CodeDeploy per stage strategy, rollback alarms, and the pre-traffic hook."""

from __future__ import annotations

import json
import typing
from pathlib import Path

from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk.assertions import Template

from infra_cdk.settings import DeploymentStrategy, StageSettings
from model.core.serving import load_artifact
from tests.infra.cfn import as_list, one, policy_statements, props, ref_target, resources
from tests.infra.conftest import STACK_NAMES, Assembly
from tests.served_rule import served

CONFIG_NAMES = {
    "all_at_once": "CodeDeployDefault.LambdaAllAtOnce",
    "canary_10_percent_5_minutes": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    "linear_10_percent_every_1_minute": "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
}


def test_every_strategy_a_stage_may_set_is_a_codedeploy_configuration() -> None:
    # The deployment group looks each strategy up by name among CDK's predefined configurations.
    assert set(typing.get_args(DeploymentStrategy)) == set(CONFIG_NAMES)
    for strategy, name in CONFIG_NAMES.items():
        assert getattr(codedeploy.LambdaDeploymentConfig, strategy.upper()).deployment_config_name == name


def test_the_deployment_group_uses_the_stage_strategy_and_rolls_back_on_alarms(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    _, group = one(template, "AWS::CodeDeploy::DeploymentGroup")
    p = props(group)
    assert p["DeploymentConfigName"] == CONFIG_NAMES[settings.deployment_strategy]
    assert p["AutoRollbackConfiguration"]["Enabled"] is True
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(p["AutoRollbackConfiguration"]["Events"])
    assert p["AlarmConfiguration"]["Enabled"] is True
    watched = {ref_target(a["Name"]) for a in p["AlarmConfiguration"]["Alarms"]}
    alarm_ids = set(resources(template, "AWS::CloudWatch::Alarm"))
    assert watched <= alarm_ids
    # Rollback on the alias's errors, the API's 5xx rate and its p99 latency; drift and throttles only alert.
    assert sorted(w.split("Monitoring")[1][:-8] for w in watched if w) == [
        "Api5xxRate",
        "ApiP99Latency",
        "FunctionErrors",
    ]


def test_the_alias_is_shifted_by_codedeploy_after_the_pre_traffic_hook(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    _, alias = one(template, "AWS::Lambda::Alias")
    group_id, _ = one(template, "AWS::CodeDeploy::DeploymentGroup")
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert ref_target(update["DeploymentGroupName"]) == group_id
    hook_id = ref_target(update["BeforeAllowTrafficHook"])
    # Updated before the alias shifts: the hook must already hold the new version's ARN.
    assert {hook_id, group_id} <= set(alias["DependsOn"])
    hook = template["Resources"][hook_id]
    assert props(hook)["Runtime"] == "python3.13"
    assert props(hook)["Handler"] == "hook.handler"


def test_the_hook_checks_the_new_version_against_the_artifact_being_deployed(
    stage: tuple[StageSettings, Template], assembly: Assembly, model_artifact_path: Path
) -> None:
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    _, alias = one(template, "AWS::Lambda::Alias")
    hook_id = ref_target(alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["BeforeAllowTrafficHook"])
    environment = props(template["Resources"][hook_id])["Environment"]["Variables"]
    # The version the alias is about to move to
    assert environment["TARGET_VERSION_ARN"] == {"Ref": ref_target(props(alias)["FunctionVersion"])}
    artifact = load_artifact(model_artifact_path)
    checks = json.loads(environment["CHECKS"])
    (batch,) = [c for c in checks if c["path"] == "/v1/predict/batch"]
    assert batch["expect"]["predictions"] == [served(artifact, b)[0] for b in batch["body"]["bmi"]]
    assert batch["expect"]["model_version"] == artifact.model_version


def test_the_hook_may_invoke_only_the_new_version_and_report_only_to_its_deployment_group(
    stage: tuple[StageSettings, Template], assembly: Assembly
) -> None:
    settings, _ = stage
    template = assembly.templates[STACK_NAMES[settings.name]]
    _, alias = one(template, "AWS::Lambda::Alias")
    hook_id = ref_target(alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["BeforeAllowTrafficHook"])
    role_id = props(template["Resources"][str(hook_id)])["Role"]["Fn::GetAtt"][0]
    granted = {}
    for logical_id, statement in policy_statements(template):
        policy = template["Resources"][logical_id]
        if {"Ref": role_id} in props(policy).get("Roles", []):
            for action in as_list(statement["Action"]):
                granted[action] = statement["Resource"]
    version_id = ref_target(props(alias)["FunctionVersion"])
    assert granted["lambda:InvokeFunction"] == {"Ref": version_id}
    assert "codedeploy:PutLifecycleEventHookExecutionStatus" in granted
    assert "deploymentgroup" in json.dumps(granted["codedeploy:PutLifecycleEventHookExecutionStatus"])
    assert set(granted) == {
        "lambda:InvokeFunction",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


def test_every_function_environment_fits_lambdas_4_kb_limit(assembly: Assembly) -> None:
    # The hook's known answers travel in its environment; Lambda refuses more than 4 KB of variables.
    for stack in STACK_NAMES.values():
        for function in resources(assembly.templates[stack], "AWS::Lambda::Function").values():
            variables = props(function).get("Environment", {}).get("Variables", {})
            size = sum(
                len(k) + len(json.dumps(v) if not isinstance(v, str) else v) for k, v in variables.items()
            )
            assert size < 3_000, f"{stack}: {size} bytes of environment (a version ARN adds ~100 more)"
