"""The model diff on hostile artifacts that still load (checksummed, within the serving policy): no figure
at all, figures at the ends of the float range, strings made of terminal escapes, and a change the BMI grid
does not sample. Each is one answer with a documented status, never a traceback or non-standard JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from model.core.artifact import Estimate, ModelArtifact
from model.sdk import diff
from model.sdk.cli import main
from model.sdk.usage import EXIT_DIFFERENT, EXIT_OK
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


def test_figures_at_the_ends_of_the_float_range_are_standard_json(model_artifact, tmp_path, capsys):
    def at(value: float) -> ModelArtifact:
        estimates = {
            name: dataclasses.replace(e, value=value, low=-LARGEST, high=LARGEST)
            for name, e in model_artifact.metrics.estimates.items()
        }
        return with_estimates(model_artifact, estimates)

    old, new = saved(at(LARGEST), tmp_path / "old.json"), saved(at(-LARGEST), tmp_path / "new.json")
    assert main(["diff", old, new, "--json"]) == EXIT_OK
    document = strict_json(capsys.readouterr().out)
    assert isinstance(document, dict)
    assert all(abs(f["worsening"]) <= 1.8e308 for f in document["figures"])


def test_an_artifact_s_strings_reach_the_terminal_escaped(model_artifact, tmp_path, capsys):
    training = dataclasses.replace(model_artifact.training, data_sha256={"\x1b]0;owned\x07": "\x1b[2J\x1b[H"})
    hostile = dataclasses.replace(model_artifact, model_version="v\x1b[31mred\x9b", training=training)
    new = saved(hostile, tmp_path / "new.json")
    assert main(["diff", saved(model_artifact, tmp_path / "old.json"), new]) == EXIT_DIFFERENT
    out = capsys.readouterr().out
    assert not {"\x1b", "\x07", "\x9b"} & set(out)
    assert "\\x1b[31mred" in out


def test_an_answer_that_changes_between_the_grid_s_bmis_is_a_visible_change(model_artifact, tmp_path):
    """The band edge 24.05 moved to 24.5: the same version and the same answers on the grid (every 5 kg/m²),
    but a caller asking for BMI 24.2 gets another interval."""
    old_edge, new_edge = "24.05", "24.5"
    interval = model_artifact.interval
    assert old_edge in {f"{edge:g}" for edge in interval.edges}
    coverage = tuple(
        dataclasses.replace(g, group=g.group.replace(old_edge, new_edge)) for g in interval.coverage
    )
    edges = tuple(float(new_edge) if f"{e:g}" == old_edge else e for e in interval.edges)
    gates = tuple(
        dataclasses.replace(g, name=g.name.replace(old_edge, new_edge)) for g in model_artifact.metrics.gates
    )
    moved = dataclasses.replace(
        model_artifact,
        interval=dataclasses.replace(interval, edges=edges, coverage=coverage),
        metrics=dataclasses.replace(model_artifact.metrics, gates=gates),
    )
    old, new = saved(model_artifact, tmp_path / "old.json"), saved(moved, tmp_path / "new.json")
    changes = diff.compare(model_artifact, moved)
    assert not any(a.size for a in changes.answers), "the grid does not sample the move"
    assert changes.visible
    assert main(["diff", old, new]) == EXIT_DIFFERENT
