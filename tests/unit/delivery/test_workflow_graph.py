"""The delivery workflows, read as data: promotion graph, identity of what is deployed, least privilege.

Each rule from workflow_rules.py is asserted on the real workflows and shown to catch a broken copy.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.delivery import workflow_rules as rules
from tests.unit.delivery.conftest import GITHUB_DIR, REPO_ROOT, WORKFLOW_DIR, load_yaml

RELEASE_ORDER = ["checks", "train", "image", "synth", "staging", "production"]
DIGEST_OUTPUT = "${{ needs.image.outputs.digest }}"
FINGERPRINT_OUTPUT = "${{ needs.synth.outputs.fingerprint }}"
ALL_YAML = rules.files(GITHUB_DIR)


def deploy_command(job: dict[str, Any]) -> str:
    return next(line for line in rules.run_text(job).splitlines() if "cdk deploy" in line)


# --- The promotion graph -------------------------------------------------------------------------------
def test_release_runs_on_main_and_on_demand_only(release):
    assert release["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}


def test_release_jobs_are_strictly_ordered(release):
    # Given the release's jobs
    # Then each one waits for the one before it, and there is no other job to run beside them
    assert rules.chain_problems(release, RELEASE_ORDER) == []
    assert sorted(rules.jobs(release)) == sorted(RELEASE_ORDER)


def test_production_needs_the_job_that_ran_the_staging_end_to_end_tests(release):
    staging = rules.jobs(release)["staging"]
    e2e = rules.step_index(staging, lambda s: str(s.get("run", "")).startswith("pytest tests/e2e"))
    deploy = rules.step_index(staging, lambda s: "cdk deploy" in str(s.get("run", "")))
    assert 0 <= deploy < e2e, "Staging's end-to-end tests run after Staging's deployment, in the same job"
    assert staging["steps"][e2e]["env"]["E2E_STACK_NAME"] == "Staging-Service"
    assert "-m" not in staging["steps"][e2e]["run"].split(), "Staging runs the whole suite, not a subset"
    assert "staging" in rules.needs(rules.jobs(release)["production"])


def test_production_runs_the_smoke_subset_after_its_deployment(release):
    production = rules.jobs(release)["production"]
    smoke = rules.step_index(production, lambda s: "pytest tests/e2e -m smoke" in str(s.get("run", "")))
    deploy = rules.step_index(production, lambda s: "cdk deploy" in str(s.get("run", "")))
    assert 0 <= deploy < smoke
    assert production["steps"][smoke]["env"]["E2E_STACK_NAME"] == "Production-Service"


def test_a_release_without_the_staging_gate_is_caught(release):
    broken = copy.deepcopy(release)
    broken["jobs"]["production"]["needs"] = ["image", "synth"]
    assert rules.chain_problems(broken, RELEASE_ORDER) == ["production does not wait for staging"]


# --- One image, one assembly, deployed twice ------------------------------------------------------------
def uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


def test_the_image_is_built_once_into_an_archive_that_keeps_its_digest_then_emulator_tested(release):
    image = rules.jobs(release)["image"]
    builds = [
        (job_id, step)
        for job_id, job in rules.jobs(release).items()
        for step in rules.steps(job)
        if uses(step, "docker/build-push-action")
    ]
    assert [job_id for job_id, _ in builds] == ["image"], "exactly one image build in the release"
    build = builds[0][1]["with"]
    # One platform, Docker media types, no attestations, into an archive that keeps the manifest bytes:
    # a single image manifest whatever Docker the runner has, pushed later without being rewritten
    assert build["platforms"] == "linux/arm64"
    assert build["push"] is False
    assert "load" not in build
    assert build["provenance"] is False
    assert build["sbom"] is False
    exporter = dict(part.split("=", 1) for part in build["outputs"].split(","))
    assert exporter == {
        "type": "oci",
        "dest": "build/image.tar",
        "oci-mediatypes": "false",
        "name": "${{ env.LOCAL_IMAGE }}",  # what `docker load` names it for the emulator test
    }
    assert (build["file"], build["context"]) == ("lambda_fn/Dockerfile", ".")
    assert "docker build" not in "\n".join(rules.run_text(job) for job in rules.jobs(release).values())

    # The digest is read from that archive, the archive is what the emulator test runs and what is uploaded
    order = [
        rules.step_index(image, lambda s: uses(s, "docker/build-push-action")),
        rules.step_index(image, lambda s: s.get("id") == "digest"),
        rules.step_index(image, lambda s: "docker load --input build/image.tar" in str(s.get("run", ""))),
        rules.step_index(image, lambda s: "scripts.release.smoke_image" in str(s.get("run", ""))),
        rules.step_index(image, lambda s: uses(s, "actions/upload-artifact")),
    ]
    assert order == sorted(order)
    assert -1 not in order
    digest = image["steps"][order[1]]["run"]
    assert digest == "python -m scripts.release.push_image digest --archive build/image.tar"
    assert image["steps"][order[4]]["with"]["name"] == "image-archive"
    assert image["outputs"] == {"digest": "${{ steps.digest.outputs.digest }}"}
    # Building needs no AWS credentials, and no environment
    assert not rules.assumes_a_role(image)
    assert "environment" not in image


def test_the_arm64_runner_comes_from_a_variable_with_an_x86_and_qemu_fallback(release):
    image = rules.jobs(release)["image"]
    assert image["runs-on"] == "${{ vars.ARM64_RUNNER || 'ubuntu-24.04' }}"
    qemu = rules.step_index(image, lambda s: uses(s, "docker/setup-qemu-action"))
    build = rules.step_index(image, lambda s: uses(s, "docker/build-push-action"))
    assert 0 <= qemu < build
    assert image["steps"][qemu]["if"] == "runner.arch != 'ARM64'"
    assert image["steps"][qemu]["with"]["platforms"] == "arm64"


def test_pull_requests_build_the_arm64_image_from_the_pinned_base(checks):
    job = rules.jobs(checks)["checks"]
    train = rules.step_index(job, lambda s: "python -m model.train" in str(s.get("run", "")))
    build = rules.step_index(job, lambda s: uses(s, "docker/build-push-action"))
    qemu = rules.step_index(job, lambda s: uses(s, "docker/setup-qemu-action"))
    assert 0 <= train < build, "the image bundles the trained artifact"
    assert 0 <= qemu < build
    step = job["steps"][build]
    assert step["if"] == "github.event_name == 'pull_request'"
    assert step["with"]["platforms"] == "linux/arm64"
    assert step["with"]["file"] == "lambda_fn/Dockerfile"
    assert step["with"]["push"] is False


def test_the_assembly_is_synthesised_once_against_the_digest(release):
    synth = rules.jobs(release)["synth"]
    step = next(s for s in rules.steps(synth) if "scripts.release.synth" in str(s.get("run", "")))
    assert step["env"]["DIGEST"] == DIGEST_OUTPUT
    assert synth["outputs"]["fingerprint"] == f"${{{{ steps.{step['id']}.outputs.fingerprint }}}}"
    uploads = [s for s in rules.steps(synth) if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert [u["with"] for u in uploads] == [
        {
            "name": "cdk-assembly",
            "path": "cdk.out",
            "if-no-files-found": "error",
            "include-hidden-files": True,
        }
    ]
    for job_id, job in rules.jobs(release).items():
        if job_id != "synth":
            assert "cdk synth" not in rules.run_text(job), f"{job_id} synthesises again"


@pytest.mark.parametrize(("job_id", "stage"), [("staging", "Staging"), ("production", "Production")])
def test_both_stages_deploy_the_same_verified_assembly_and_digest(release, job_id, stage):
    job = rules.jobs(release)[job_id]
    download = next(
        s for s in rules.steps(job) if str(s.get("uses", "")).startswith("actions/download-artifact@")
    )
    assert download["with"] == {"name": "cdk-assembly", "path": "cdk.out"}
    assert job["env"] == {"DIGEST": DIGEST_OUTPUT, "FINGERPRINT": FINGERPRINT_OUTPUT}
    verify = rules.step_index(job, lambda s: "scripts.release.assembly verify" in str(s.get("run", "")))
    deploy = rules.step_index(job, lambda s: "cdk deploy" in str(s.get("run", "")))
    assert 0 <= verify < deploy
    verify_run = job["steps"][verify]["run"]
    assert '--digest "$DIGEST"' in verify_run
    assert '--fingerprint "$FINGERPRINT"' in verify_run
    assert f'--account "{stage}=${stage.upper()}_AWS_ACCOUNT_ID"' in verify_run
    assert deploy_command(job) == f"npx cdk deploy --app cdk.out '{stage}/*' --require-approval never"
    assert {"image", "synth"} <= rules.ancestors(release, job_id)


# --- Environments, concurrency, credentials -------------------------------------------------------------
@pytest.mark.parametrize(("job_id", "environment"), [("staging", "staging"), ("production", "production")])
def test_deployments_run_in_their_environment_and_are_never_cancelled(release, job_id, environment):
    job = rules.jobs(release)[job_id]
    assert rules.environment_name(job) == environment
    assert rules.deploy_concurrency_problems(job, environment) == []


def test_a_cancellable_deployment_is_caught(release):
    job = copy.deepcopy(rules.jobs(release)["production"])
    job["concurrency"]["cancel-in-progress"] = True
    assert rules.deploy_concurrency_problems(job, "production") != []


def test_the_two_environments_never_share_a_lock(release):
    groups = {rules.jobs(release)[j]["concurrency"]["group"] for j in ("staging", "production")}
    assert len(groups) == 2


def test_each_role_is_assumed_only_in_its_own_environment(release):
    role_vars = {"staging": "vars.STAGING_DEPLOY_ROLE_ARN", "production": "vars.PRODUCTION_DEPLOY_ROLE_ARN"}
    for job_id, job in rules.jobs(release).items():
        roles = [
            s["with"]["role-to-assume"]
            for s in rules.steps(job)
            if str(s.get("uses", "")).startswith(rules.CONFIGURE_AWS) and not s["with"].get("role-chaining")
        ]
        if not roles:
            continue
        environment = rules.environment_name(job)
        assert environment in role_vars, f"{job_id} assumes a role outside a GitHub environment"
        assert roles == [f"${{{{ {role_vars[environment]} }}}}"], job_id


@pytest.mark.parametrize(("job_id", "stage"), [("staging", "Staging"), ("production", "Production")])
def test_each_deploy_job_checks_its_account_then_pushes_the_tested_archive_to_its_own_stage(
    release, job_id, stage
):
    job = rules.jobs(release)[job_id]
    download = rules.step_index(
        job, lambda s: uses(s, "actions/download-artifact") and s["with"]["name"] == "image-archive"
    )
    assume = rules.step_index(job, lambda s: uses(s, "aws-actions/configure-aws-credentials"))
    preflight = rules.step_index(job, lambda s: "scripts.release.preflight" in str(s.get("run", "")))
    push = rules.step_index(job, lambda s: "scripts.release.push_image push" in str(s.get("run", "")))
    deploy = rules.step_index(job, lambda s: "cdk deploy" in str(s.get("run", "")))
    assert -1 < download < push
    assert -1 < assume < preflight < push < deploy
    assert job["steps"][preflight]["run"] == f"python -m scripts.release.preflight --stage {stage}"
    pushed = job["steps"][push]["run"]
    assert f"--stage {stage} --archive build/image.tar" in pushed
    assert '--digest "$DIGEST"' in pushed
    # No role chaining in the workflow: the push script opens the image-publishing session itself
    assert not any(s.get("with", {}).get("role-chaining") for s in rules.steps(job))


def test_production_runs_after_reviewers_approve_or_only_when_started_by_hand(release):
    production, staging = (rules.jobs(release)[j] for j in ("production", "staging"))
    assert (
        production["if"] == "github.event_name == 'workflow_dispatch' || vars.PRODUCTION_GATE == 'reviewers'"
    )
    assert "if" not in staging
    assert "workflow_dispatch" in release["on"]


@pytest.mark.parametrize("name", ["release.yml", "checks.yml"])
def test_permissions_are_minimal(name):
    assert rules.permission_problems(load_yaml(WORKFLOW_DIR / name)) == []


def test_excess_permissions_are_caught(release):
    broken = copy.deepcopy(release)
    broken["jobs"]["train"]["permissions"]["id-token"] = "write"
    broken["jobs"]["synth"]["permissions"]["packages"] = "write"
    broken["permissions"] = "write-all"
    assert rules.permission_problems(broken) == [
        "top-level permissions are not {}",
        "train: id-token: write must be granted exactly where a role is assumed",
        "synth: permission packages: write is not needed",
    ]


def test_checks_never_touch_aws(checks):
    text = yaml.safe_dump(checks)  # the workflow itself, without its comments
    assert "id-token" not in text
    assert "aws-actions/" not in text
    assert "AWS_ACCESS" not in text
    assert all(not rules.assumes_a_role(job) for job in rules.jobs(checks).values())


# --- Checks, reused by Release --------------------------------------------------------------------------
def test_checks_run_on_pull_requests_pushes_and_as_the_first_release_job(checks, release):
    assert {"pull_request", "push", "workflow_call"} <= set(checks["on"])
    assert rules.jobs(release)["checks"]["uses"] == "./.github/workflows/checks.yml"


def test_checks_run_every_gate_and_upload_the_model_card_and_the_assembly(checks):
    job = rules.jobs(checks)["checks"]
    commands = rules.run_text(job)
    # The whole test command, lint stage (hadolint, actionlint) included, not one level of it
    assert "./scripts/test" in commands.splitlines()
    for expected in (
        "python -m model.train --out model/artifacts/model.json --report build/model-report",
        "npx cdk synth '**' --output cdk.out",
    ):
        assert expected in commands
    uploaded = {
        s["with"]["path"]
        for s in rules.steps(job)
        if str(s.get("uses", "")).startswith("actions/upload-artifact@")
    }
    # The model card, the synthesised assembly, and the browser test's screenshot of /docs.
    assert uploaded == {"build/model-report", "cdk.out", "test-results"}


def test_the_release_carries_the_trained_artifact_into_the_image_and_the_synthesis(release):
    train = rules.jobs(release)["train"]
    assert "python -m model.train --out model/artifacts/model.json" in rules.run_text(train)
    for job_id in ("image", "synth"):
        download = [
            s["with"]
            for s in rules.steps(rules.jobs(release)[job_id])
            if str(s.get("uses", "")).startswith("actions/download-artifact@")
        ]
        assert download == [{"name": "model-artifact", "path": "model/artifacts"}], job_id


# --- Every job bounded, every action pinned, no secrets -------------------------------------------------
@pytest.mark.parametrize("name", ["release.yml", "checks.yml"])
def test_every_job_has_a_timeout(name):
    assert rules.timeout_problems(load_yaml(WORKFLOW_DIR / name)) == []


def test_a_job_without_a_timeout_is_caught(release):
    broken = copy.deepcopy(release)
    del broken["jobs"]["staging"]["timeout-minutes"]
    assert rules.timeout_problems(broken) == ["staging: no timeout-minutes"]


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_third_party_action_is_pinned_to_a_commit_sha(path):
    text = path.read_text(encoding="utf-8")
    assert rules.pin_problems(text, path.name) == []


def test_the_same_action_is_pinned_to_the_same_commit_everywhere():
    pins: dict[str, set[str]] = {}
    for path in ALL_YAML:
        for _, line in rules.uses_lines(path.read_text(encoding="utf-8")):
            if match := rules.PINNED_USES.match(line):
                pins.setdefault(match["action"], set()).add(match["ref"])
    assert len(pins) >= 8
    assert {action: refs for action, refs in pins.items() if len(refs) > 1} == {}


@pytest.mark.parametrize(
    "line",
    [
        "      - uses: actions/checkout@v5",
        "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",  # no version comment
        "      - uses: actions/checkout@08c6903 # v5.0.0",
        "        uses: docker/build-push-action@main # v6.18.0",
    ],
)
def test_unpinned_actions_are_caught(line):
    assert rules.pin_problems(line, "x.yml") != []


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_stored_aws_credentials(path):
    assert rules.secret_problems(path.read_text(encoding="utf-8"), path.name) == []


# AWS's documented example keys, assembled here so that this file does not itself look like a leak.
EXAMPLE_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "text",
    [
        f"env:\n  KEY: {EXAMPLE_KEY_ID}\n",
        f"aws_secret_access_key = {EXAMPLE_SECRET}\n",
        f"env:\n  AWS_SECRET_ACCESS_KEY: '{EXAMPLE_SECRET}'\n",
        "with:\n  aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n",
    ],
)
def test_stored_credentials_are_caught(text):
    assert rules.secret_problems(text, "x.yml") != []


# --- Scripts the workflows call -------------------------------------------------------------------------
def called_modules() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in ALL_YAML)
    return set(re.findall(r"python -m scripts\.([\w.]+)", text))


def test_every_script_a_workflow_calls_lives_in_scripts_and_is_tested():
    modules = called_modules()
    assert modules, "the workflows call the release scripts"
    for module in modules:
        path = REPO_ROOT / "scripts" / f"{module.replace('.', '/')}.py"
        assert path.is_file(), module
        tests = list((REPO_ROOT / "tests").rglob(f"test_{path.stem}.py"))
        assert tests, f"{path.relative_to(REPO_ROOT)} has no test module"


def test_workflow_shell_steps_read_untrusted_values_only_through_the_environment():
    # `${{ ... }}` inside `run:` is pasted into the script before bash parses it (script injection);
    # values reach scripts through `env:` instead. Only values that are not workflow inputs are exempt.
    for path in ALL_YAML:
        for job in (load_yaml(path).get("jobs") or {}).values():
            for step in rules.steps(job):
                assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name', step.get('run'))}"


# --- Dependabot -----------------------------------------------------------------------------------------
def test_dependabot_watches_every_ecosystem_the_project_pins():
    config = yaml.safe_load((GITHUB_DIR / "dependabot.yml").read_text(encoding="utf-8"))
    watched = {
        (update["package-ecosystem"], directory)
        for update in config["updates"]
        for directory in update.get("directories", [update.get("directory")])
    }
    assert {
        ("pip", "/"),
        ("pip", "/lambda_fn"),
        ("npm", "/"),
        ("github-actions", "/"),
        ("github-actions", "/.github/actions/*"),
        ("docker", "/lambda_fn"),
    } <= watched
    assert all(update["schedule"]["interval"] for update in config["updates"])


def test_the_composite_setup_action_runs_the_projects_own_setup():
    action = load_yaml(GITHUB_DIR / "actions" / "setup-project" / "action.yml")
    assert action["runs"]["using"] == "composite"
    runs = [s.get("run", "") for s in action["runs"]["steps"]]
    assert "./scripts/setup" in runs
    assert Path(REPO_ROOT / "scripts" / "setup").is_file()
