"""Metrics, the closed-form reference solution and cross-validation (numpy only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np

from .dataset import FloatArray, IntArray

Fitter = Callable[[FloatArray, FloatArray], tuple[float, float]]


# Metrics along the last axis: one value for one sample, one per row for a batch of bootstrap resamples.
def mse(y: FloatArray, predicted: FloatArray | float) -> Any:
    return np.mean((y - predicted) ** 2, axis=-1)


def rmse(y: FloatArray, predicted: FloatArray | float) -> Any:
    return np.sqrt(mse(y, predicted))


def mae(y: FloatArray, predicted: FloatArray | float) -> Any:
    return np.mean(np.abs(y - predicted), axis=-1)


def r2(y: FloatArray, predicted: FloatArray) -> Any:
    total = np.sum((y - y.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    return 1.0 - np.sum((y - predicted) ** 2, axis=-1) / total


METRICS: Final = {"r2": r2, "rmse": rmse, "mae": mae}  # the hold-out's and every fold's figures


def closed_form(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Ordinary least squares for one feature: the optimum SGD must reach (used by the convergence gate)."""
    x_centered = x - x.mean()
    slope = float(np.dot(x_centered, y - y.mean()) / np.dot(x_centered, x_centered))
    return slope, float(y.mean()) - slope * float(x.mean())


def kfold(n: int, *, folds: int, seed: int) -> list[tuple[IntArray, IntArray]]:
    """Shuffled k-fold splits of ``n`` rows as (train, test) index arrays: the same seed, the same folds
    (cross-validated R², the interval's residuals and its nested coverage all use these)."""
    order = np.random.default_rng(seed).permutation(n)
    return [(np.setdiff1d(order, test, assume_unique=True), test) for test in np.array_split(order, folds)]


def out_of_fold(x: FloatArray, y: FloatArray, fit: Fitter, *, folds: int, seed: int) -> FloatArray:
    """Each row's prediction by the model fitted on the folds that do not hold it."""
    predicted = np.empty_like(y)
    for train_idx, test_idx in kfold(x.size, folds=folds, seed=seed):
        slope, intercept = fit(x[train_idx], y[train_idx])
        predicted[test_idx] = slope * x[test_idx] + intercept
    return predicted


def repeated_cross_validation(
    x: FloatArray, y: FloatArray, fit: Fitter, *, folds: int, seed: int, repeats: int
) -> dict[str, FloatArray]:
    """R², RMSE and MAE of every fold of ``repeats`` shuffled k-fold cross-validations (fold seeds seed ..
    seed + repeats - 1; the first is the folds of the interval's residuals)."""
    scores: dict[str, list[float]] = {name: [] for name in METRICS}
    for repeat in range(repeats):
        for train, test in kfold(x.size, folds=folds, seed=seed + repeat):
            slope, intercept = fit(x[train], y[train])
            for name, metric in METRICS.items():
                scores[name].append(float(metric(y[test], slope * x[test] + intercept)))
    return {name: np.array(values) for name, values in scores.items()}


def random_holdout_pass_rate(
    x: FloatArray, y: FloatArray, *, holdout_size: int, threshold: float, splits: int, seed: int
) -> float:
    """The share of random ``holdout_size``-row hold-outs on which least squares fitted on the other rows
    reaches ``threshold`` R²: how much a fixed-split gate owes to the split."""
    rng = np.random.default_rng(seed)
    passed = 0
    for _ in range(splits):
        order = rng.permutation(x.size)
        test, train = order[:holdout_size], order[holdout_size:]
        slope, intercept = closed_form(x[train], y[train])
        passed += r2(y[test], slope * x[test] + intercept) >= threshold
    return passed / splits
