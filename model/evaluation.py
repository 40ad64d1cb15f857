"""Metrics, the closed-form reference solution and cross-validation (numpy only)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.dataset import FloatArray

Fitter = Callable[[FloatArray, FloatArray], tuple[float, float]]


def mse(y: FloatArray, predicted: FloatArray) -> float:
    return float(np.mean((y - predicted) ** 2))


def r2(y: FloatArray, predicted: FloatArray) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - predicted) ** 2)) / total


def closed_form(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Ordinary least squares for one feature: the optimum SGD must reach (used by the convergence gate)."""
    x_centered = x - x.mean()
    slope = float(np.dot(x_centered, y - y.mean()) / np.dot(x_centered, x_centered))
    return slope, float(y.mean()) - slope * float(x.mean())


@dataclass(frozen=True, slots=True)
class CrossValidation:
    folds: int
    r2_mean: float
    r2_std: float


def cross_validate(x: FloatArray, y: FloatArray, fit: Fitter, *, folds: int, seed: int) -> CrossValidation:
    """Shuffled k-fold cross-validated R² (population std across folds): an honest view next to the
    canonical hold-out, whose 20 rows happen to be easier than average."""
    order = np.random.default_rng(seed).permutation(x.size)
    scores = []
    for test_idx in np.array_split(order, folds):
        train_idx = np.setdiff1d(order, test_idx, assume_unique=True)
        slope, intercept = fit(x[train_idx], y[train_idx])
        scores.append(r2(y[test_idx], slope * x[test_idx] + intercept))
    return CrossValidation(folds=folds, r2_mean=statistics.fmean(scores), r2_std=statistics.pstdev(scores))


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
