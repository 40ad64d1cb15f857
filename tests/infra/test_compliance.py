"""cdk-nag (AwsSolutions), cfn-lint and checkov over the synthesized templates.

cdk-nag runs inside the synthesis: the session's assembly exists only because it found nothing
unacknowledged. These tests check that it really ran on every stack and what was acknowledged, then run
cfn-lint and checkov (in its own virtual environment) over the same templates.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns

from infra_cdk.app import build
from model.core import contract
from tests.infra.cfn import method_ids_by_path, one
from tests.infra.conftest import STACK_NAMES, Assembly, without_aws_credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
FIXED_NOT_ACKNOWLEDGED = {
    "AwsSolutions-APIG1",
    "AwsSolutions-APIG3",
    "AwsSolutions-APIG6",
}


def acknowledgements(template: dict) -> dict[str, list[dict[str, str]]]:
    """logical id -> the cdk_nag rules acknowledged on it (with reasons), as written into the template."""
    return {
        logical_id: resource["Metadata"]["cdk_nag"]["rules_to_suppress"]
        for logical_id, resource in template["Resources"].items()
        if "cdk_nag" in resource.get("Metadata", {})
    }


def test_nag_acknowledgements_are_recorded_in_every_stack_each_with_a_reason(assembly: Assembly) -> None:
    for stack, template in assembly.templates.items():
        acknowledged = acknowledgements(template)
        assert acknowledged, f"{stack}: no cdk_nag metadata, so cdk-nag did not run on it"
        for rules in acknowledged.values():
            for rule in rules:
                assert rule["id"].startswith("AwsSolutions-")
                assert len(rule["reason"]) >= 40, rule


def test_api_rules_are_fixed_not_acknowledged(assembly: Assembly) -> None:
    for template in assembly.templates.values():
        for rules in acknowledgements(template).values():
            assert not {r["id"] for r in rules} & FIXED_NOT_ACKNOWLEDGED


def test_edge_body_validation_is_acknowledged_on_the_api_alone(assembly: Assembly) -> None:
    # Bodies are judged by the function against the one definition of each request type.
    for stack in STACK_NAMES.values():
        template = assembly.templates[stack]
        api_id, _ = one(template, "AWS::ApiGateway::RestApi")
        acknowledged = {
            logical_id
            for logical_id, rules in acknowledgements(template).items()
            if any(r["id"] == "AwsSolutions-APIG2" for r in rules)
        }
        assert acknowledged == {api_id}


def test_missing_authorization_is_acknowledged_only_on_public_routes_and_404_catch_alls(
    assembly: Assembly,
) -> None:
    for stack in STACK_NAMES.values():
        template = assembly.templates[stack]
        acknowledged = acknowledgements(template)
        for (path, _), (logical_id, method) in method_ids_by_path(template).items():
            apig4 = any(r["id"] == "AwsSolutions-APIG4" for r in acknowledged.get(logical_id, []))
            assert apig4 == (method["AuthorizationType"] == "NONE"), f"{stack} {path}"
            if apig4:
                assert path in contract.PUBLIC_PATHS or method["Integration"]["Type"] == "MOCK"


def test_nag_fails_the_synthesis_of_a_stage_stack_on_a_new_finding(
    tmp_path: Path, model_artifact_path: Path
) -> None:
    # Given the real app, plus one unencrypted topic in the Staging stack
    app = App(outdir=str(tmp_path), context={"model_artifact": str(model_artifact_path)})
    build(app)
    staging_stack = Stack.of(app.node.find_child("Staging").node.find_child("Service"))
    sns.Topic(staging_stack, "UnencryptedTopic")
    # Then synthesis stops and names the rule
    with without_aws_credentials(), pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = {v["ruleName"] for r in report["pluginReports"] for v in r["violations"]}
    assert "AwsSolutions-SNS3" in violations  # the topic does not enforce TLS


def test_cfn_lint_finds_no_errors(assembly: Assembly) -> None:
    result = subprocess.run(
        [
            shutil.which("cfn-lint") or "cfn-lint",
            "--format",
            "json",
            *map(str, assembly.template_paths.values()),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert not errors, json.dumps(errors, indent=1)[:4000]


def test_checkov_finds_no_failed_checks(assembly: Assembly) -> None:
    files = [arg for path in assembly.template_paths.values() for arg in ("-f", str(path))]
    result = subprocess.run(
        [str(CHECKOV), "--framework", "cloudformation", "--output", "json", "--skip-download", *files],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [f for r in reports for f in r["results"]["failed_checks"]]
    assert not failed, [(f["check_id"], f["resource"], f["check_name"]) for f in failed]
    skipped = [f for r in reports for f in r["results"]["skipped_checks"]]
    for skip in skipped:  # every skip is in the template with its reason
        assert len(skip["check_result"].get("suppress_comment", "")) >= 30, skip["check_id"]
    assert result.returncode == 0, result.stderr[-2000:]
