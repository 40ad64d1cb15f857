"""Fail closed: a model that must not be served stops the function from starting."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lambda_fn.model_store import load_model
from model.core import contract
from model.core.artifact import ArtifactError, Gate, ModelArtifact
from model.core.serving import served_artifact_path
from model.train.artifact_file import write_artifact_atomically

REPO_ROOT = Path(__file__).resolve().parents[3]


def tampered(source: Path, target: Path) -> Path:
    document = json.loads(source.read_text())
    document["coefficients"]["slope"] *= 1.01  # a quiet edit: the checksum no longer matches
    target.write_text(json.dumps(document))
    return target


def below_gate(model: ModelArtifact, target: Path) -> Path:
    # A correctly checksummed artifact whose recorded R² does not reach the gate
    gates = tuple(
        Gate.evaluate(g.name, g.comparison, g.threshold, 0.2) if g.comparison == ">=" else g
        for g in model.metrics.gates
    )
    metrics = dataclasses.replace(model.metrics, holdout_r2=0.2, gates=gates)
    write_artifact_atomically(dataclasses.replace(model, metrics=metrics), target)
    return target


def test_the_bundled_artifact_is_the_default(
    monkeypatch: pytest.MonkeyPatch, model_artifact_path: Path
) -> None:
    monkeypatch.delenv(contract.ENV_MODEL_PATH, raising=False)
    assert served_artifact_path() == model_artifact_path
    monkeypatch.setenv(contract.ENV_MODEL_PATH, "/somewhere/else.json")
    assert served_artifact_path() == Path("/somewhere/else.json")


def test_a_valid_artifact_loads(model_artifact_path: Path, model_artifact: ModelArtifact) -> None:
    assert load_model(model_artifact_path) == model_artifact


@pytest.mark.parametrize("defect", ["missing", "not json", "tampered", "wrong schema version", "below gate"])
def test_an_unservable_artifact_is_refused(
    defect: str, tmp_path: Path, model_artifact_path: Path, model_artifact: ModelArtifact
) -> None:
    path = tmp_path / "model.json"
    if defect == "not json":
        path.write_text("{not json")
    elif defect == "tampered":
        tampered(model_artifact_path, path)
    elif defect == "wrong schema version":
        write_artifact_atomically(dataclasses.replace(model_artifact, schema_version=99), path)
    elif defect == "below gate":
        below_gate(model_artifact, path)
    with pytest.raises(ArtifactError):
        load_model(path)
