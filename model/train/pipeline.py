"""The training pipeline: fits, evaluates and gates the BMI model and builds its versioned artifact
(written only if every gate passes, by :mod:`.command`). One config in, one :class:`TrainingOutcome` out:
the artifact and what the model card (:mod:`.card`) shows beside it."""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from ..core.artifact import (
    CALIBRATION_GATE,
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
    Coefficients,
    Feature,
    Gate,
    Metrics,
    ModelArtifact,
    Outcome,
    PredictionInterval,
    Training,
    model_version_for,
)
from ..core.serving import coverage_error
from .conformal import Calibration, NestedCrossValidation, calibrate, nested_cross_validation, scale_of
from .dataset import DATASET_NAME, HOLDOUT_SIZE, Dataset, FloatArray
from .evaluation import closed_form, cross_validate, mae, mse, r2
from .sgd import SGDConfig, SGDResult, fit_sgd

CV_FOLDS: Final = 5
# The levels at which the model card shows nominal against cross-validated coverage (the served one included).
CALIBRATION_LEVELS: Final = (0.5, 0.6, 0.7, 0.8, 0.85, INTERVAL_LEVEL, 0.95)
# The code that determines the model: a change to any of these files yields a new model version.
_VERSIONED_SOURCES: Final = ("conformal.py", "dataset.py", "evaluation.py", "sgd.py", "pipeline.py")


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
    optimal: Coefficients  # closed-form least squares on the training rows
    dataset: Dataset
    nested: NestedCrossValidation  # the interval's coverage on the training rows, at CALIBRATION_LEVELS


def train(config: TrainingConfig, dataset: Dataset) -> TrainingOutcome:
    """Fits, evaluates and gates; the returned artifact says whether it may be served."""
    train_split, holdout = dataset.train, dataset.holdout
    result = fit_sgd(train_split.x, train_split.y, seed=config.seed, config=config.sgd)
    optimal = Coefficients(*closed_form(train_split.x, train_split.y))

    def predict(coefficients: Coefficients, x: FloatArray) -> FloatArray:
        return coefficients.slope * x + coefficients.intercept

    fitted = Coefficients(result.slope, result.intercept)
    train_predicted, holdout_predicted = predict(fitted, train_split.x), predict(fitted, holdout.x)
    train_mse = mse(train_split.y, train_predicted)
    optimal_mse = mse(train_split.y, predict(optimal, train_split.x))
    holdout_r2 = r2(holdout.y, holdout_predicted)

    def sgd_fit(x: FloatArray, y: FloatArray) -> tuple[float, float]:
        fold = fit_sgd(x, y, seed=config.seed, config=config.sgd)
        return fold.slope, fold.intercept

    cv = cross_validate(train_split.x, train_split.y, sgd_fit, folds=config.cv_folds, seed=config.seed)
    interval, calibration, nested = _prediction_interval(config, dataset, holdout_predicted)
    # An optimiser that stopped at the epoch cap never counts as converged, whatever its loss.
    gap = (train_mse - optimal_mse) / optimal_mse if result.converged else sys.float_info.max
    gates = (
        Gate.evaluate(QUALITY_GATE, ">=", config.min_r2, holdout_r2),
        Gate.evaluate(CONVERGENCE_GATE, "<=", config.max_convergence_gap, gap),
        Gate.evaluate(CALIBRATION_GATE, "<=", config.max_coverage_error, coverage_error(interval)),
    )
    artifact = ModelArtifact(
        schema_version=SCHEMA_VERSION,
        model_version=model_version_for(
            data_sha256=dataset.sha256, config=_run_config(config), code_sha256=_code_sha256()
        ),
        feature=_feature(dataset),
        outcome=Outcome(train_min=float(train_split.y.min()), train_max=float(train_split.y.max())),
        coefficients=fitted,
        interval=interval,
        metrics=Metrics(
            holdout_r2=holdout_r2,
            holdout_mse=mse(holdout.y, holdout_predicted),
            holdout_mae=mae(holdout.y, holdout_predicted),
            train_r2=r2(train_split.y, train_predicted),
            train_mse=train_mse,
            optimal_train_mse=optimal_mse,
            cv_r2_mean=cv.r2_mean,
            cv_r2_std=cv.r2_std,
            cv_rmse=math.sqrt(mse(train_split.y, calibration.predictions)),
            cv_mae=mae(train_split.y, calibration.predictions),
            cv_folds=cv.folds,
            gates=gates,
        ),
        training=_training(config, result, dataset),
        sha256="",  # computed when written
    )
    return TrainingOutcome(artifact=artifact, fit=result, optimal=optimal, dataset=dataset, nested=nested)


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
) -> tuple[PredictionInterval, Calibration, NestedCrossValidation]:
    """The served interval (calibrated on every training row), its coverage under nested cross-validation
    on the training rows, and its coverage on the canonical hold-out around the served model's predictions
    (``holdout_predicted``)."""
    train_split, holdout = dataset.train, dataset.holdout
    folds, seed = config.cv_folds, config.seed
    calibration = calibrate(train_split.x, train_split.y, closed_form, folds=folds, seed=seed)
    nested = nested_cross_validation(
        train_split.x, train_split.y, closed_form, levels=CALIBRATION_LEVELS, folds=folds, seed=seed
    )
    quantile = calibration.quantile(INTERVAL_LEVEL)
    holdout_error = np.abs(holdout.y - holdout_predicted)
    interval = PredictionInterval(
        method=INTERVAL_METHOD,
        level=INTERVAL_LEVEL,
        quantile=quantile,
        scale=calibration.scale,
        cv_coverage=nested.coverage(INTERVAL_LEVEL),
        holdout_coverage=float(np.mean(holdout_error <= quantile * scale_of(calibration.scale, holdout.x))),
    )
    return interval, calibration, nested


def _run_config(config: TrainingConfig) -> dict[str, object]:
    return {
        "seed": config.seed,
        "sgd": asdict(config.sgd),
        "min_r2": config.min_r2,
        "max_convergence_gap": config.max_convergence_gap,
        "max_coverage_error": config.max_coverage_error,
        "cv_folds": config.cv_folds,
        "holdout_size": HOLDOUT_SIZE,
        "interval_level": INTERVAL_LEVEL,
    }


def _code_sha256() -> str:
    digest = hashlib.sha256()
    for name in _VERSIONED_SOURCES:
        digest.update(name.encode() + b"\0" + (Path(__file__).parent / name).read_bytes() + b"\0")
    return digest.hexdigest()


def summary(artifact: ModelArtifact) -> str:
    """What a training run prints about the artifact it wrote."""
    m, interval, c = artifact.metrics, artifact.interval, artifact.coefficients
    return "\n".join(
        [
            f"model {artifact.model_version}: y = {c.slope:.6f} * bmi {c.intercept:+.6f}  "
            f"({artifact.training.epochs_run} epochs)",
            f"hold-out R² {m.holdout_r2:.4f}  train R² {m.train_r2:.4f}  "
            f"{m.cv_folds}-fold CV R² {m.cv_r2_mean:.4f} ± {m.cv_r2_std:.4f}  CV RMSE {m.cv_rmse:.1f}",
            f"{interval.level:.0%} interval ({interval.method}): prediction ± {interval.quantile:.3f} × "
            f"max({interval.scale.intercept:.2f} {interval.scale.slope:+.3f} × bmi, "
            f"{interval.scale.floor:.2f}); coverage {interval.cv_coverage:.3f} (nested CV), "
            f"{interval.holdout_coverage:.2f} (hold-out)",
            *(gate.describe() for gate in m.gates),
        ]
    )
