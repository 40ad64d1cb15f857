"""Trains the BMI model, gates it, and writes the versioned artifact only if every gate passes.

    python -m model.train [--seed N] [--data DIR] [--out PATH] [--report DIR] [--min-r2 X]
                          [--max-convergence-gap G] [--max-coverage-error E]

(or ``diabetes-progression train ...`` where the package is installed: the training data is not installed with
it, so ``--data`` must name a checkout's ``model/data``).

Exit status: 0 artifact written; 1 bad data or unwritable output; 2 bad arguments (``--report`` without
matplotlib included); 3 a gate failed (the reason is one line on stderr and no artifact is written or
overwritten; a ``--report`` directory still receives the model card, marked FAIL, so the failure can be
inspected). Every file written is named on stdout.

The gates' thresholds can be made stricter than the serving policy in ``model.artifact`` (R² ≥ 0.4,
convergence gap ≤ 1e-6, cross-validated coverage of the 90% prediction interval within 0.03 of 0.9), never
looser: the function refuses an artifact gated more loosely.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import math
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

from .artifact import (
    CALIBRATION_GATE,
    CONVERGENCE_GATE,
    DEFAULT_ARTIFACT_PATH,
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
    coverage_error,
    model_version_for,
    write_artifact_atomically,
)
from .conformal import Calibration, NestedCrossValidation, calibrate, nested_cross_validation, scale_of
from .dataset import DATA_DIR, DATASET_NAME, HOLDOUT_SIZE, DataError, Dataset, FloatArray, load_dataset
from .evaluation import closed_form, cross_validate, mae, mse, r2
from .sgd import SGDConfig, SGDResult, fit_sgd

CV_FOLDS: Final = 5
# The levels at which the model card shows nominal against cross-validated coverage (the served one included).
CALIBRATION_LEVELS: Final = (0.5, 0.6, 0.7, 0.8, 0.85, INTERVAL_LEVEL, 0.95)
EXIT_DATA_ERROR: Final = 1
EXIT_GATE_FAILED: Final = 3
# The code that determines the model: a change to any of these files yields a new model version.
_VERSIONED_SOURCES: Final = ("conformal.py", "dataset.py", "evaluation.py", "sgd.py", "train.py")
MISSING_DATA_HINT: Final = (
    "the training data is not installed with the package: pass --data DIR, the model/data directory of a "
    "checkout of the source repository (or run `python -m model.train` in that checkout)"
)
EPILOG: Final = (
    "exit status: 0 artifact written; 1 bad data or unwritable output; 2 bad arguments; 3 a gate failed"
)


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
    bmi_mean = float(dataset.bmi.mean())
    run_config = _run_config(config)
    artifact = ModelArtifact(
        schema_version=SCHEMA_VERSION,
        model_version=model_version_for(
            data_sha256=dataset.sha256, config=run_config, code_sha256=_code_sha256()
        ),
        feature=Feature(
            name=FEATURE_NAME,
            unit=FEATURE_UNIT,
            train_min=float(train_split.x.min()),
            train_max=float(train_split.x.max()),
            # scikit-learn scaled each column over all 442 rows, so the legacy mapping uses all rows too.
            sklearn_mean=bmi_mean,
            sklearn_scale=math.sqrt(float(((dataset.bmi - bmi_mean) ** 2).sum())),
        ),
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
        training=Training(
            seed=config.seed,
            hyperparameters=asdict(config.sgd),
            epochs_run=result.epochs_run,
            n_train=int(train_split.x.size),
            n_holdout=int(holdout.x.size),
            data_sha256=dataset.sha256,
            dataset=DATASET_NAME,
        ),
        sha256="",  # computed when written
    )
    return TrainingOutcome(artifact=artifact, fit=result, optimal=optimal, dataset=dataset, nested=nested)


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


def _stricter(policy: float, *, at_least: bool) -> Callable[[str], float]:
    """An argument type for a gate threshold: as strict as the serving policy or stricter, never looser
    (a higher minimum up to 1, or a smaller positive maximum)."""

    def threshold(text: str) -> float:
        value = float(text)
        if not (policy <= value <= 1.0 if at_least else 0.0 < value <= policy):
            shown = f"[{policy:g}, 1]" if at_least else f"(0, {policy:g}]"
            raise argparse.ArgumentTypeError(
                f"must be in {shown} (stricter than the serving policy), got {text}"
            )
        return value

    return threshold


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def parse_args(argv: list[str] | None, prog: str = "python -m model.train") -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR,
        metavar="DIR",
        help="the directory holding the data set's two .csv.gz files (default: model/data of a checkout)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_ARTIFACT_PATH,
        metavar="PATH",
        help="where to write the artifact (default: the bundled one, %(default)s)",
    )
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="write model_card.md and plots here (needs matplotlib)"
    )
    parser.add_argument(
        "--min-r2",
        type=_stricter(DEFAULT_MIN_R2, at_least=True),
        default=DEFAULT_MIN_R2,
        help=f"quality gate: minimum hold-out R² (default {DEFAULT_MIN_R2})",
    )
    parser.add_argument(
        "--max-convergence-gap",
        type=_stricter(DEFAULT_MAX_CONVERGENCE_GAP, at_least=False),
        default=DEFAULT_MAX_CONVERGENCE_GAP,
        help="convergence gate: max relative training-MSE gap to least squares "
        f"(default {DEFAULT_MAX_CONVERGENCE_GAP:g})",
    )
    parser.add_argument(
        "--max-coverage-error",
        type=_stricter(DEFAULT_MAX_COVERAGE_ERROR, at_least=False),
        default=DEFAULT_MAX_COVERAGE_ERROR,
        help=f"calibration gate: max distance of the {INTERVAL_LEVEL * 100:.0f}%% interval's cross-validated "
        f"coverage from {INTERVAL_LEVEL:g} (default {DEFAULT_MAX_COVERAGE_ERROR:g})",
    )
    args = parser.parse_args(argv)
    if args.report is not None and importlib.util.find_spec("matplotlib") is None:
        parser.error("--report needs matplotlib: pip install 'diabetes-progression[report]'")
    return args


def main(argv: list[str] | None = None, prog: str = "python -m model.train") -> int:
    args = parse_args(argv, prog)
    config = TrainingConfig(
        seed=args.seed,
        min_r2=args.min_r2,
        max_convergence_gap=args.max_convergence_gap,
        max_coverage_error=args.max_coverage_error,
    )
    try:
        outcome = train(config, load_dataset(args.data))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if not args.data.is_dir():
            print(MISSING_DATA_HINT, file=sys.stderr)
        return EXIT_DATA_ERROR

    artifact = outcome.artifact
    if args.report is not None:
        from .report import write_report  # matplotlib is slow to import: only when asked

        for written in write_report(outcome, args.report):
            print(f"wrote {written}")
    failed = artifact.failed_gates()
    if failed:
        print(f"gate failed, no artifact written: {failed[0].describe()}", file=sys.stderr)
        return EXIT_GATE_FAILED
    try:
        write_artifact_atomically(artifact, args.out)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_DATA_ERROR

    m = artifact.metrics
    print(
        f"model {artifact.model_version}: y = {artifact.coefficients.slope:.6f} * bmi "
        f"{artifact.coefficients.intercept:+.6f}  ({artifact.training.epochs_run} epochs)"
    )
    print(
        f"hold-out R² {m.holdout_r2:.4f}  train R² {m.train_r2:.4f}  "
        f"{m.cv_folds}-fold CV R² {m.cv_r2_mean:.4f} ± {m.cv_r2_std:.4f}  CV RMSE {m.cv_rmse:.1f}"
    )
    interval = artifact.interval
    print(
        f"{interval.level:.0%} interval ({interval.method}): prediction ± {interval.quantile:.3f} × "
        f"max({interval.scale.intercept:.2f} {interval.scale.slope:+.3f} × bmi, {interval.scale.floor:.2f}); "
        f"coverage {interval.cv_coverage:.3f} (nested CV), {interval.holdout_coverage:.2f} (hold-out)"
    )
    for gate in m.gates:
        print(gate.describe())
    print(f"wrote {args.out}")
    return 0


def exit_on_termination(signum: int, _frame: object) -> None:
    # SystemExit unwinds through write_artifact_atomically, which removes its temporary file: a run stopped
    # by `kill` or a closed terminal leaves nothing beside the artifact (SIGKILL cannot be caught).
    sys.exit(128 + signum)


if __name__ == "__main__":
    for termination in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(termination, exit_on_termination)
    sys.exit(main())
