"""The prediction interval: the conformal machinery, the evidence for its shape, its coverage on this data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.core.artifact import DEFAULT_MAX_COVERAGE_ERROR, INTERVAL_LEVEL, ModelArtifact, Scale
from model.sdk import cli
from model.train import command
from model.train.conformal import (
    Calibration,
    calibrate,
    conformal_quantile,
    nested_cross_validation,
    scale_of,
)
from model.train.dataset import load_dataset
from model.train.evaluation import closed_form, out_of_fold
from model.train.pipeline import CV_FOLDS, TrainingConfig, train


def test_cross_validated_coverage_of_the_served_interval_is_within_the_gate_of_its_level(
    model_artifact: ModelArtifact,
):
    # Given the training rows and the trainer's own functions (folds, seed and fit as the trainer uses them)
    train_split = load_dataset().train
    nested = nested_cross_validation(
        train_split.x,
        train_split.y,
        closed_form,
        levels=(INTERVAL_LEVEL,),
        folds=CV_FOLDS,
        seed=TrainingConfig().seed,
    )
    # When every training row is checked against the interval built without it
    coverage = nested.coverage(INTERVAL_LEVEL)
    # Then about the level's share falls inside: the acceptance band, and what the artifact records
    assert abs(coverage - INTERVAL_LEVEL) <= DEFAULT_MAX_COVERAGE_ERROR
    assert coverage == model_artifact.interval.cv_coverage
    assert nested.covered(INTERVAL_LEVEL).sum() == round(coverage * train_split.x.size)


def test_absolute_residuals_grow_with_bmi_which_is_why_the_interval_adapts(model_artifact: ModelArtifact):
    # The measurement behind the choice of a normalised interval (see model/train/conformal.py)
    train_split = load_dataset().train
    residuals = train_split.y - out_of_fold(
        train_split.x, train_split.y, closed_form, folds=CV_FOLDS, seed=TrainingConfig().seed
    )
    # Spearman's rank correlation, and a one-sided permutation test of it (2 000 shuffles)
    x_ranks, error_ranks = ranks(train_split.x), ranks(np.abs(residuals))
    rho = float(np.corrcoef(x_ranks, error_ranks)[0, 1])
    shuffled = np.random.default_rng(0).permuted(np.tile(error_ranks, (2000, 1)), axis=1)
    null = np.array([np.corrcoef(x_ranks, row)[0, 1] for row in shuffled])
    p_value = (np.sum(null >= rho) + 1) / (null.size + 1)
    assert rho > 0
    assert p_value < 0.01
    # so the served interval is wider for a heavier patient, and the floor never binds in the training range
    interval, feature = model_artifact.interval, model_artifact.feature
    assert interval.half_width(feature.train_max) > interval.half_width(feature.train_min)
    assert interval.scale.intercept + interval.scale.slope * feature.train_min > interval.scale.floor


def ranks(values: np.ndarray) -> np.ndarray:
    # Ties broken by position: the permutation test below stays exact, since its null uses the same ranks.
    return np.argsort(np.argsort(values)).astype(float)


@pytest.mark.parametrize("n", [19, 99, 422])
def test_the_conformal_quantile_keeps_its_finite_sample_promise(n: int):
    # Given n + 1 exchangeable scores, many times over
    rng = np.random.default_rng(7)
    draws = 20_000
    scores = rng.exponential(size=(draws, n + 1))
    for level in (0.5, 0.8, INTERVAL_LEVEL):
        # When the last score is compared with the conformal quantile of the first n
        inside = [scores[i, -1] <= conformal_quantile(np.sort(scores[i, :-1]), level) for i in range(draws)]
        # Then it falls inside with probability in [level, level + 1 / (n + 1)] (up to Monte Carlo error)
        share, slack = float(np.mean(inside)), 4 * np.sqrt(level * (1 - level) / draws)
        assert level - slack <= share <= level + 1 / (n + 1) + slack, (n, level, share)


def test_too_few_scores_cannot_promise_the_level():
    # 3 scores cannot promise more than 3 in 4
    assert conformal_quantile(np.sort(np.array([1.0, 2.0, 3.0])), 0.8) == np.inf


def test_on_heteroscedastic_data_the_interval_covers_lean_and_heavy_patients_alike():
    # Given synthetic patients whose noise grows with BMI (where a constant half-width would over-cover the
    # lean ones and under-cover the heavy ones)
    rng = np.random.default_rng(3)
    x = rng.uniform(18, 42, size=3000)
    y = 10 * x - 110 + rng.normal(size=x.size) * 2.5 * (x - 10)
    # When the coverage is measured by nested cross-validation
    nested = nested_cross_validation(x, y, closed_form, levels=(0.8, INTERVAL_LEVEL), folds=5, seed=0)
    # Then it holds overall and in both halves of the BMI range
    for level in (0.8, INTERVAL_LEVEL):
        covered = nested.covered(level)
        for part in (x < 30, x >= 30, np.ones_like(x, dtype=bool)):
            assert abs(covered[part].mean() - level) < 0.03, (level, covered[part].mean())


def test_the_vectorised_scale_is_the_served_one_value_for_value():
    scale = Scale(intercept=-40.0, slope=2.5, floor=12.0)  # a line that the floor overrides below BMI 20.8
    bmis = np.array([10.0, 20.0, 20.8, 27.3, 100.0])
    assert scale_of(scale, bmis).tolist() == [scale.at(b) for b in bmis]
    assert min(scale_of(scale, bmis)) == scale.floor


def test_the_served_interval_is_calibrated_on_every_training_row(model_artifact: ModelArtifact):
    train_split = load_dataset().train
    calibration = calibrate(
        train_split.x, train_split.y, closed_form, folds=CV_FOLDS, seed=TrainingConfig().seed
    )
    assert calibration.scores.size == train_split.x.size == model_artifact.training.n_train
    assert model_artifact.interval.scale == calibration.scale
    assert model_artifact.interval.quantile == calibration.quantile(model_artifact.interval.level)


# --- The calibration gate ------------------------------------------------------------------------------
@pytest.mark.parametrize("actual", [0.75, 0.99])
def test_a_miscalibrated_interval_fails_the_calibration_gate(monkeypatch, actual: float):
    # Given a bug that builds every interval at another level than the one it is labelled with
    claimed, real = INTERVAL_LEVEL, Calibration.quantile
    monkeypatch.setattr(
        Calibration, "quantile", lambda self, level: real(self, actual if level == claimed else level)
    )
    # When training
    artifact = train(TrainingConfig(), load_dataset()).artifact
    # Then the measured coverage gives it away and only the calibration gate fails
    (failed,) = artifact.failed_gates()
    assert failed.name.startswith("calibration")
    assert abs(artifact.interval.cv_coverage - actual) < 0.03


def test_a_miscalibrated_interval_via_the_cli_writes_no_artifact(monkeypatch, capsys, tmp_path: Path):
    real = Calibration.quantile
    monkeypatch.setattr(Calibration, "quantile", lambda self, level: real(self, level - 0.15))
    out = tmp_path / "model.json"
    assert cli.main(["train", "--out", str(out)]) == command.EXIT_GATE_FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "calibration" in err
    assert not out.exists()
