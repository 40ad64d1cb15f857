"""What a stage's Release job is told before it starts: everything that differs between stages, from the
stage's settings (the workflow itself names none of it: tests/unit/delivery/test_workflow_graph.py)."""

from __future__ import annotations

import dataclasses

import pytest

from infra_cdk.settings import MAX_RELEASE_JOB_MINUTES, STAGES, SettingsError
from scripts.release import plan as release_plan
from tests.unit.delivery.conftest import PRODUCTION, STAGING


def test_each_stage_is_planned_from_its_settings():
    assert release_plan.plan(STAGING) == {
        "environment": "staging",
        "region": STAGING.region,
        "account_variable": "STAGING_AWS_ACCOUNT_ID",
        "role_name": "diabetes-progression-delivery-staging",
        "stack": "Staging-Service",
        "timeout_minutes": "60",
        "session_seconds": "3600",
        "pytest_marker": "",  # the whole end-to-end suite
        "model_gate": "false",
    }
    assert release_plan.plan(PRODUCTION)["pytest_marker"] == "smoke"
    assert release_plan.plan(PRODUCTION)["model_gate"] == "true", "the stage people are answered by"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_the_session_lasts_the_whole_job_and_no_longer_than_the_delivery_role_allows(stage):
    planned = release_plan.plan(stage)
    assert int(planned["session_seconds"]) == int(planned["timeout_minutes"]) * 60
    assert int(planned["timeout_minutes"]) <= MAX_RELEASE_JOB_MINUTES


def test_a_job_longer_than_the_delivery_session_is_refused_in_the_settings():
    with pytest.raises(SettingsError, match="release_timeout_minutes 121 must be between 10 and 120"):
        dataclasses.replace(STAGING, release_timeout_minutes=MAX_RELEASE_JOB_MINUTES + 1)


def test_the_command_prints_and_records_the_plan(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    release_plan.main(["--stage", "Production"])
    recorded = (tmp_path / "output").read_text().splitlines()
    assert recorded == capsys.readouterr().out.splitlines()
    assert "timeout_minutes=90" in recorded
