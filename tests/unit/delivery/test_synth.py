"""Synthesising once against the pushed digest: the CDK call, and what is recorded from its result."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from infra_cdk import settings
from scripts.release import assembly as release_assembly
from scripts.release import synth as release_synth
from tests.unit.delivery.conftest import (
    ACCOUNT,
    DIGEST,
    IMAGES,
    PRODUCTION,
    REPO_ROOT,
    STAGING,
    install_fake_tool,
    path_with,
)


def args(
    out: Path,
    digest: str = DIGEST,
    repository: str = "acme/diabetes",
    model: Path = Path("model.json"),
    accounts: tuple[str, str] = (ACCOUNT, ACCOUNT),
) -> list[str]:
    return [
        "--digest", digest, "--account", f"Staging={accounts[0]}", "--account", f"Production={accounts[1]}",
        "--github-repository", repository, "--model-artifact", str(model), "--out", str(out),
    ]  # fmt: skip


def test_the_cdk_call_synthesises_every_stage_against_the_digest(tmp_path):
    command = release_synth.synth_command(
        digest=DIGEST,
        github_repository="acme/diabetes",
        model_artifact=Path("model/artifacts/model.json"),
        out=tmp_path,
    )
    assert command[:4] == ["npx", "cdk", "synth", "**"]
    assert command[command.index("--output") + 1] == str(tmp_path)
    contexts = [command[i + 1] for i, word in enumerate(command) if word == "--context"]
    assert contexts == [
        f"image_digest={DIGEST}",
        "github_repository=acme/diabetes",
        "model_artifact=model/artifacts/model.json",
    ]


def test_stages_in_the_account_of_the_credentials_must_be_given_one_account():
    # The committed stages share the account of the credentials: the app sees it as CDK_DEFAULT_ACCOUNT
    assert release_synth.credentials_account({"Staging": ACCOUNT, "Production": ACCOUNT}) == ACCOUNT
    with pytest.raises(ValueError, match="set `account` on every stage"):
        release_synth.credentials_account({"Staging": ACCOUNT, "Production": "222222222222"})


def test_accounts_committed_in_the_settings_must_match_the_repository_variables(monkeypatch):
    per_account = (
        dataclasses.replace(STAGING, account="111111111111"),
        dataclasses.replace(PRODUCTION, account="222222222222"),
    )
    monkeypatch.setattr(release_synth, "STAGES", per_account)
    monkeypatch.setattr(settings, "STAGES", per_account)
    release_synth.credentials_account({"Staging": "111111111111", "Production": "222222222222"})
    with pytest.raises(ValueError, match="deploys Production to 222222222222, the release was given 333"):
        release_synth.credentials_account({"Staging": "111111111111", "Production": "333333333333"})
    with pytest.raises(ValueError, match=r"no --account for \['Production'\]"):
        release_synth.credentials_account({"Staging": "111111111111"})


@pytest.mark.parametrize(
    ("digest", "repository"), [("latest", "acme/diabetes"), (DIGEST, "acme"), (DIGEST, "acme/dia betes")]
)
def test_bad_inputs_are_refused_before_synthesis(tmp_path, capsys, digest, repository):
    assert release_synth.main(args(tmp_path / "out", digest, repository)) == 2
    assert not (tmp_path / "out").exists()
    assert "release_synth:" in capsys.readouterr().err


# --- The whole step, with a stand-in `npx` that writes an assembly the way `cdk synth` lays it out -----
FAKE_NPX = f"""
import os, sys
sys.path.insert(0, {str(REPO_ROOT)!r})
from pathlib import Path
from tests.unit.delivery.conftest import PRODUCTION, STAGING, image_of, write_assembly

argv = sys.argv[1:]
if os.environ.get("FAKE_SYNTH_FAILS"):
    sys.exit("synthesis failed: cdk-nag found errors")
out = Path(argv[argv.index("--output") + 1])
digest = next(a.split("=", 1)[1] for a in argv if a.startswith("image_digest="))
assets = {{"Production": {{"abc": {{}}}}}} if os.environ.get("FAKE_SYNTH_IGNORES_DIGEST") else None
account = os.environ["CDK_DEFAULT_ACCOUNT"]
images = {{stage.name: image_of(stage, account, digest) for stage in (STAGING, PRODUCTION)}}
write_assembly(out, images, docker_image_assets=assets)
"""


@pytest.fixture
def npx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_fake_tool(tmp_path / "bin", "npx", FAKE_NPX)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    return tmp_path / "github-output"


def test_the_fingerprint_of_a_verified_assembly_becomes_the_step_output(npx, tmp_path, capsys):
    assert release_synth.main(args(tmp_path / "cdk.out")) == 0

    fingerprint = release_assembly.fingerprint(tmp_path / "cdk.out")
    assert npx.read_text() == f"fingerprint={fingerprint}\n"
    out = capsys.readouterr().out
    assert all(f"{stage}-Service deploys {image}" in out for stage, image in IMAGES.items())


def test_a_failed_synthesis_fails_the_step(npx, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SYNTH_FAILS", "1")
    assert release_synth.main(args(tmp_path / "cdk.out")) == 1
    assert not npx.exists()


def test_an_assembly_that_would_build_an_image_fails_the_step(npx, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_SYNTH_IGNORES_DIGEST", "1")
    assert release_synth.main(args(tmp_path / "cdk.out")) == 1
    assert "would be built at deploy time" in capsys.readouterr().err
    assert not npx.exists()


# --- Against the real app and the real CDK CLI ----------------------------------------------------------
@pytest.mark.slow
def test_the_real_app_synthesises_both_stages_pinned_to_the_digest(
    tmp_path, monkeypatch, capsys, trained_artifact
):
    # Given no AWS credentials at all (synthesis must not need any) and the project's CDK CLI
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    monkeypatch.setenv("PATH", path_with(REPO_ROOT / "node_modules" / ".bin"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    monkeypatch.chdir(REPO_ROOT)

    # When the release synthesises against a pushed digest
    code = release_synth.main(args(tmp_path / "cdk.out", model=trained_artifact))

    # Then both stages run exactly that image from this account's registry, nothing is left to build,
    # and the recorded fingerprint is the assembly's
    assert code == 0, capsys.readouterr().err
    built = release_assembly.read_assembly(tmp_path / "cdk.out")
    expected = {f"{stage}-Service": image for stage, image in IMAGES.items()}
    assert release_assembly.problems(built, expected) == []
    assert {"Staging-Service", "Production-Service"} <= {stack.name for stack in built.stacks}
    fingerprint = release_assembly.fingerprint(tmp_path / "cdk.out")
    assert (tmp_path / "github-output").read_text() == f"fingerprint={fingerprint}\n"
