"""The model diff on pairs of real artifacts trained here: the same model (no change), another seed (changes
within their uncertainty), and a deliberately worse model (changes beyond it); its Markdown is tables and
its JSON what a machine reads; the command's exit status says whether a caller would see the change."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from model.core.artifact import ModelArtifact
from model.sdk import diff
from model.sdk.cli import main
from model.sdk.usage import EXIT_DIFFERENT, EXIT_OK
from model.train.artifact_file import write_artifact_atomically
from model.train.dataset import load_dataset
from model.train.pipeline import TrainingConfig, train


@pytest.fixture(scope="module")
def other_seed() -> ModelArtifact:
    return train(TrainingConfig(seed=1), load_dataset()).artifact


def worse(artifact: ModelArtifact) -> ModelArtifact:
    """The same model, answering 30 higher, with the figures such a shift would earn: every error larger and
    every share of variance explained smaller than the other model's whole confidence interval."""
    estimates = dict(artifact.metrics.estimates)
    for name, by in {"holdout_rmse": 25.0, "cv_rmse": 25.0, "cv_mae": 20.0, "cv_r2": -0.25}.items():
        e = estimates[name]
        estimates[name] = dataclasses.replace(e, value=e.value + by, low=e.low + by, high=e.high + by)
    coefficients = dataclasses.replace(artifact.coefficients, intercept=artifact.coefficients.intercept + 30)
    metrics = dataclasses.replace(artifact.metrics, estimates=estimates)
    return dataclasses.replace(
        artifact, coefficients=coefficients, metrics=metrics, model_version="bmi-linear-worse00000"
    )


def test_the_same_model_changes_nothing(model_artifact):
    same = diff.compare(model_artifact, model_artifact)
    assert not same.visible
    assert all(f.worsening == 0 and not f.beyond_uncertainty for f in same.figures)
    assert same.largest() == []
    assert "**No change a caller would see.**" in diff.markdown(same)


def test_every_figure_the_trainer_estimates_is_one_the_diff_knows(model_artifact):
    # An unknown figure would be shown by its key and judged "lower is better"
    assert set(model_artifact.metrics.estimates) == set(diff.FIGURES)


def test_another_seed_changes_within_the_uncertainty(model_artifact, other_seed):
    reseeded = diff.compare(model_artifact, other_seed)
    assert reseeded.visible, "another version, and bounds that move a little"
    assert {f.name for f in reseeded.figures} >= {
        "holdout_r2",
        "cv_r2",
        "cv_rmse",
        "auroc",
        "calibration_slope",
    }
    assert not [f.name for f in reseeded.figures if f.beyond_uncertainty]
    assert max(a.size for a in reseeded.answers) < 10, "the same line: the intervals move, not the model"


def test_a_deliberately_worse_model_is_flagged_beyond_the_uncertainty(model_artifact):
    degraded = diff.compare(model_artifact, worse(model_artifact))
    beyond = {f.name for f in degraded.figures if f.beyond_uncertainty}
    assert beyond == {"holdout_rmse", "cv_rmse", "cv_mae", "cv_r2"}
    assert all(f.worsening > 0 for f in degraded.figures if f.name in beyond)
    (first, *_) = degraded.largest()
    assert first.size == pytest.approx(30, abs=1)
    assert "| RMSE, cross-validated |" in diff.markdown(degraded)


def table_rows(text: str) -> list[list[list[str]]]:
    """The Markdown's tables, each a list of rows of cells."""
    tables: list[list[list[str]]] = []
    previous_blank = True
    for line in text.splitlines():
        if line.startswith("|"):
            if previous_blank:
                tables.append([])
            tables[-1].append([cell.strip() for cell in line.strip("|").split("|")])
        previous_blank = not line.startswith("|")
    return tables


def test_the_markdown_renders_as_tables(model_artifact, other_seed):
    tables = table_rows(diff.markdown(diff.compare(model_artifact, other_seed)))
    assert len(tables) == 4  # provenance, figures, coverage by group, answers on the grid
    for table in tables:
        header, rule, *body = table
        assert set("".join(rule)) == {"-"}, "the second row of a table is its rule"
        assert body
        assert all(len(row) == len(header) for row in body)
    answers = tables[-1]
    assert [row[0] for row in answers[2:]] == [f"{bmi:g}" for bmi in diff.GRID]
    assert (diff.GRID[0], diff.GRID[-1]) == (10, 100)


def test_the_json_says_what_changed_for_machines(model_artifact, other_seed):
    document = json.loads(json.dumps(diff.as_json(diff.compare(model_artifact, other_seed))))
    assert document["visible_change"] is True
    assert document["old"]["model_version"] == model_artifact.model_version
    assert {f["name"] for f in document["figures"]} == set(model_artifact.metrics.estimates)
    assert len(document["answers"]) == len(diff.GRID)


def test_the_command_exits_0_for_no_visible_change_and_6_for_one(
    model_artifact, other_seed, tmp_path, capsys
):
    write_artifact_atomically(model_artifact, tmp_path / "a.json")
    write_artifact_atomically(other_seed, tmp_path / "b.json")
    assert main(["diff", str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == EXIT_OK
    assert capsys.readouterr().out.startswith("## Model diff")
    assert main(["diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json"]) == EXIT_DIFFERENT == 6
    assert json.loads(capsys.readouterr().out)["visible_change"] is True


def test_an_unusable_artifact_is_one_line_and_exit_1(model_artifact, tmp_path, capsys):
    write_artifact_atomically(model_artifact, tmp_path / "a.json")
    (tmp_path / "broken.json").write_text("{}")
    assert main(["diff", str(tmp_path / "a.json"), str(tmp_path / "broken.json")]) == 1
    assert capsys.readouterr().err.startswith("diabetes-progression: error: ")


def test_a_path_that_is_not_an_artifact_is_refused(model_artifact, tmp_path):
    assert main(["diff", str(Path("/nonexistent/a.json")), str(tmp_path / "b.json")]) == 1
