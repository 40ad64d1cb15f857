"""The rules the delivery workflows must keep, as functions that return what breaks them.

Each rule returns a list of human-readable problems (empty when the rule holds), so the tests can show
that the real workflows satisfy every rule *and* that each rule catches a workflow that breaks it.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import yaml

# owner/repo[/path]@<40 hex> followed by a version comment such as `# v5.0.0`.
PINNED_USES: Final = re.compile(
    r"^\s*(?:-\s*)?uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>[0-9a-f]{40})\s+#\s*v\d+\.\d+\.\d+\s*$"
)
ANY_USES: Final = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<target>\S+)")
AWS_ACCESS_KEY_ID: Final = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
# A literal secret key: 40 base64 characters assigned to something named like an AWS secret.
AWS_SECRET_KEY: Final = re.compile(
    r"(?i)aws.{0,20}secret.{0,20}[:=]\s*['\"]?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
)
CONFIGURE_AWS: Final = "aws-actions/configure-aws-credentials@"
ALLOWED_PERMISSIONS: Final = {"contents": "read", "id-token": "write"}


def jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return workflow["jobs"]


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def ancestors(workflow: dict[str, Any], job_id: str) -> set[str]:
    """Every job that must finish before `job_id` starts (the transitive closure of `needs`)."""
    seen: set[str] = set()
    pending = needs(jobs(workflow)[job_id])
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending += needs(jobs(workflow)[current])
    return seen


def run_text(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def step_index(job: dict[str, Any], predicate: Any) -> int:
    """Index of the first step matching `predicate`, or -1."""
    return next((i for i, step in enumerate(steps(job)) if predicate(step)), -1)


def assumes_a_role(job: dict[str, Any]) -> bool:
    return any(str(step.get("uses", "")).startswith(CONFIGURE_AWS) for step in steps(job))


def checks_out(job: dict[str, Any]) -> bool:
    return any(str(step.get("uses", "")).startswith("actions/checkout@") for step in steps(job))


# --- Rules ---------------------------------------------------------------------------------------------
def chain_problems(workflow: dict[str, Any], order: list[str]) -> list[str]:
    """Each job in `order` needs the one before it, directly or through others."""
    return [
        f"{later} does not wait for {earlier}"
        for earlier, later in itertools.pairwise(order)
        if earlier not in ancestors(workflow, later)
    ]


def permission_problems(workflow: dict[str, Any], directory: Path) -> list[str]:
    """Top-level `permissions: {}`; per job, contents: read only with a checkout and id-token: write only
    with a role to assume, and nothing else; a job calling a workflow of this repository grants exactly what
    that workflow's jobs need (they cannot get more)."""
    found = [] if workflow.get("permissions") == {} else ["top-level permissions are not {}"]
    for job_id, job in jobs(workflow).items():
        granted = job.get("permissions")
        if not isinstance(granted, dict):
            found.append(f"{job_id}: no explicit permissions map")
            continue
        if str(job.get("uses", "")).startswith("./.github/workflows/"):
            called = load_yaml(directory / Path(job["uses"]).name)
            needed = {s: v for j in jobs(called).values() for s, v in (j.get("permissions") or {}).items()}
            if granted != needed:
                found.append(f"{job_id}: grants {granted}, its workflow needs {dict(sorted(needed.items()))}")
            continue
        for scope, level in granted.items():
            if ALLOWED_PERMISSIONS.get(scope) != level:
                found.append(f"{job_id}: permission {scope}: {level} is not needed")
        if ("id-token" in granted) != assumes_a_role(job):
            found.append(f"{job_id}: id-token: write must be granted exactly where a role is assumed")
        if "uses" not in job and ("contents" in granted) != checks_out(job):
            found.append(f"{job_id}: contents: read must be granted exactly where the job checks out")
    return found


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as the boolean True; give it back its name.
    if True in document:
        document["on"] = document.pop(True)
    return dict(document)


def timeout_problems(workflow: dict[str, Any]) -> list[str]:
    """Every job that runs steps has a timeout: minutes, or a number computed from the stage's settings
    (``fromJSON(needs...)``). A job that calls a reusable workflow cannot set one: its jobs carry them."""
    return [
        f"{job_id}: no timeout-minutes"
        for job_id, job in jobs(workflow).items()
        if "uses" not in job
        and not isinstance(timeout := job.get("timeout-minutes"), int)
        and not re.fullmatch(r"\$\{\{ fromJSON\(needs\.\w+\.outputs\.\w+\) \}\}", str(timeout))
    ]


def uses_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if ANY_USES.match(line):
            yield number, line


def pin_problems(text: str, source: str) -> list[str]:
    """Every third-party `uses:` is pinned to a 40-hex commit SHA with its version in a comment."""
    found = []
    for number, line in uses_lines(text):
        target = ANY_USES.match(line)["target"]  # type: ignore[index]
        if target.startswith("./"):
            continue  # an action or workflow of this repository, at this commit
        if not PINNED_USES.match(line):
            found.append(f"{source}:{number}: {line.strip()!r} is not pinned to a full SHA with `# vX.Y.Z`")
    return found


def secret_problems(text: str, source: str) -> list[str]:
    found = [f"{source}: looks like an AWS access key id" for _ in AWS_ACCESS_KEY_ID.finditer(text)]
    found += [f"{source}: looks like an AWS secret access key" for _ in AWS_SECRET_KEY.finditer(text)]
    if re.search(r"aws-(access-key-id|secret-access-key|session-token)\s*:", text):
        found.append(f"{source}: passes static AWS keys to configure-aws-credentials (OIDC roles only)")
    if "secrets." in text:
        found.append(f"{source}: reads a repository secret; delivery needs none")
    return found


def deploy_concurrency_problems(job: dict[str, Any], environment: str) -> list[str]:
    group = job.get("concurrency") or {}
    found = []
    if not isinstance(group, dict) or environment not in str(group.get("group", "")):
        found.append(f"concurrency group of the {environment} deployment does not name {environment}")
    elif group.get("cancel-in-progress") is not False:
        found.append(f"the {environment} deployment may be cancelled in progress")
    return found


def environment_name(job: dict[str, Any]) -> str | None:
    value = job.get("environment")
    return value.get("name") if isinstance(value, dict) else value


def command_arguments(run: str, command: str, env: dict[str, str]) -> list[str]:
    """The arguments after ``command`` of a step's one-command ``run``, as the runner's bash expands them
    (quotes, variables): the suite runs the very command line a workflow runs."""
    assert run.strip().startswith(command), run
    assert "\n" not in run.strip(), "one command per step"
    printf = ["bash", "-c", f'printf "%s\\0" {run.strip().removeprefix(command)}']
    printed = subprocess.run(printf, env=env, capture_output=True, check=True)
    return printed.stdout.decode().split("\0")[:-1]


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in {".yml", ".yaml"})
