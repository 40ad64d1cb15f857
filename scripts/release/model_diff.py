"""A pull request's model diff: the base branch's model and this change's, compared for people.

The base's is trained here from its own commit (never downloaded from a deployment); the summary goes to the
job summary. A base whose artifact this version cannot read (an older schema) is said so, and the new model
shown alone.

    python -m scripts.release.model_diff --base <commit> --new <artifact> --summary "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from model.core.artifact import ArtifactError, ModelArtifact
from model.core.serving import load_artifact
from model.sdk import diff
from scripts import REPO_ROOT
from scripts.release import ReleaseError, run


def base_artifact(commit: str, directory: Path) -> Path:
    """Trains ``commit`` in a worktree of its own, by its own trainer: the commit's own code, data and
    configuration. Returns its artifact."""
    worktree, artifact = directory / "base", directory / "base-model.json"
    add = ["git", "worktree", "add", "--detach", str(worktree), commit]
    if (added := subprocess.run(add, cwd=REPO_ROOT, capture_output=True, text=True, check=False)).returncode:
        raise ReleaseError(f"cannot check out {commit}: {added.stderr.strip()}")
    try:
        command = [sys.executable, "-m", "model.train", "--out", str(artifact)]
        result = subprocess.run(command, cwd=worktree, capture_output=True, text=True, check=False)
        if result.returncode:
            raise ReleaseError(
                f"training {worktree} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
            )
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO_ROOT, check=False)
    return artifact


def summary(base: Path, candidate: ModelArtifact, commit: str) -> str:
    try:
        old = load_artifact(base)
    except ArtifactError as error:
        alone = diff.markdown(diff.compare(candidate, candidate))
        return (
            f"## Model diff\n\nThe base branch's model ({commit[:12]}) cannot be read by this version "
            f"({error}); this change trains `{candidate.model_version}`:\n\n{alone}"
        )
    return diff.markdown(diff.compare(old, candidate))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the base branch's commit")
    parser.add_argument("--new", type=Path, required=True, help="this change's artifact")
    parser.add_argument("--summary", type=Path, help="append the Markdown here (the job summary)")
    args = parser.parse_args(argv)
    try:  # before the minutes the base's training takes
        candidate = load_artifact(args.new)
    except ArtifactError as error:
        raise ReleaseError(str(error)) from error
    with tempfile.TemporaryDirectory() as work:
        text = summary(base_artifact(args.base, Path(work)), candidate, args.base)
    print(text)
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    run(main)
