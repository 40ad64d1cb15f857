"""The prediction interval: the conformal machinery, its coverage per group on this data, and the calibration
gates that refuse a miscalibrated one."""

from __future__ import annotations

import bisect
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from model.core import prediction
from model.core.artifact import INTERVAL_LEVEL, MIN_GATED_GROUP, WHO_GROUPS, ModelArtifact
from model.core.schemas import BatchPredictRequest
from model.core.serving import calibration_groups
from model.sdk import cli
from model.train import command, conformal
from model.train.conformal import (
    PAC_CONFIDENCE,
    PAC_DELTA,
    binomial_tail,
    calibrate,
    conformal_rank,
    covered,
    nested_cross_validation,
    outcome_range,
    pac_rank,
    quantile_edges,
)
from model.train.dataset import load_dataset
from model.train.evaluation import closed_form
from model.train.pipeline import CV_FOLDS, NESTED_REPEATS, TrainingConfig, train


def test_the_recorded_coverage_of_every_group_is_the_nested_cross_validation(model_artifact: ModelArtifact):
    # Given the training rows and the trainer's own functions (folds, seeds and fit as the trainer uses them)
    x, y = load_dataset().train.x, load_dataset().train.y
    nested = nested_cross_validation(
        x, y, closed_form, folds=CV_FOLDS, seed=0, repeats=NESTED_REPEATS, level=INTERVAL_LEVEL
    )
    # Then every group's share and expected coverage in the artifact is that measurement, and each clears the
    # lower gate (the WHO overweight group covered 0.84 with the interval this one replaced)
    interval = model_artifact.interval
    for group, (name, low, high) in zip(interval.coverage, calibration_groups(interval.edges), strict=True):
        rows = (x >= low) & (x < high)
        assert (group.group, group.n) == (name, int(rows.sum()))
        assert group.coverage == pytest.approx(nested.covered[rows].mean(), abs=1e-12)
        assert group.expected == pytest.approx(nested.expected[rows].mean(), abs=1e-12)
        assert group.coverage >= INTERVAL_LEVEL - 0.03, name
    assert [g.group for g in interval.coverage[-3:]] == [name for name, _, _ in WHO_GROUPS]


def test_the_served_bands_are_training_tertiles_calibrated_on_every_training_row(
    model_artifact: ModelArtifact,
):
    x, y = load_dataset().train.x, load_dataset().train.y
    mondrian, _ = calibrate(x, y, closed_form, folds=CV_FOLDS, seed=0, level=INTERVAL_LEVEL)
    interval = model_artifact.interval
    assert list(interval.edges) == mondrian.edges == [24.05, 27.85]
    assert [b.n for b in interval.bands] == mondrian.counts.tolist() == [138, 142, 142]
    assert [b.rank for b in interval.bands] == [128, 132, 132]  # the marginal ranks are 126, 129, 129
    assert [b.half_width for b in interval.bands] == mondrian.half_widths.tolist()
    assert not set(interval.edges) & set(x.tolist())  # no training BMI sits on an edge
    # Wider where the errors spread more: lean patients' interval is the narrowest
    assert interval.bands[0].half_width < interval.bands[1].half_width < interval.bands[2].half_width


@pytest.mark.parametrize(("n", "bands"), [(150, 1), (250, 2), (422, 3), (5000, 3)])
def test_every_band_holds_at_least_100_training_rows(n: int, bands: int):
    x = np.round(np.random.default_rng(n).normal(26, 4, size=n), 1)
    edges = quantile_edges(x, parts=conformal.MAX_BANDS, min_rows=conformal.MIN_BAND_ROWS)
    assert len(edges) + 1 == bands
    assert np.bincount(conformal.band_of(edges, x)).min() >= conformal.MIN_BAND_ROWS


@pytest.mark.parametrize("n", [19, 99, 138, 422])
def test_the_marginal_rank_keeps_its_finite_sample_promise(n: int):
    # Given n + 1 exchangeable scores, many times over
    rng = np.random.default_rng(7)
    draws = 20_000
    scores = np.sort(rng.exponential(size=(draws, n)), axis=1)
    new = rng.exponential(size=draws)
    for level in (0.5, 0.8, INTERVAL_LEVEL):
        # When a new score is compared with the ceil((n + 1) * level)-th smallest of the first n
        share = float(np.mean(new <= scores[:, conformal_rank(n, level) - 1]))
        # Then it falls inside with probability in [level, level + 1 / (n + 1)] (up to Monte Carlo error)
        slack = 4 * np.sqrt(level * (1 - level) / draws)
        assert level - slack <= share <= level + 1 / (n + 1) + slack, (n, level, share)


@pytest.mark.parametrize(
    ("n", "k", "t"), [(138, 128, 0.88), (142, 132, 0.88), (422, 383, 0.88), (50, 49, 0.5)]
)
def test_the_binomial_tail_is_the_beta_law_of_an_order_statistic(n: int, k: int, t: float):
    beta = pytest.importorskip("scipy.stats").beta
    assert binomial_tail(n, t, k) == pytest.approx(beta.cdf(t, k, n + 1 - k), rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("n", [112, 138, 300])
def test_the_training_conditional_rank_keeps_its_promise(n: int):
    # Given many calibration sets of n exchangeable scores, and the true coverage of the PAC rank's score
    rng = np.random.default_rng(n)
    k = pac_rank(n, INTERVAL_LEVEL)
    true_coverage = 1 - np.exp(-np.sort(rng.exponential(size=(20_000, n)), axis=1)[:, k - 1])
    # Then it falls below level - delta at most 1 - confidence of the time, and k is the smallest such rank
    below = float(np.mean(true_coverage < INTERVAL_LEVEL - PAC_DELTA))
    assert below <= 1 - PAC_CONFIDENCE + 0.006
    assert binomial_tail(n, INTERVAL_LEVEL - PAC_DELTA, k - 1) > 1 - PAC_CONFIDENCE
    assert conformal_rank(n, INTERVAL_LEVEL) <= k <= n


def test_on_heteroscedastic_data_every_band_is_covered():
    # Given synthetic patients whose noise grows with BMI (where one half-width would over-cover the lean ones
    # and under-cover the heavy ones)
    rng = np.random.default_rng(3)
    x = np.round(rng.uniform(18, 42, size=3000), 1)
    y = 10 * x - 110 + rng.normal(size=x.size) * 2.5 * (x - 10)
    nested = nested_cross_validation(x, y, closed_form, folds=5, seed=0, repeats=1, level=INTERVAL_LEVEL)
    mondrian, _ = calibrate(x, y, closed_form, folds=5, seed=0, level=INTERVAL_LEVEL)
    for band in range(len(mondrian.edges) + 1):
        rows = conformal.band_of(mondrian.edges, x) == band
        assert INTERVAL_LEVEL - 0.02 <= nested.covered[rows].mean() <= nested.expected[rows].mean() + 0.03


def test_the_vectorised_served_rule_is_the_function_s_own(model_artifact: ModelArtifact):
    # Coverage is measured after rounding and clipping: conformal.covered must be the served answer's test
    data = load_dataset()
    bmis = np.concatenate([data.bmi, np.linspace(10, 100, 901)])
    y = np.resize(data.target, bmis.size)
    answer = prediction.respond_batch(model_artifact, BatchPredictRequest(bmi=bmis.tolist()))[0]
    lower, upper = np.array(answer["intervals"]["lower"]), np.array(answer["intervals"]["upper"])
    slope, intercept = model_artifact.coefficients.slope, model_artifact.coefficients.intercept
    halves = np.array(
        [
            model_artifact.interval.bands[bisect.bisect_right(model_artifact.interval.edges, b)].half_width
            for b in bmis
        ]
    )
    distance = np.array(answer["extrapolation_distance"])
    half = halves + model_artifact.interval.extrapolation_widening * distance
    outcome = (model_artifact.outcome.low, model_artifact.outcome.high)
    assert (
        covered(y, slope * bmis + intercept, half, outcome).tolist() == ((y >= lower) & (y <= upper)).tolist()
    )
    assert outcome == outcome_range(data.train.y) == (0.0, 379.0)


@pytest.mark.parametrize("rows", ["training", "all"])
def test_in_sample_every_who_group_of_50_patients_is_covered_at_least_0_87(
    model_artifact: ModelArtifact, rows: str
):
    data = load_dataset()
    x, y = (data.train.x, data.train.y) if rows == "training" else (data.bmi, data.target)
    answer = prediction.respond_batch(model_artifact, BatchPredictRequest(bmi=x.tolist()))[0]
    inside = (y >= answer["intervals"]["lower"]) & (y <= answer["intervals"]["upper"])
    for name, low, high in WHO_GROUPS:
        group = (x >= low) & (x < high)
        assert group.sum() >= MIN_GATED_GROUP
        assert inside[group].mean() >= INTERVAL_LEVEL - 0.03, name


# --- The calibration gates -----------------------------------------------------------------------------
def scaled(monkeypatch: pytest.MonkeyPatch, factors: list[float]) -> None:
    """A bug that multiplies each band's half-width by its factor, wherever an interval is built."""
    real = conformal.mondrian

    def broken(x, absolute, level):
        built = real(x, absolute, level)
        return dataclasses.replace(built, half_widths=built.half_widths * np.array(factors))

    monkeypatch.setattr(conformal, "mondrian", broken)


@pytest.mark.parametrize(
    ("factors", "failing"),
    [
        ([0.8, 0.8, 0.8], {("all patients", ">="), ("band 0", ">="), ("band 1", ">="), ("band 2", ">=")}),
        ([1.3, 1.3, 1.3], {("all patients", "<="), ("band 0", "<="), ("band 1", "<="), ("band 2", "<=")}),
        # Only the middle band too narrow: the overall share passes, its band and the WHO overweight do not
        ([1.0, 0.75, 1.0], {("band 1", ">="), ("WHO 25", ">=")}),
    ],
    ids=["too narrow", "too wide", "one band too narrow"],
)
def test_a_miscalibrated_interval_fails_its_calibration_gates(monkeypatch, factors, failing):
    scaled(monkeypatch, factors)
    artifact = train(TrainingConfig(), load_dataset()).artifact
    failed = {(gate.name, gate.comparison) for gate in artifact.failed_gates()}
    assert all(name.startswith("calibration: ") for name, _ in failed)
    for group, side in failing:
        assert any(name.startswith(f"calibration: {group}") and s == side for name, s in failed), (
            group,
            side,
        )
    if "WHO 25" in {group for group, _ in failing}:
        assert not any(name == "calibration: all patients" for name, _ in failed)


def test_a_miscalibrated_interval_via_the_cli_writes_no_artifact(monkeypatch, capsys, tmp_path: Path):
    scaled(monkeypatch, [1.0, 0.75, 1.0])
    out = tmp_path / "model.json"
    assert cli.main(["train", "--out", str(out)]) == command.EXIT_GATE_FAILED
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("gate failed, no artifact written: calibration: band 1")
    assert not out.exists()
