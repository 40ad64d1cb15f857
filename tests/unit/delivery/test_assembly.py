"""The assembly's identity (fingerprint) and what it deploys (one image, by digest, in both stages)."""

from __future__ import annotations

import json

import pytest

from scripts.release import assembly
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
BOTH = {"Staging": ACCOUNT, "Production": ACCOUNT}
EXPECTED = assembly.expected_images(BOTH, DIGEST)


def verify_args(path, *extra):
    accounts = ["--account", f"Staging={ACCOUNT}", "--account", f"Production={ACCOUNT}"]
    return ["verify", "--assembly", str(path), "--digest", DIGEST, *accounts, *extra]


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
    with pytest.raises(assembly.AssemblyError, match="not a cloud assembly"):
        assembly.fingerprint(tmp_path)


# --- What it deploys ------------------------------------------------------------------------------------
def test_each_stage_runs_the_digest_from_its_own_bootstrap_repository_in_its_own_account():
    images = assembly.expected_images({"Staging": "111111111111", "Production": "222222222222"}, DIGEST)
    assert images == {
        "Staging-Service": image_of(STAGING, "111111111111"),
        "Production-Service": image_of(PRODUCTION, "222222222222"),
    }
    assert len({image.split("@")[1] for image in images.values()}) == 1, "one digest in every stage"


@pytest.mark.parametrize("digest", ["", "latest", "sha256:abc", "sha256:" + "G" * 64, DIGEST + "0"])
def test_anything_but_a_sha256_digest_is_refused(digest):
    with pytest.raises(assembly.AssemblyError, match="digest"):
        assembly.expected_images(BOTH, digest)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["Staging="], "must be 12 digits"),  # an unset repository variable
        (["Staging=12345"], "must be 12 digits"),
        (["Prod=123456789012"], "no stage 'Prod'"),
        (["123456789012"], "no stage '123456789012'"),
    ],
)
def test_stage_accounts_are_read_from_stage_equals_account(pairs, message):
    with pytest.raises(assembly.AssemblyError, match=message):
        assembly.stage_accounts(pairs)


def test_an_assembly_pinned_to_the_image_in_both_stages_verifies(tmp_path):
    path = write_assembly(tmp_path)
    assert assembly.problems(assembly.read_assembly(path), EXPECTED) == []
    assert assembly.verify(path, EXPECTED, assembly.fingerprint(path)) == assembly.fingerprint(path)


def test_every_way_of_deploying_something_else_is_reported(tmp_path):
    # Given an assembly where Staging pulls from another region's registry and Production runs another digest
    other_region = IMAGES["Staging"].replace(".eu-west-1.", ".us-east-1.")
    path = write_assembly(
        tmp_path, {"Staging": other_region, "Production": IMAGES["Production"].replace(DIGEST, OTHER_DIGEST)}
    )

    found = assembly.problems(assembly.read_assembly(path), EXPECTED)

    assert len(found) == 2
    assert "Staging-Service/Function6B188E59 runs 123456789012.dkr.ecr.us-east-1." in found[0]
    assert OTHER_DIGEST in found[1]


def test_a_stage_pulling_from_the_other_stages_repository_is_reported(tmp_path):
    # Each stage's delivery role can push only to its own bootstrap: the other's repository would not hold it
    path = write_assembly(tmp_path, {"Staging": IMAGES["Production"], "Production": IMAGES["Production"]})
    assert assembly.problems(assembly.read_assembly(path), EXPECTED) == [
        f"Staging-Service/Function6B188E59 runs {IMAGES['Production']}, not {IMAGES['Staging']}"
    ]


def test_a_deploy_job_checks_its_own_stage(tmp_path):
    path = write_assembly(tmp_path, {"Staging": IMAGES["Staging"], "Production": "anything"})
    staging_only = assembly.expected_images({"Staging": ACCOUNT}, DIGEST)
    assert assembly.problems(assembly.read_assembly(path), staging_only) == []


def test_a_missing_stage_is_reported(tmp_path):
    path = write_assembly(tmp_path, {"Staging": IMAGES["Staging"]})
    assert assembly.problems(assembly.read_assembly(path), EXPECTED) == [
        "stack Production-Service is not in the assembly (stacks: ['Staging-Service'])"
    ]


def test_a_stage_built_from_an_image_asset_is_reported(tmp_path):
    # Given an assembly synthesised without the digest context: CDK would build and push at deploy time
    asset = {"abc123": {"source": {"directory": "asset.abc123"}, "destinations": {}}}
    path = write_assembly(tmp_path, docker_image_assets={"Production": asset})

    found = assembly.problems(assembly.read_assembly(path), EXPECTED)

    assert found == [
        "container image asset ProductionService1234ABCD.assets.json: abc123 would be built at deploy time"
    ]


def test_a_tag_instead_of_a_digest_is_reported(tmp_path):
    tagged = {stage: image.replace(f"@{DIGEST}", ":latest") for stage, image in IMAGES.items()}
    path = write_assembly(tmp_path, tagged)
    assert len(assembly.problems(assembly.read_assembly(path), EXPECTED)) == 2


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ({"Fn::Join": ["", ["a.", {"Ref": "AWS::URLSuffix"}, "/r"]]}, "a.amazonaws.com/r"),
        ({"Fn::Join": ["", [{"Ref": "AWS::AccountId"}, ".dkr"]]}, "${AWS::AccountId}.dkr"),
        ({"Fn::Sub": "x.${AWS::URLSuffix}/r"}, "x.amazonaws.com/r"),
        ({"Fn::GetAtt": ["A", "B"]}, '{"Fn::GetAtt": ["A", "B"]}'),
    ],
)
def test_template_values_are_rendered_as_far_as_known_offline(value, rendered):
    assert assembly.render(value) == rendered


# --- Command line ---------------------------------------------------------------------------------------
def test_verify_passes_for_the_synthesised_assembly(tmp_path, capsys):
    path = write_assembly(tmp_path)
    fingerprint = assembly.fingerprint(path)
    assert assembly.main(verify_args(path, "--fingerprint", fingerprint)) == 0
    out = capsys.readouterr().out
    assert all(f"{stack} deploys {image}" in out for stack, image in EXPECTED.items())


def test_verify_refuses_an_assembly_that_changed_after_synthesis(tmp_path, capsys):
    path = write_assembly(tmp_path)
    fingerprint = assembly.fingerprint(path)
    (path / "tree.json").write_text(json.dumps({"tampered": True}))

    assert assembly.main(verify_args(path, "--fingerprint", fingerprint)) == 1
    assert f"is not the synthesised assembly's {fingerprint}" in capsys.readouterr().err


def test_verify_refuses_unset_repository_variables(tmp_path, capsys):
    path = write_assembly(tmp_path)
    args = ["verify", "--assembly", str(path), "--digest", DIGEST, "--account", "Staging="]
    assert assembly.main(args) == 1
    assert "must be 12 digits" in capsys.readouterr().err


def test_fingerprint_command_prints_the_fingerprint(tmp_path, capsys):
    path = write_assembly(tmp_path)
    assert assembly.main(["fingerprint", "--assembly", str(path)]) == 0
    assert capsys.readouterr().out.strip() == assembly.fingerprint(path)
