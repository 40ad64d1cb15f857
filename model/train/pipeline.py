"""The training pipeline: fits, evaluates and gates the BMI model and builds its versioned artifact
(written only if every gate passes, by :mod:`.command`). One config in, one :class:`TrainingOutcome` out:
the artifact and what the model card (:mod:`.card`) shows beside it."""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Final

import numpy as np

from ..core.artifact import (
    CONVERGENCE_GATE,
    DEFAULT_MAX_CONVERGENCE_GAP,
    DEFAULT_MAX_COVERAGE_ERROR,
    DEFAULT_MIN_R2,
    FEATURE_NAME,
    FEATURE_UNIT,
    INTERVAL_LEVEL,
    INTERVAL_METHOD,
    QUALITY_GATE,
    SCHEMA_VERSION,
    Band,
    Coefficients,
    Drift,
    Feature,
    Gate,
    GroupCoverage,
    Metrics,
    ModelArtifact,
    Outcome,
    PredictionInterval,
    Training,
    model_version_for,
)
from ..core.serving import calibration_groups, calibration_requirements
from . import conformal
from .conformal import OUTCOME_MARGIN, PAC_CONFIDENCE, PAC_DELTA, NestedCrossValidation, outcome_range
from .dataset import DATASET_NAME, HOLDOUT_SIZE, Dataset, FloatArray
from .evaluation import closed_form, mae, mse, r2, repeated_cross_validation
from .sgd import SGDConfig, SGDResult, fit_sgd
from .uncertainty import estimates

CV_FOLDS: Final = 5
NESTED_REPEATS: Final = 5  # fold seeds pooled by the nested cross-validation the calibration gates judge
CV_REPEATS: Final = 10  # repeats of the cross-validation behind the cross-validated figures' intervals
DRIFT_BINS: Final = 10
PROGRESSION_EVENT: Final = 200.0  # the discrimination figure: the AUROC for progression above this
# The code that determines the model: a change to any of these files yields a new model version.
_SOURCES: Final = ("conformal.py", "dataset.py", "evaluation.py", "sgd.py", "pipeline.py", "uncertainty.py")


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    seed: int = 0
    sgd: SGDConfig = field(default_factory=SGDConfig)
    min_r2: float = DEFAULT_MIN_R2
    max_convergence_gap: float = DEFAULT_MAX_CONVERGENCE_GAP
    max_coverage_error: float = DEFAULT_MAX_COVERAGE_ERROR
    cv_folds: int = CV_FOLDS


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    artifact: ModelArtifact
    fit: SGDResult
    dataset: Dataset
    nested: NestedCrossValidation  # the interval's coverage of each training row
    cv_predictions: FloatArray  # each training row's out-of-fold prediction (the interval's residuals)


def train(config: TrainingConfig, dataset: Dataset) -> TrainingOutcome:
    """Fits, evaluates and gates; the returned artifact says whether it may be served."""
    (x, y), holdout = (dataset.train.x, dataset.train.y), dataset.holdout
    result = fit_sgd(x, y, seed=config.seed, config=config.sgd)
    optimal_slope, optimal_intercept = closed_form(x, y)
    fitted = Coefficients(result.slope, result.intercept)
    train_predicted = fitted.slope * x + fitted.intercept
    holdout_predicted = fitted.slope * holdout.x + fitted.intercept
    train_mse = float(mse(y, train_predicted))
    optimal_mse = float(mse(y, optimal_slope * x + optimal_intercept))
    interval, nested, cv_predictions = _prediction_interval(config, dataset, holdout_predicted)
    folds = repeated_cross_validation(
        x, y, closed_form, folds=config.cv_folds, seed=config.seed, repeats=CV_REPEATS
    )
    # An optimiser that stopped at the epoch cap never counts as converged, whatever its loss.
    gap = (train_mse - optimal_mse) / optimal_mse if result.converged else sys.float_info.max
    holdout_r2 = float(r2(holdout.y, holdout_predicted))
    gates = (
        Gate.evaluate(QUALITY_GATE, ">=", config.min_r2, holdout_r2),
        Gate.evaluate(CONVERGENCE_GATE, "<=", config.max_convergence_gap, gap),
        *(Gate.evaluate(*gate) for gate in calibration_requirements(interval, config.max_coverage_error)),
    )
    pairs, event = ((holdout.y, holdout_predicted), (y, cv_predictions)), PROGRESSION_EVENT
    figures = estimates(*pairs, folds, k=config.cv_folds, threshold=event, seed=config.seed)
    artifact = ModelArtifact(
        schema_version=SCHEMA_VERSION,
        model_version=model_version_for(
            data_sha256=dataset.sha256,
            config={**asdict(config), "holdout_size": HOLDOUT_SIZE, "interval_level": INTERVAL_LEVEL},
            code_sha256=_code_sha256(),
        ),
        feature=_feature(dataset),
        outcome=_outcome(y),
        coefficients=fitted,
        interval=interval,
        drift=_drift(x),
        metrics=Metrics(
            holdout_r2=holdout_r2,
            holdout_mse=float(mse(holdout.y, holdout_predicted)),
            holdout_mae=float(mae(holdout.y, holdout_predicted)),
            train_r2=float(r2(y, train_predicted)),
            train_mse=train_mse,
            optimal_train_mse=optimal_mse,
            cv_folds=config.cv_folds,
            cv_repeats=CV_REPEATS,
            cv_r2_fold_sd=float(folds["r2"].std(ddof=1)),
            auroc_threshold=PROGRESSION_EVENT,
            estimates=figures,
            gates=gates,
        ),
        training=_training(config, result, dataset),
        sha256="",  # computed when written
    )
    return TrainingOutcome(artifact, result, dataset, nested, cv_predictions)


def _feature(dataset: Dataset) -> Feature:
    bmi_mean = float(dataset.bmi.mean())
    return Feature(
        name=FEATURE_NAME,
        unit=FEATURE_UNIT,
        train_min=float(dataset.train.x.min()),
        train_max=float(dataset.train.x.max()),
        # scikit-learn scaled each column over all 442 rows, so the legacy mapping uses all rows too.
        sklearn_mean=bmi_mean,
        sklearn_scale=math.sqrt(float(((dataset.bmi - bmi_mean) ** 2).sum())),
    )


def _training(config: TrainingConfig, result: SGDResult, dataset: Dataset) -> Training:
    return Training(
        seed=config.seed,
        hyperparameters=asdict(config.sgd),
        epochs_run=result.epochs_run,
        n_train=int(dataset.train.x.size),
        n_holdout=int(dataset.holdout.x.size),
        data_sha256=dataset.sha256,
        dataset=DATASET_NAME,
    )


def _prediction_interval(
    config: TrainingConfig, dataset: Dataset, holdout_predicted: FloatArray
) -> tuple[PredictionInterval, NestedCrossValidation, FloatArray]:
    """The served interval (calibrated on every training row), its coverage of each group under nested
    cross-validation on the training rows, and the out-of-fold predictions it was calibrated on. The
    hold-out coverage is that of the served model's ``holdout_predicted``, by the served rule."""
    (x, y), holdout, level = (dataset.train.x, dataset.train.y), dataset.holdout, INTERVAL_LEVEL
    mondrian, predictions = conformal.calibrate(
        x, y, closed_form, folds=config.cv_folds, seed=config.seed, level=level
    )
    nested = conformal.nested_cross_validation(
        x, y, closed_form, folds=config.cv_folds, seed=config.seed, repeats=NESTED_REPEATS, level=level
    )
    widening = _extrapolation_widening(x, y, level)
    outside = np.clip(np.maximum(x.min() - holdout.x, holdout.x - x.max()), 0.0, None)
    half, outcome = mondrian.half_width(holdout.x) + widening * outside, outcome_range(y)
    counts, ranks = mondrian.counts.tolist(), mondrian.ranks.tolist()
    bands = [
        Band(n, k, h, k / (n + 1), conformal.binomial_tail(n, level - PAC_DELTA, k))
        for n, k, h in zip(counts, ranks, mondrian.half_widths.tolist(), strict=True)
    ]
    groups = [((x >= low) & (x < high), name) for name, low, high in calibration_groups(mondrian.edges)]
    coverage = [
        GroupCoverage(name, int(r.sum()), *(float(v[r].mean()) for v in nested)) for r, name in groups
    ]
    interval = PredictionInterval(
        method=INTERVAL_METHOD,
        level=level,
        guarantee="training-conditional",
        pac_delta=PAC_DELTA,
        pac_confidence=PAC_CONFIDENCE,
        edges=tuple(mondrian.edges),
        bands=tuple(bands),
        extrapolation_widening=widening,
        cv_repeats=NESTED_REPEATS,
        coverage=tuple(coverage),
        holdout_coverage=float(conformal.covered(holdout.y, holdout_predicted, half, outcome).mean()),
    )
    return interval, nested, predictions


def _extrapolation_widening(x: FloatArray, y: FloatArray, level: float) -> float:
    """Per kg/m^2 beyond the training range: the level's normal quantile times the slope's standard error, an
    upper bound of the fitted line's own spread there (no coverage is claimed beyond the data)."""
    slope, intercept = closed_form(x, y)
    variance = float(np.sum((y - slope * x - intercept) ** 2)) / (x.size - 2)
    return NormalDist().inv_cdf((1 + level) / 2) * math.sqrt(variance / float(np.sum((x - x.mean()) ** 2)))


def _outcome(y: FloatArray) -> Outcome:
    source = (
        f"the training outcomes' observed range ({y.min():g}-{y.max():g}) widened by {OUTCOME_MARGIN:.0%} of "
        "its span on each side, floored at 0 (no negative score was observed or is defined), in whole units"
    )
    return Outcome(float(y.min()), float(y.max()), *outcome_range(y), OUTCOME_MARGIN, source)


def _drift(x: FloatArray) -> Drift:
    edges = conformal.quantile_edges(x, parts=DRIFT_BINS)
    counts = np.bincount(conformal.band_of(edges, x), minlength=len(edges) + 1)
    return Drift(edges=tuple(edges), proportions=tuple((counts / x.size).tolist()))


def _code_sha256() -> str:
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (Path(__file__).parent / name).read_bytes() + b"\0")
    return digest.hexdigest()
