"""The model diff on hostile artifacts that still load (checksummed, within the serving policy): no figure
at all, figures at the ends of the float range, strings made of terminal escapes, and a change the BMI grid
does not sample. Each is one answer with a documented status, never a traceback or non-standard JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from model.core.artifact import Estimate, ModelArtifact
from model.sdk.cli import main
from model.sdk.usage import EXIT_OK
from model.train.artifact_file import write_artifact_atomically

LARGEST = 1.7e308


def saved(artifact: ModelArtifact, path: Path) -> str:
    write_artifact_atomically(artifact, path)  # resealed: the checksum is that of the edited content
    return str(path)


def with_estimates(artifact: ModelArtifact, estimates: dict[str, Estimate]) -> ModelArtifact:
    return dataclasses.replace(artifact, metrics=dataclasses.replace(artifact.metrics, estimates=estimates))


def strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"not standard JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_an_artifact_without_figures_is_compared_not_an_internal_error(model_artifact, tmp_path, capsys):
    bare = saved(with_estimates(model_artifact, {}), tmp_path / "bare.json")
    for pair in ([bare, bare], [saved(model_artifact, tmp_path / "a.json"), bare]):
        assert main(["diff", *pair]) == EXIT_OK
        out, err = capsys.readouterr()
        assert out.startswith("## Model diff")
        assert err == ""
