"""The assembly's identity (fingerprint) and what it deploys (one image, by digest, in both stages)."""

from __future__ import annotations

import argparse
import json

import pytest

from scripts.release import ReleaseError, assembly, parse_stage_account, stage_image
from tests.unit.delivery.conftest import (
    ACCOUNT,
    DIGEST,
    IMAGES,
    PRODUCTION,
    STAGING,
    image_of,
    write_assembly,
)

OTHER_DIGEST = "sha256:" + "cd" * 32
BOTH = [(STAGING, ACCOUNT), (PRODUCTION, ACCOUNT)]
EXPECTED = {f"{stage}-Service": image for stage, image in IMAGES.items()}


def verify_args(path, *extra, digest=DIGEST):
    accounts = ["--account", f"Staging={ACCOUNT}", "--account", f"Production={ACCOUNT}"]
    return ["verify", "--assembly", str(path), "--digest", digest, *accounts, *extra]


# --- Fingerprint ----------------------------------------------------------------------------------------
def test_the_fingerprint_is_stable_and_changes_with_any_file(tmp_path):
    # Given two assemblies written identically
    first = write_assembly(tmp_path / "a")
    second = write_assembly(tmp_path / "b")
    assert assembly.fingerprint(first) == assembly.fingerprint(second)

    # When one byte of one template changes, or a file is renamed
    template = next(second.rglob("*.template.json"))
    template.write_text(template.read_text().replace("python3.13", "python3.12"))
    renamed = write_assembly(tmp_path / "c")
    (renamed / "assembly-Staging" / "manifest.json").rename(renamed / "assembly-Staging" / "manifest2.json")

    # Then the fingerprint differs
    assert assembly.fingerprint(second) != assembly.fingerprint(first)
    assert assembly.fingerprint(renamed) != assembly.fingerprint(first)


def test_a_directory_without_a_manifest_is_not_an_assembly(tmp_path):
    with pytest.raises(ReleaseError, match="not a cloud assembly"):
        assembly.fingerprint(tmp_path)


# --- What it deploys ------------------------------------------------------------------------------------
def test_a_stages_image_is_the_digest_in_its_own_bootstrap_repository_in_its_own_account():
    assert stage_image(STAGING, "111111111111", f"@{DIGEST}") == (
        f"111111111111.dkr.ecr.eu-west-1.amazonaws.com/cdk-dpstaging-container-assets-111111111111-eu-west-1@{DIGEST}"
    )


def test_each_stage_is_verified_in_its_own_account(tmp_path, capsys):
    accounts = [(STAGING, "111111111111"), (PRODUCTION, "222222222222")]
    images = {
        "Staging": image_of(STAGING, "111111111111"),
        "Production": image_of(PRODUCTION, "222222222222"),
    }
    path = write_assembly(tmp_path, images)

    assert assembly.verify(path, accounts, DIGEST) == assembly.fingerprint(path)
    assert f"Production-Service deploys {images['Production']}" in capsys.readouterr().out
    with pytest.raises(ReleaseError, match="Staging-Service/Function6B188E59 runs 111111111111"):
        assembly.verify(path, [(STAGING, "222222222222")], DIGEST)


@pytest.mark.parametrize("digest", ["", "latest", "sha256:abc", "sha256:" + "G" * 64, DIGEST + "0"])
def test_anything_but_a_sha256_digest_is_refused(tmp_path, capsys, digest):
    with pytest.raises(SystemExit) as exit_:
        assembly.main(verify_args(write_assembly(tmp_path), digest=digest))
    assert exit_.value.code == 2
    assert "must look like sha256:<64 hex digits>" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("Staging=", "must be 12 digits"),  # an unset repository variable
        ("Staging=12345", "must be 12 digits"),
        ("Prod=123456789012", "no stage 'Prod'"),
        ("123456789012", "no stage '123456789012'"),
    ],
)
def test_stage_accounts_are_read_from_stage_equals_account(pair, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_stage_account(pair)


def test_an_assembly_pinned_to_the_image_in_both_stages_verifies(tmp_path):
    path = write_assembly(tmp_path)
    assert assembly.problems(path, EXPECTED) == []
    assert assembly.verify(path, BOTH, DIGEST, assembly.fingerprint(path)) == assembly.fingerprint(path)


def test_every_way_of_deploying_something_else_is_reported(tmp_path):
    # Given an assembly where Staging pulls from another region's registry and Production runs another digest
    other_region = IMAGES["Staging"].replace(".eu-west-1.", ".us-east-1.")
    path = write_assembly(
        tmp_path, {"Staging": other_region, "Production": IMAGES["Production"].replace(DIGEST, OTHER_DIGEST)}
    )

    found = assembly.problems(path, EXPECTED)

    assert len(found) == 2
    assert "Staging-Service/Function6B188E59 runs 123456789012.dkr.ecr.us-east-1." in found[0]
    assert OTHER_DIGEST in found[1]


def test_a_stage_pulling_from_the_other_stages_repository_is_reported(tmp_path):
    # Each stage's delivery role can push only to its own bootstrap: the other's repository would not hold it
    path = write_assembly(tmp_path, {"Staging": IMAGES["Production"], "Production": IMAGES["Production"]})
    assert assembly.problems(path, EXPECTED) == [
        f"Staging-Service/Function6B188E59 runs {IMAGES['Production']}, not {IMAGES['Staging']}"
    ]


def test_a_deploy_job_checks_its_own_stage(tmp_path):
    path = write_assembly(tmp_path, {"Staging": IMAGES["Staging"], "Production": "anything"})
    assert assembly.problems(path, {"Staging-Service": IMAGES["Staging"]}) == []


def test_a_missing_stage_is_reported(tmp_path):
    path = write_assembly(tmp_path, {"Staging": IMAGES["Staging"]})
    assert assembly.problems(path, EXPECTED) == [
        "stack Production-Service is not in the assembly (stacks: ['Staging-Service'])"
    ]


def test_a_stage_built_from_an_image_asset_is_reported(tmp_path):
    # Given an assembly synthesised without the digest context: CDK would build and push at deploy time
    asset = {"abc123": {"source": {"directory": "asset.abc123"}, "destinations": {}}}
    path = write_assembly(tmp_path, docker_image_assets={"Production": asset})

    found = assembly.problems(path, EXPECTED)

    assert found == [
        "container image asset ProductionService1234ABCD.assets.json: abc123 would be built at deploy time"
    ]


def test_a_tag_instead_of_a_digest_is_reported(tmp_path):
    tagged = {stage: image.replace(f"@{DIGEST}", ":latest") for stage, image in IMAGES.items()}
    path = write_assembly(tmp_path, tagged)
    assert len(assembly.problems(path, EXPECTED)) == 2


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ({"Fn::Join": ["", ["a.", {"Ref": "AWS::URLSuffix"}, "/r"]]}, "a.amazonaws.com/r"),
        ({"Fn::Join": ["", [{"Ref": "AWS::AccountId"}, ".dkr"]]}, "${AWS::AccountId}.dkr"),
        ({"Fn::GetAtt": ["A", "B"]}, '{"Fn::GetAtt": ["A", "B"]}'),
    ],
)
def test_template_values_are_rendered_as_far_as_known_offline(value, rendered):
    assert assembly.render(value) == rendered


# --- Command line ---------------------------------------------------------------------------------------
def test_verify_passes_for_the_synthesised_assembly(tmp_path, capsys):
    path = write_assembly(tmp_path)
    fingerprint = assembly.fingerprint(path)
    assembly.main(verify_args(path, "--fingerprint", fingerprint))
    out = capsys.readouterr().out
    assert all(f"{path}: {stack} deploys {image}" in out for stack, image in EXPECTED.items())
    assert out.endswith(f"fingerprint {fingerprint}\n")


def test_verify_refuses_an_assembly_that_changed_after_synthesis(tmp_path):
    path = write_assembly(tmp_path)
    fingerprint = assembly.fingerprint(path)
    (path / "tree.json").write_text(json.dumps({"tampered": True}))

    with pytest.raises(ReleaseError, match=f"is not the synthesised assembly's {fingerprint}"):
        assembly.main(verify_args(path, "--fingerprint", fingerprint))


def test_verify_refuses_unset_repository_variables(tmp_path, capsys):
    path = write_assembly(tmp_path)
    args = ["verify", "--assembly", str(path), "--digest", DIGEST, "--account", "Staging="]
    with pytest.raises(SystemExit, match="2"):
        assembly.main(args)
    assert "must be 12 digits" in capsys.readouterr().err


def test_fingerprint_command_prints_the_fingerprint(tmp_path, capsys):
    path = write_assembly(tmp_path)
    assembly.main(["fingerprint", "--assembly", str(path)])
    assert capsys.readouterr().out.strip() == assembly.fingerprint(path)
