"""A pull request's model diff: the base commit trained in a worktree of its own, with its own code, and
compared with this change's model, into the job summary; an unreadable base is said so."""

from __future__ import annotations

import subprocess

import pytest

from model.train.artifact_file import write_artifact_atomically
from scripts import REPO_ROOT
from scripts.release import ReleaseError, model_diff
from tests.unit.model.test_diff import worse


@pytest.mark.slow
def test_the_base_commit_is_trained_from_its_own_checkout_and_compared(model_artifact, tmp_path, capsys):
    # Given this change's model, deliberately worse than what HEAD trains
    write_artifact_atomically(worse(model_artifact), tmp_path / "new.json")
    summary = tmp_path / "summary.md"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )

    # When the pull request's step runs against HEAD as its base
    model_diff.main(
        ["--base", head.stdout.strip(), "--new", str(tmp_path / "new.json"), "--summary", str(summary)]
    )

    # Then the summary holds the diff of HEAD's own model and the new one, and no worktree is left behind
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## Model diff: `")
    assert "→ `bmi-linear-worse00000`" in text
    assert "**Answers change.**" in text
    assert text == capsys.readouterr().out.rstrip("\n") + "\n"
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert str(tmp_path) not in worktrees.stdout


def test_a_base_this_version_cannot_read_is_said_so(model_artifact, tmp_path):
    (tmp_path / "old.json").write_text('{"schema_version": 2}')
    text = model_diff.summary(tmp_path / "old.json", model_artifact, "0123456789abcdef")
    assert "The base branch's model (0123456789ab) cannot be read by this version (" in text
    assert f"this change trains `{model_artifact.model_version}`" in text


def test_an_unreadable_new_artifact_stops_the_step_before_the_base_is_trained(tmp_path, monkeypatch):
    monkeypatch.setattr(model_diff, "base_artifact", lambda *_: pytest.fail("trained the base first"))
    with pytest.raises(ReleaseError, match="model artifact not found at"):
        model_diff.main(["--base", "HEAD", "--new", str(tmp_path / "missing.json")])
