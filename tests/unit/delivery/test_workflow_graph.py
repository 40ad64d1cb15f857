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

from infra_cdk.settings import STAGES
from scripts.release import plan as release_plan
from tests.unit.delivery import workflow_rules as rules
from tests.unit.delivery.conftest import GITHUB_DIR, REPO_ROOT, WORKFLOW_DIR
from tests.unit.delivery.workflow_rules import load_yaml

STAGE_JOBS = [stage.slug for stage in STAGES]  # one job per stage, named by its slug
RELEASE_ORDER = ["checks", "train", "image", "synth", *STAGE_JOBS]
DIGEST_OUTPUT = "${{ needs.image.outputs.digest }}"
FINGERPRINT_OUTPUT = "${{ needs.synth.outputs.fingerprint }}"
DEPLOY_STAGE = "./.github/workflows/deploy-stage.yml"
ALL_YAML = rules.files(GITHUB_DIR)
WORKFLOWS = sorted(p.name for p in WORKFLOW_DIR.glob("*.yml"))


@pytest.fixture(scope="session")
def deploy_stage() -> dict[str, Any]:
    return load_yaml(WORKFLOW_DIR / "deploy-stage.yml")


def uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


def step_running(job: dict[str, Any], command: str) -> int:
    return rules.step_index(job, lambda s: command in str(s.get("run", "")))


# --- The promotion graph: the stages of infra_cdk/settings.py, in order ---------------------------------
def test_release_runs_on_main_and_on_demand_only(release):
    assert release["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}


def test_release_jobs_are_strictly_ordered(release):
    # Given the release's jobs
    # Then each one waits for the one before it, and there is no other job to run beside them
    assert rules.chain_problems(release, RELEASE_ORDER) == []
    assert sorted(rules.jobs(release)) == sorted(RELEASE_ORDER)


def test_every_stage_of_the_settings_is_one_call_of_the_deploy_workflow_in_the_settings_order(release):
    calls = [(job_id, job) for job_id, job in rules.jobs(release).items() if job.get("uses") == DEPLOY_STAGE]
    assert [job["with"]["stage"] for _, job in calls] == [stage.name for stage in STAGES]
    assert [job_id for job_id, _ in calls] == STAGE_JOBS
    for job_id, job in calls:
        # The same digest and assembly for every stage, and nothing else: the rest comes from the settings
        assert job["with"] == {
            "stage": job["with"]["stage"],
            "digest": DIGEST_OUTPUT,
            "fingerprint": FINGERPRINT_OUTPUT,
        }
        assert {"image", "synth"} <= set(rules.needs(job)), job_id


def test_a_release_without_the_staging_gate_is_caught(release):
    broken = copy.deepcopy(release)
    broken["jobs"]["production"]["needs"] = ["image", "synth"]
    assert rules.chain_problems(broken, RELEASE_ORDER) == ["production does not wait for staging"]


def test_production_runs_after_reviewers_approve_or_only_when_started_by_hand(release):
    production, staging = (rules.jobs(release)[j] for j in ("production", "staging"))
    assert (
        production["if"] == "github.event_name == 'workflow_dispatch' || vars.PRODUCTION_GATE == 'reviewers'"
    )
    assert "if" not in staging
    assert "workflow_dispatch" in release["on"]


# --- One image, built and tested once, with the commands the test suite runs on real engines -----------
def test_the_image_is_built_once_into_an_archive_then_tested_and_kept_a_day(release):
    image = rules.jobs(release)["image"]
    builds = [
        job_id
        for job_id, job in rules.jobs(release).items()
        if "scripts.release.image build" in rules.run_text(job)
    ]
    assert builds == ["image"], "exactly one image build in the release"
    order = [
        rules.step_index(image, lambda s: uses(s, "docker/setup-qemu-action")),
        rules.step_index(image, lambda s: s.get("uses") == "./.github/actions/container-tools"),
        step_running(image, "python -m scripts.release.image build --archive build/image.tar --sbom "),
        step_running(image, "python -m scripts.release.image test --image oci-archive:build/image.tar "),
        rules.step_index(
            image, lambda s: uses(s, "actions/upload-artifact") and s["with"]["name"] == "image-archive"
        ),
    ]
    assert -1 not in order
    assert order == sorted(order)
    assert image["outputs"] == {"digest": f"${{{{ steps.{image['steps'][order[2]]['id']}.outputs.digest }}}}"}
    upload = image["steps"][order[4]]["with"]
    assert (upload["path"], upload["retention-days"]) == ("build/image.tar", 1), "kept a day, not for months"
    # Building needs no AWS credentials, and no environment
    assert not rules.assumes_a_role(image)
    assert "environment" not in image


@pytest.mark.parametrize("name", WORKFLOWS)
def test_no_container_command_runs_but_through_the_projects_image_command(name):
    # The image command is what tests/integration/test_release_image.py runs on real engines; a bare
    # docker, podman, buildah or skopeo call, or Docker's build actions, would run for the first time here.
    workflow = load_yaml(WORKFLOW_DIR / name)
    for job in rules.jobs(workflow).values():
        for step in rules.steps(job):
            words = re.findall(r"[\w./-]+", step.get("run", ""))
            assert not {"docker", "podman", "buildah", "skopeo"} & set(words), step.get("name")
            assert not re.match(r"docker/(build-push|setup-buildx|login)-action@", str(step.get("uses", "")))


def test_per_release_artifacts_are_small_or_kept_a_day(release, deploy_stage, checks):
    for workflow in (release, deploy_stage, checks):
        for job in rules.jobs(workflow).values():
            for step in rules.steps(job):
                if (
                    uses(step, "actions/upload-artifact")
                    and "image" in str(step["with"]["path"])
                    and "tar" in str(step["with"]["path"])
                ):
                    assert step["with"].get("retention-days") == 1


def test_the_arm64_runner_comes_from_a_variable_with_an_x86_and_qemu_fallback(release):
    image = rules.jobs(release)["image"]
    assert image["runs-on"] == "${{ vars.ARM64_RUNNER || 'ubuntu-24.04' }}"
    qemu = rules.step_index(image, lambda s: uses(s, "docker/setup-qemu-action"))
    build = step_running(image, "scripts.release.image build")
    assert 0 <= qemu < build
    assert image["steps"][qemu]["if"] == "runner.arch != 'ARM64'"
    assert image["steps"][qemu]["with"]["platforms"] == "arm64"


def test_pull_requests_build_the_arm64_image_from_the_pinned_base_with_the_release_command(checks):
    job = rules.jobs(checks)["checks"]
    train = step_running(job, "python -m model.train")
    build = step_running(job, "python -m scripts.release.image build --archive build/image.tar")
    qemu = rules.step_index(job, lambda s: uses(s, "docker/setup-qemu-action"))
    tools = rules.step_index(job, lambda s: s.get("uses") == "./.github/actions/container-tools")
    tests = step_running(job, "./scripts/test")
    assert 0 <= train < build, "the image bundles the trained artifact"
    assert 0 <= qemu < tools < build < tests, "the container tools are ready for the build and the suite"
    assert job["steps"][build]["if"] == "github.event_name == 'pull_request'"
    assert "--platform" not in job["steps"][build]["run"], "the function's platform, arm64"
    assert job["steps"][tests]["env"] == {"IMAGE_TEST_BASE": "official"}


def test_the_assembly_is_synthesised_once_against_the_digest_for_every_stage(release):
    synth = rules.jobs(release)["synth"]
    step = next(s for s in rules.steps(synth) if "scripts.release.synth" in str(s.get("run", "")))
    assert step["env"]["DIGEST"] == DIGEST_OUTPUT
    assert step["env"]["VARIABLES"] == "${{ toJSON(vars) }}", "each stage's account from its own variable"
    assert synth["outputs"]["fingerprint"] == f"${{{{ steps.{step['id']}.outputs.fingerprint }}}}"
    (upload,) = [s["with"] for s in rules.steps(synth) if uses(s, "actions/upload-artifact")]
    assert upload == {
        "name": "cdk-assembly",
        "path": "cdk.out",
        "if-no-files-found": "error",
        "include-hidden-files": True,
    }
    for job_id, job in rules.jobs(release).items():
        if job_id != "synth":
            assert "cdk synth" not in rules.run_text(job), f"{job_id} synthesises again"


# --- One stage's job: everything that differs comes from the stage's settings ---------------------------
def test_the_plan_job_reads_the_stage_settings_and_hands_every_value_on(deploy_stage):
    plan = rules.jobs(deploy_stage)["plan"]
    (step,) = [s for s in rules.steps(plan) if "run" in s]
    assert step["run"] == 'python -m scripts.release.plan --stage "$STAGE"'
    assert step["env"] == {"STAGE": "${{ inputs.stage }}"}
    assert plan["outputs"] == {
        key: f"${{{{ steps.{step['id']}.outputs.{key} }}}}" for key in release_plan.plan(STAGES[0])
    }


def test_a_stages_job_runs_in_its_environment_for_its_timeout_under_its_own_lock(deploy_stage):
    deploy = rules.jobs(deploy_stage)["deploy"]
    assert rules.needs(deploy) == ["plan"]
    assert rules.environment_name(deploy) == "${{ needs.plan.outputs.environment }}"
    assert deploy["timeout-minutes"] == "${{ fromJSON(needs.plan.outputs.timeout_minutes) }}"
    assert deploy["concurrency"] == {
        "group": "deploy-${{ needs.plan.outputs.environment }}",
        "cancel-in-progress": False,
    }
    assert rules.deploy_concurrency_problems(deploy, "needs.plan.outputs.environment") == []


def test_a_cancellable_deployment_is_caught(deploy_stage):
    job = copy.deepcopy(rules.jobs(deploy_stage)["deploy"])
    job["concurrency"]["cancel-in-progress"] = True
    assert rules.deploy_concurrency_problems(job, "environment") != []


def test_the_role_is_the_stages_own_assumed_in_its_environment_for_the_whole_job(deploy_stage):
    deploy = rules.jobs(deploy_stage)["deploy"]
    (assume,) = [s["with"] for s in rules.steps(deploy) if uses(s, "aws-actions/configure-aws-credentials")]
    assert (
        assume["role-to-assume"] == "arn:aws:iam::${{ env.ACCOUNT }}:role/${{ needs.plan.outputs.role_name }}"
    )
    assert deploy["env"]["ACCOUNT"] == "${{ vars[needs.plan.outputs.account_variable] }}"
    assert assume["aws-region"] == "${{ needs.plan.outputs.region }}"
    assert assume["role-duration-seconds"] == "${{ fromJSON(needs.plan.outputs.session_seconds) }}"
    assert "role-chaining" not in assume
    for name in WORKFLOWS:  # no other job of any workflow assumes a role
        for job_id, job in rules.jobs(load_yaml(WORKFLOW_DIR / name)).items():
            assert not rules.assumes_a_role(job) or (name, job_id) == ("deploy-stage.yml", "deploy")


def test_a_stage_verifies_its_assembly_then_pushes_deploys_and_tests_in_that_order(deploy_stage):
    job = rules.jobs(deploy_stage)["deploy"]
    order = [
        rules.step_index(
            job, lambda s: uses(s, "actions/download-artifact") and s["with"]["name"] == "cdk-assembly"
        ),
        step_running(job, "python -m scripts.release.assembly verify"),
        rules.step_index(
            job, lambda s: uses(s, "actions/download-artifact") and s["with"]["name"] == "image-archive"
        ),
        rules.step_index(job, lambda s: uses(s, "aws-actions/configure-aws-credentials")),
        step_running(job, "python -m scripts.release.preflight"),
        step_running(job, "python -m scripts.release.image push"),
        step_running(job, "npx cdk deploy --app cdk.out"),
        step_running(job, "python -m scripts.release.stack_outputs"),
        step_running(job, "pytest tests/e2e"),
    ]
    assert -1 not in order
    assert order == sorted(order)
    steps = job["steps"]
    assert steps[order[2]]["continue-on-error"] is True, "a re-run finds the image in the registry"
    verify, push, deploy = (steps[order[i]]["run"] for i in (1, 5, 6))
    assert '--digest "$DIGEST"' in verify
    assert '--fingerprint "$FINGERPRINT"' in verify
    assert '--account "$STAGE=$ACCOUNT"' in verify
    assert '--stage "$STAGE" --archive build/image.tar' in push
    assert '--digest "$DIGEST"' in push
    assert deploy == 'npx cdk deploy --app cdk.out "$STAGE/*" --require-approval never'
    assert job["env"]["DIGEST"] == "${{ inputs.digest }}"
    assert job["env"]["FINGERPRINT"] == "${{ inputs.fingerprint }}"
    e2e = steps[order[8]]
    assert e2e["run"] == 'pytest tests/e2e -m "$PYTEST_MARKER" --junitxml="$REPORT"'
    assert e2e["env"]["E2E_STACK_NAME"] == "${{ needs.plan.outputs.stack }}"
    assert e2e["env"]["PYTEST_MARKER"] == "${{ needs.plan.outputs.pytest_marker }}"


def test_a_gating_stage_compares_the_candidate_model_with_its_own_before_anything_changes(deploy_stage):
    job = rules.jobs(deploy_stage)["deploy"]
    gate = step_running(job, "python -m scripts.release.model_gate")
    download = rules.step_index(
        job, lambda s: uses(s, "actions/download-artifact") and s["with"]["name"] == "model-artifact"
    )
    preflight, push = (
        step_running(job, c) for c in ("scripts.release.preflight", "scripts.release.image push")
    )
    assert preflight < download < gate < push, "read-only, with the stage's role, before the push and deploy"
    step = job["steps"][gate]
    assert step["run"] == (
        'python -m scripts.release.model_gate --stage "$STAGE" --candidate model/artifacts/model.json'
    )
    for index in (download, gate):
        assert job["steps"][index]["if"] == "needs.plan.outputs.model_gate == 'true'"


def test_pull_requests_get_the_model_diff_against_their_base_in_the_job_summary(checks):
    job = rules.jobs(checks)["checks"]
    train = step_running(job, "python -m model.train --out model/artifacts/model.json")
    model_diff = step_running(job, "python -m scripts.release.model_diff")
    assert 0 <= train < model_diff
    step = job["steps"][model_diff]
    assert step["if"] == "github.event_name == 'pull_request'"
    assert step["env"] == {"BASE_SHA": "${{ github.event.pull_request.base.sha }}"}
    assert (
        '--base "$BASE_SHA" --new model/artifacts/model.json --summary "$GITHUB_STEP_SUMMARY"' in step["run"]
    )
    checkout = next(s for s in rules.steps(job) if uses(s, "actions/checkout"))
    assert checkout["with"]["fetch-depth"] == "${{ github.event_name == 'pull_request' && 0 || 1 }}"


def test_the_preflight_runs_as_the_stages_role_before_anything_changes(deploy_stage):
    job = rules.jobs(deploy_stage)["deploy"]
    preflight = job["steps"][step_running(job, "python -m scripts.release.preflight")]
    # No repository: the job's own role assumption proved the trust (checked by hand before the first one)
    assert preflight["run"] == 'python -m scripts.release.preflight --stage "$STAGE"'


# --- Permissions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", WORKFLOWS)
def test_permissions_are_minimal(name):
    assert rules.permission_problems(load_yaml(WORKFLOW_DIR / name), WORKFLOW_DIR) == []


def test_excess_permissions_are_caught(release):
    broken = copy.deepcopy(release)
    broken["jobs"]["train"]["permissions"]["id-token"] = "write"
    broken["jobs"]["synth"]["permissions"]["packages"] = "write"
    del broken["jobs"]["staging"]["permissions"]["id-token"]
    broken["permissions"] = "write-all"
    assert rules.permission_problems(broken, WORKFLOW_DIR) == [
        "top-level permissions are not {}",
        "train: id-token: write must be granted exactly where a role is assumed",
        "synth: permission packages: write is not needed",
        "staging: grants {'contents': 'read'}, its workflow needs {'contents': 'read', 'id-token': 'write'}",
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
    uploaded = {s["with"]["path"] for s in rules.steps(job) if uses(s, "actions/upload-artifact")}
    # The model card, the synthesised assembly, and the browser test's screenshot of /docs.
    assert uploaded == {"build/model-report", "cdk.out", "test-results"}


def test_the_release_carries_the_trained_artifact_into_the_image_and_the_synthesis(release):
    train = rules.jobs(release)["train"]
    assert "python -m model.train --out model/artifacts/model.json" in rules.run_text(train)
    for job_id in ("image", "synth"):
        download = [
            s["with"]
            for s in rules.steps(rules.jobs(release)[job_id])
            if uses(s, "actions/download-artifact")
        ]
        assert download == [{"name": "model-artifact", "path": "model/artifacts"}], job_id


# --- Every job bounded, every action pinned, no secrets -------------------------------------------------
@pytest.mark.parametrize("name", WORKFLOWS)
def test_every_job_has_a_timeout(name):
    assert rules.timeout_problems(load_yaml(WORKFLOW_DIR / name)) == []


def test_a_job_without_a_timeout_is_caught(release):
    broken = copy.deepcopy(release)
    del broken["jobs"]["train"]["timeout-minutes"]
    assert rules.timeout_problems(broken) == ["train: no timeout-minutes"]


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
    assert len(pins) >= 7
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
