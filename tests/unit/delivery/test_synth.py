"""Synthesising once against the image digest: what is refused before the CDK CLI runs. The synthesis
itself runs in tests/infra, through the real CDK CLI, as the workflow's step runs it."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess

import pytest

from infra_cdk import settings
from scripts.release import ReleaseError
from scripts.release import synth as release_synth
from tests.unit.delivery.conftest import ACCOUNT, DIGEST, PRODUCTION, STAGING, synth_args


def test_stages_in_the_account_of_the_credentials_must_be_given_one_account():
    # The committed stages share the account of the credentials: the app sees it as CDK_DEFAULT_ACCOUNT
    assert release_synth.credentials_account({"Staging": ACCOUNT, "Production": ACCOUNT}) == ACCOUNT
    with pytest.raises(ReleaseError, match="set `account` on every stage"):
        release_synth.credentials_account({"Staging": ACCOUNT, "Production": "222222222222"})


def test_accounts_committed_in_the_settings_must_match_the_repository_variables(monkeypatch):
    per_account = (
        dataclasses.replace(STAGING, account="111111111111"),
        dataclasses.replace(PRODUCTION, account="222222222222"),
    )
    monkeypatch.setattr(release_synth, "STAGES", per_account)
    monkeypatch.setattr(settings, "STAGES", per_account)
    release_synth.credentials_account({"Staging": "111111111111", "Production": "222222222222"})
    with pytest.raises(ReleaseError, match="deploys Production to 222222222222, the release was given 333"):
        release_synth.credentials_account({"Staging": "111111111111", "Production": "333333333333"})


def test_each_stages_account_is_read_from_the_repository_variable_its_settings_name():
    variables = '{"STAGING_AWS_ACCOUNT_ID": "111111111111", "PRODUCTION_AWS_ACCOUNT_ID": "222222222222"}'
    assert release_synth.stage_accounts(variables) == {
        "Staging": "111111111111",
        "Production": "222222222222",
    }


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ("[]", "must be a JSON object"),
        ("not json", "must be a JSON object"),
        ('{"STAGING_AWS_ACCOUNT_ID": "111111111111"}', "['PRODUCTION_AWS_ACCOUNT_ID'] must be set"),
        ('{"STAGING_AWS_ACCOUNT_ID": "1", "PRODUCTION_AWS_ACCOUNT_ID": "222222222222"}', "STAGING_AWS"),
    ],
)
def test_unset_or_malformed_account_variables_are_refused(variables, message):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
        release_synth.stage_accounts(variables)


@pytest.mark.parametrize(
    ("digest", "repository", "accounts", "message"),
    [
        ("latest", "acme/diabetes", (ACCOUNT, ACCOUNT), "must look like sha256:"),
        (DIGEST, "acme", (ACCOUNT, ACCOUNT), "must look like owner/name"),
        (DIGEST, "acme/dia betes", (ACCOUNT, ACCOUNT), "must look like owner/name"),
        (DIGEST, "acme/diabetes", (ACCOUNT, "222222222222"), "set `account` on every stage"),
    ],
)
def test_bad_inputs_are_refused_before_synthesis(
    tmp_path, monkeypatch, capsys, digest, repository, accounts, message
):
    monkeypatch.setattr(subprocess, "run", lambda *_, **__: pytest.fail("the CDK CLI ran"))
    with pytest.raises(SystemExit, match="2"):
        release_synth.main(synth_args(tmp_path / "out", digest, repository, accounts=accounts))
    assert message in capsys.readouterr().err
