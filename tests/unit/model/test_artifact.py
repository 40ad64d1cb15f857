import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from model.core import contract, prediction
from model.core.artifact import (
    CALIBRATION_GATE,
    SCHEMA_VERSION,
    ArtifactError,
    Coefficients,
    ModelArtifact,
)
from model.core.serving import load_artifact, parse_artifact
from model.train.artifact_file import write_artifact_atomically


def document(artifact: ModelArtifact) -> dict:
    return json.loads(artifact.to_json())


def resealed(doc: dict) -> str:
    """Re-computes the checksum after an edit, as an attacker who knows the format would."""
    from model.core.artifact import checksum

    body = {k: v for k, v in doc.items() if k != "sha256"}
    return json.dumps({**body, "sha256": checksum(body)})


def test_round_trips_through_json(model_artifact: ModelArtifact):
    reloaded = parse_artifact(model_artifact.to_json())
    assert reloaded == model_artifact
    assert reloaded.to_json() == model_artifact.to_json()


def test_document_has_the_documented_fields(model_artifact: ModelArtifact):
    doc = document(model_artifact)
    assert set(doc) == {
        "schema_version",
        "model_version",
        "feature",
        "outcome",
        "coefficients",
        "interval",
        "drift",
        "metrics",
        "training",
        "sha256",
    }
    assert doc["schema_version"] == SCHEMA_VERSION == 3
    assert set(doc["metrics"]) == {
        "holdout_r2",
        "holdout_mse",
        "holdout_mae",
        "train_r2",
        "train_mse",
        "optimal_train_mse",
        "cv_folds",
        "cv_repeats",
        "cv_r2_fold_sd",
        "auroc_threshold",
        "estimates",
        "gates",
    }
    # Every figure with a confidence interval, one shape for all (what a comparison of two models iterates)
    assert set(doc["metrics"]["estimates"]) == {
        *(f"{where}_{name}" for where in ("holdout", "cv") for name in ("r2", "rmse", "mae")),
        "calibration_slope",
        "calibration_intercept",
        "calibration_in_the_large",
        "spearman",
        "auroc",
    }
    for estimate in doc["metrics"]["estimates"].values():
        assert set(estimate) == {"value", "low", "high", "level", "method", "resamples", "seed"}
        assert estimate["low"] <= estimate["value"] <= estimate["high"]
    assert set(doc["interval"]) == {
        "method",
        "level",
        "guarantee",
        "pac_delta",
        "pac_confidence",
        "edges",
        "bands",
        "extrapolation_widening",
        "cv_repeats",
        "coverage",
        "holdout_coverage",
    }
    assert set(doc["outcome"]) == {"train_min", "train_max", "low", "high", "margin_fraction", "source"}
    assert (doc["outcome"]["low"], doc["outcome"]["high"]) == (0, 379)
    assert len(doc["drift"]["edges"]) == 9
    assert len(doc["drift"]["proportions"]) == 10
    assert set(doc["training"]) >= {"seed", "hyperparameters", "epochs_run", "data_sha256"}
    assert doc["model_version"].startswith("bmi-linear-")


def test_a_float_written_as_an_integer_is_refused_as_not_canonical(model_artifact: ModelArtifact):
    # Given a checksum sealed over `"train_min":18` where the trainer writes 18.0: read as the float it is,
    # served as 18.0, it could never be verified again from what GET /v1/model answers
    doc = document(model_artifact)
    doc["feature"]["train_min"] = int(doc["feature"]["train_min"])
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        parse_artifact(resealed(doc))


def test_detects_tampering(model_artifact: ModelArtifact):
    doc = document(model_artifact)
    doc["coefficients"]["slope"] *= 2
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        parse_artifact(json.dumps(doc))


def test_refuses_a_recorded_gate_verdict_that_the_value_contradicts(model_artifact: ModelArtifact):
    # Given an artifact edited to claim a failing hold-out R² passed, with a valid checksum
    doc = document(model_artifact)
    doc["metrics"]["gates"][0]["value"] = 0.1
    # Then the gate is re-evaluated and the model refused
    with pytest.raises(ArtifactError, match="failed its gates"):
        parse_artifact(resealed(doc))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema_version=1), "schema_version 1 is not supported"),
        (lambda d: d["coefficients"].update(slope="10.1"), "coefficients.slope must be a number"),
        (lambda d: d["coefficients"].update(intercept=True), "coefficients.intercept must be a number"),
        (lambda d: d["coefficients"].update(slope=10**400), "coefficients.slope must be a finite number"),
        (lambda d: d["coefficients"].pop("slope"), "coefficients.slope is required"),
        (lambda d: d["feature"].update(colour="red"), "feature.colour is not an accepted field"),
        (lambda d: d["feature"].update(name="age"), r"feature.name must be one of \['bmi'\]"),
        (lambda d: d["feature"].update(sklearn_scale=0.0), "degenerate"),
        (lambda d: d["metrics"].update(gates=[]), "quality, convergence and calibration gates once each"),
        (lambda d: d["interval"].update(method="gaussian"), r"interval.method must be one of"),
        (lambda d: d["interval"].pop("coverage"), "interval.coverage is required"),
        (lambda d: d["interval"]["bands"][0].update(half_width=0.0), "degenerate prediction interval"),
        (lambda d: d["interval"]["bands"][1].update(rank=500), "degenerate prediction interval"),
        (
            lambda d: d["interval"].update(edges=d["interval"]["edges"][::-1]),
            "degenerate prediction interval",
        ),
        (
            lambda d: d["interval"].update(edges=[50.0, 60.0]),
            "degenerate prediction interval",
        ),  # off the data
        (lambda d: d["interval"]["bands"].pop(), "degenerate prediction interval"),
        (lambda d: d["interval"]["coverage"].pop(), "degenerate prediction interval"),
        (
            lambda d: d["interval"]["coverage"][1].update(group="band 0: lean"),
            "degenerate prediction interval",
        ),
        (lambda d: d["interval"].update(extrapolation_widening=-1.0), "degenerate prediction interval"),
        (lambda d: d["interval"].update(holdout_coverage=1.5), "degenerate prediction interval"),
        (lambda d: d["outcome"].update(low=-10.0), "outcome range"),
        (lambda d: d["outcome"].update(high=300.0), "outcome range"),  # below the heaviest training outcome
        (lambda d: d["outcome"].update(high=379.5), "outcome range"),  # bounds are whole units
        (lambda d: d["drift"]["proportions"].append(0.1), "degenerate drift bins"),
        (lambda d: d["drift"]["proportions"].__setitem__(0, 0.0), "degenerate drift bins"),
        (lambda d: d["drift"]["edges"].reverse(), "degenerate drift bins"),
        (lambda d: d["metrics"]["estimates"]["cv_r2"].update(method="guess"), "method must be one of"),
        (lambda d: d["metrics"]["gates"][0].update(passed="yes"), r"gates\[0\].passed must be true or false"),
        (lambda d: d.update(training=[]), "training must be a JSON object"),
    ],
)
def test_refuses_malformed_documents(model_artifact: ModelArtifact, edit, message):
    doc = document(model_artifact)
    edit(doc)
    with pytest.raises(ArtifactError, match=message):
        parse_artifact(resealed(doc))


def test_refuses_non_finite_numbers_even_if_the_json_spells_them(model_artifact: ModelArtifact):
    text = model_artifact.to_json().replace(repr(model_artifact.coefficients.slope), "NaN", 1)
    with pytest.raises(ArtifactError, match="not valid JSON"):
        parse_artifact(text)


def test_cannot_write_a_non_finite_model(model_artifact: ModelArtifact, tmp_path: Path):
    broken = replace(model_artifact, coefficients=Coefficients(slope=float("inf"), intercept=0.0))
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_artifact_atomically(broken, tmp_path / "model.json")
    assert list(tmp_path.iterdir()) == []


def test_refuses_missing_and_non_json_files(tmp_path: Path):
    with pytest.raises(ArtifactError, match="not found"):
        load_artifact(tmp_path / "absent.json")
    (tmp_path / "garbage.json").write_bytes(b"\x00\xff garbage")
    with pytest.raises(ArtifactError, match=r"not UTF-8|not valid JSON"):
        load_artifact(tmp_path / "garbage.json")


def test_atomic_write_replaces_the_file_in_one_step(model_artifact: ModelArtifact, tmp_path: Path):
    path = tmp_path / "nested" / "model.json"
    write_artifact_atomically(model_artifact, path)
    write_artifact_atomically(model_artifact, path)
    assert load_artifact(path) == model_artifact
    assert [p.name for p in path.parent.iterdir()] == ["model.json"]


def test_written_artifact_is_readable_by_the_non_root_user_lambda_runs_images_as(
    model_artifact: ModelArtifact, tmp_path: Path
):
    path = tmp_path / "model.json"
    write_artifact_atomically(model_artifact, path)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("bmi", [10.0, 18.0, 26.4, 42.2, 100.0])
def test_scaled_units_convert_back_to_the_same_bmi(model_artifact: ModelArtifact, bmi: float):
    feature = model_artifact.feature
    assert feature.to_raw(feature.to_scaled(bmi)) == pytest.approx(bmi, rel=1e-12)
    assert feature.to_scaled(feature.sklearn_mean) == 0.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # A lowered threshold that the value then "passes": consistent, checksummed, and still refused.
        (lambda d: d["metrics"]["gates"][0].update(threshold=-1.0), "looser than the serving policy"),
        (lambda d: d["metrics"]["gates"][1].update(threshold=1.0), "looser than the serving policy"),
        (lambda d: d["metrics"]["gates"].pop(1), "quality, convergence and calibration gates once each"),
        (lambda d: d["metrics"]["gates"].append(dict(d["metrics"]["gates"][0])), "once each"),
        (lambda d: d["metrics"]["gates"][0].update(name="quality"), "once each"),
        (lambda d: d["metrics"].update(holdout_r2=0.9), "do not match the recorded metrics"),
        (lambda d: d["metrics"].update(train_mse=d["metrics"]["train_mse"] * 1.0000001), "do not match"),
        # The calibration gates: all present, no looser than the policy, about the recorded coverage
        (
            lambda d: calibration_gate(d, "band 1", ">=").update(threshold=0.8),
            "looser than the serving policy",
        ),
        (
            lambda d: calibration_gate(d, "band 2", "<=").update(threshold=0.99),
            "looser than the serving policy",
        ),
        (
            lambda d: calibration_gate(d, "WHO 25", ">=").update(comparison="<=", threshold=0.99),
            "calibration gates once each",
        ),
        (
            lambda d: d["metrics"]["gates"].remove(calibration_gate(d, "WHO 30", ">=")),
            "calibration gates once each",
        ),
        (lambda d: d["interval"]["coverage"][0].update(coverage=0.94), "do not match the recorded metrics"),
        (
            lambda d: calibration_gate(d, "band 0", ">=").update(value=0.95),
            "do not match the recorded metrics",
        ),
        (lambda d: d["interval"]["coverage"][2].update(expected=0.5), "looser than the serving policy"),
    ],
)
def test_refuses_gates_that_are_not_the_serving_policy(model_artifact: ModelArtifact, edit, message):
    doc = document(model_artifact)
    edit(doc)
    with pytest.raises(ArtifactError, match=message):
        parse_artifact(resealed(doc))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "larger than"),
        ("[" * 30_000 + "]" * 30_000, "not valid JSON"),  # nested past the parser's depth
        ('{"schema_version": ' + "9" * 5_000 + "}", "not valid JSON"),  # past CPython's integer digits
        ('{"schema_version": 1e400}', "not supported"),
        ("\xff\xfe", "not UTF-8"),
    ],
    ids=["huge", "deep", "long integer", "overflowing number", "not text"],
)
def test_malformed_artifacts_are_one_artifact_error_never_a_raw_exception(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content.encode("latin-1") if content == "\xff\xfe" else content.encode())
    with pytest.raises(ArtifactError, match=message) as raised:
        load_artifact(path)
    assert len(str(raised.value)) < 500


def test_a_path_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)  # nobody writes to it: a plain open() would wait forever
    with pytest.raises(ArtifactError, match="not a regular file"):
        load_artifact(fifo)
    with pytest.raises(ArtifactError, match="not a regular file"):
        load_artifact(tmp_path)


def calibration_gate(doc: dict, group: str, comparison: str) -> dict:
    (gate,) = [
        g
        for g in doc["metrics"]["gates"]
        if g["name"].startswith(f"{CALIBRATION_GATE}: {group}") and g["comparison"] == comparison
    ]
    return gate


@pytest.mark.parametrize(("group", "coverage"), [(0, 0.86), (2, 0.86), (4, 0.80), (1, 0.99)])
def test_refuses_an_interval_whose_cross_validated_coverage_is_off_even_when_consistent(
    model_artifact: ModelArtifact, group: int, coverage: float
):
    # Given an artifact whose interval covers too few or too many held-out patients of one group (everyone, a
    # band, the WHO overweight group), with gate values that honestly record it and a re-sealed checksum
    doc = document(model_artifact)
    entry = doc["interval"]["coverage"][group]
    entry["coverage"] = coverage
    for gate in doc["metrics"]["gates"]:
        if gate["name"] == f"{CALIBRATION_GATE}: {entry['group']}":
            gate.update(value=coverage, passed=True)
    # Then the re-evaluated gate refuses it
    with pytest.raises(ArtifactError, match=f"failed its gates: {CALIBRATION_GATE}: "):
        parse_artifact(resealed(doc))


def test_refuses_an_interval_at_another_level_than_the_policy(model_artifact: ModelArtifact):
    # Given a (checksummed, internally consistent) interval claiming 80%: narrower than what the API promises
    doc = document(model_artifact)
    doc["interval"]["level"] = 0.8
    with pytest.raises(ArtifactError, match=r"level must be 0\.9"):
        parse_artifact(resealed(doc))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["coefficients"].update(slope=1e308),  # finite, but overflows to infinity at BMI 100
        lambda d: d["coefficients"].update(slope=-1e308),
        lambda d: d["coefficients"].update(intercept=1e6),
        lambda d: d["interval"]["bands"][2].update(half_width=1e300),
    ],
    ids=["huge slope", "huge negative slope", "huge intercept", "huge interval"],
)
def test_even_an_absurd_model_answers_inside_its_outcome_range(model_artifact: ModelArtifact, edit):
    # Given a checksummed, well-typed artifact whose line or interval is absurd somewhere in 10-100 kg/m^2
    doc = document(model_artifact)
    edit(doc)
    absurd = parse_artifact(resealed(doc))
    # Then every answer is still one the outcome can take, and holds its prediction
    bmis = [contract.BMI_MIN, 27.3, contract.BMI_MAX]
    answer = prediction.respond_batch(absurd, {"bmi": bmis})[0]
    for value, lower, upper in zip(
        answer["predictions"], answer["intervals"]["lower"], answer["intervals"]["upper"], strict=True
    ):
        assert absurd.outcome.low <= lower <= value <= upper <= absurd.outcome.high


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["feature"].update(sklearn_mean=1e308),  # the legacy range: an infinity, rounded
        lambda d: d["feature"].update(sklearn_scale=1e-320),
    ],
    ids=["absurd legacy mean", "absurd legacy scale"],
)
def test_refuses_scaled_units_that_map_no_plausible_bmi(model_artifact: ModelArtifact, edit):
    doc = document(model_artifact)
    edit(doc)
    with pytest.raises(ArtifactError, match=r"scaled units \(the legacy routes' range\)"):
        parse_artifact(resealed(doc))


def test_refuses_an_outcome_without_a_range(model_artifact: ModelArtifact):
    doc = document(model_artifact)
    doc["outcome"]["train_max"] = doc["outcome"]["train_min"]
    with pytest.raises(ArtifactError, match="outcome range"):
        parse_artifact(resealed(doc))


def numeric_leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from numeric_leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from numeric_leaves(value, (*path, index))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield path


def test_any_resealed_number_is_served_or_refused_never_a_raw_exception(model_artifact: ModelArtifact):
    # Every number of the document set to an edge value (zero, negative, tiny, huge), checksum recomputed:
    # start-up either names the problem (ArtifactError, logged as a rejected model) or serves a model whose
    # every answer the outcome can take.
    original = document(model_artifact)
    bmis = [contract.BMI_MIN, 27.3, contract.BMI_MAX]
    for path in numeric_leaves(original):
        for value in (0, 0.0, -1.0, 5e-324, 1e308, -1e308):
            doc = json.loads(json.dumps(original))
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = value
            try:
                served = parse_artifact(resealed(doc))
            except ArtifactError:
                continue
            # What the function serves of it (GET /v1/model) still verifies: the release's checks recompute it
            assert served.to_document()["sha256"] == served.sha256, (path, value)
            answer = prediction.respond_batch(served, {"bmi": bmis})[0]
            intervals = answer["intervals"]
            bounds = zip(intervals["lower"], answer["predictions"], intervals["upper"], strict=True)
            assert all(served.outcome.low <= low <= y <= up <= served.outcome.high for low, y, up in bounds)
