"""Prediction intervals by normalised conformal prediction on cross-validated residuals, and an honest
measure of their coverage (numpy only; the reasons, with their evidence: docs/ml_components.md and the card).

The interval is ``prediction +- q * scale(bmi)``: ``scale`` (:class:`model.core.artifact.Scale`) is a
least-squares line through the absolute residuals (which grow with BMI), floored at half their mean, and
``q`` the ceil((n + 1) * level)-th smallest normalised score ``|residual| / scale(bmi)``. Cross-validated
residuals use every row to fit and to calibrate, at the price of an approximate guarantee; that price is
measured by :func:`nested_cross_validation`, and the trainer's calibration gate blocks a model whose coverage
strays from the level."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ..core.artifact import Scale
from .dataset import FloatArray
from .evaluation import Fitter, closed_form, kfold, out_of_fold

BoolArray = npt.NDArray[np.bool_]
# The scale never drops below half the mean absolute residual: no patient is treated as more than twice as
# predictable as the average one, whatever the fitted line does far from the data.
SCALE_FLOOR_FRACTION: Final = 0.5


def scale_of(scale: Scale, x: FloatArray) -> FloatArray:
    """:meth:`Scale.at` for an array (the same arithmetic, vectorised)."""
    return np.maximum(scale.intercept + scale.slope * x, scale.floor)


def fit_scale(x: FloatArray, absolute_residuals: FloatArray) -> Scale:
    slope, intercept = closed_form(x, absolute_residuals)
    return Scale(
        intercept=intercept, slope=slope, floor=SCALE_FLOOR_FRACTION * float(absolute_residuals.mean())
    )


def conformal_quantile(sorted_scores: FloatArray, level: float) -> float:
    """The ceil((n + 1) * level)-th smallest of n exchangeable scores: a new score falls at or below it with
    probability at least ``level``. Infinite when n is too small to promise ``level``."""
    rank = math.ceil((sorted_scores.size + 1) * level)
    return math.inf if rank > sorted_scores.size else float(sorted_scores[rank - 1])


@dataclass(frozen=True, slots=True)
class Calibration:
    """What the interval is built from: the out-of-fold predictions of the training rows, the scale fitted
    to their absolute residuals, and the normalised scores, sorted."""

    predictions: FloatArray
    scale: Scale
    scores: FloatArray

    def quantile(self, level: float) -> float:
        return conformal_quantile(self.scores, level)


def calibrate(x: FloatArray, y: FloatArray, fit: Fitter, *, folds: int, seed: int) -> Calibration:
    predictions = out_of_fold(x, y, fit, folds=folds, seed=seed)
    absolute = np.abs(y - predictions)
    scale = fit_scale(x, absolute)
    return Calibration(predictions=predictions, scale=scale, scores=np.sort(absolute / scale_of(scale, x)))


@dataclass(frozen=True, slots=True)
class NestedCrossValidation:
    """Per training row, held out by the outer folds: its prediction and its interval's half-width at each
    level, both built without that row (the interval's scale and quantile from the outer fold's training
    rows alone, through their own inner cross-validation)."""

    y: FloatArray
    predictions: FloatArray
    half_widths: dict[float, FloatArray]

    def covered(self, level: float) -> BoolArray:
        return np.abs(self.y - self.predictions) <= self.half_widths[level]

    def coverage(self, level: float) -> float:
        return float(self.covered(level).mean())


def nested_cross_validation(
    x: FloatArray, y: FloatArray, fit: Fitter, *, levels: Iterable[float], folds: int, seed: int
) -> NestedCrossValidation:
    levels = tuple(levels)
    predictions = np.empty_like(y)
    half_widths = {level: np.empty_like(y) for level in levels}
    for train_idx, test_idx in kfold(x.size, folds=folds, seed=seed):
        slope, intercept = fit(x[train_idx], y[train_idx])
        predictions[test_idx] = slope * x[test_idx] + intercept
        inner = calibrate(x[train_idx], y[train_idx], fit, folds=folds, seed=seed)
        scale = scale_of(inner.scale, x[test_idx])
        for level in levels:
            half_widths[level][test_idx] = inner.quantile(level) * scale
    return NestedCrossValidation(y=y, predictions=predictions, half_widths=half_widths)
