"""A 95% confidence interval for every figure the artifact and the card report (numpy; normal quantiles from
the standard library): the hold-out's by BCa bootstrap of its rows, the model held fixed (R² on 20 rows has a
long left tail the percentile interval gets wrong); the cross-validated ones from every fold of a repeated
k-fold cross-validation, Nadeau-Bengio corrected (folds share patients: the naive interval is several times
too narrow); calibration and discrimination by percentile bootstrap of the out-of-fold predictions."""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Any, Final

import numpy as np

from ..core.artifact import Estimate
from .dataset import FloatArray
from .evaluation import METRICS

CONFIDENCE: Final = 0.95
HOLDOUT_RESAMPLES: Final = 10_000
PATIENT_RESAMPLES: Final = 2_000
Statistic = Callable[[Any, Any], Any]  # (observed, predicted), along the last axis: one value or one per row
_NORMAL: Final = NormalDist()
_TAILS: Final = ((1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2)


def estimates(
    holdout: tuple[FloatArray, FloatArray], train: tuple[FloatArray, FloatArray],
    folds: dict[str, FloatArray], *, k: int, threshold: float, seed: int,
) -> dict[str, Estimate]:  # fmt: skip
    """Every figure with its interval, from (observed, predicted) of the hold-out and, out-of-fold, of the
    training rows, and the fold scores of a repeated ``k``-fold cross-validation. Rank statistics get the
    values' dense integer codes (the same order: the same statistic, without a sort per resample)."""
    y, p = train
    codes = [np.unique(values, return_inverse=True)[1] for values in train]
    patients: dict[str, tuple[Statistic, Any, Any]] = {
        "calibration_slope": (calibration_slope, y, p),
        "calibration_intercept": (lambda y, p: y.mean(-1) - calibration_slope(y, p) * p.mean(-1), y, p),
        "calibration_in_the_large": (lambda y, p: y.mean(-1) - p.mean(-1), y, p),
        "spearman": (spearman, codes[0], codes[1]),
        "auroc": (auroc, (y > threshold).astype(np.intp), codes[1]),
    }
    return {
        **{f"holdout_{name}": bca(metric, *holdout, seed=seed) for name, metric in METRICS.items()},
        **{f"cv_{name}": nadeau_bengio(scores, k=k, seed=seed) for name, scores in folds.items()},
        **{name: percentile(*arguments, seed=seed) for name, arguments in patients.items()},
    }


def bca(statistic: Statistic, y: FloatArray, p: FloatArray, *, seed: int) -> Estimate:
    """Efron's bias-corrected (resamples below the estimate) and accelerated (jackknife) bootstrap."""
    value, n, boot = float(statistic(y, p)), y.size, _resampled(statistic, y, p, HOLDOUT_RESAMPLES, seed)
    boot = boot[np.isfinite(boot)]
    below = (np.sum(boot < value) + 0.5 * np.sum(boot == value)) / boot.size
    bias = _NORMAL.inv_cdf(min(max(below, 1e-6), 1 - 1e-6))
    leave_one_out = ~np.eye(n, dtype=bool)
    jackknife = statistic(*(np.broadcast_to(a, (n, n))[leave_one_out].reshape(n, n - 1) for a in (y, p)))
    spread = jackknife.mean() - jackknife
    acceleration = float(np.sum(spread**3) / (6 * np.sum(spread**2) ** 1.5)) if np.any(spread) else 0.0
    z = [bias + _NORMAL.inv_cdf(tail) for tail in _TAILS]
    low, high = np.quantile(boot, [_NORMAL.cdf(bias + q / (1 - acceleration * q)) for q in z])
    return Estimate(value, float(low), float(high), CONFIDENCE, "bca-bootstrap", HOLDOUT_RESAMPLES, seed)


def percentile(statistic: Statistic, y: Any, p: Any, *, seed: int) -> Estimate:
    low, high = np.quantile(_resampled(statistic, y, p, PATIENT_RESAMPLES, seed), _TAILS)
    value, resamples = float(statistic(y, p)), PATIENT_RESAMPLES
    return Estimate(value, float(low), float(high), CONFIDENCE, "percentile-bootstrap", resamples, seed)


def nadeau_bengio(scores: FloatArray, *, k: int, seed: int) -> Estimate:
    """The mean of J fold scores ± t(J - 1) · sqrt(s² (1/J + n_test/n_train)), n_test/n_train = 1/(k - 1)
    (Nadeau and Bengio 2003; Bouckaert and Frank 2004); t by the Cornish-Fisher expansion (to 1e-4 from
    10 degrees of freedom)."""
    mean, j, z = float(scores.mean()), scores.size, _NORMAL.inv_cdf(_TAILS[1])
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
    )
    t = z + math.fsum(term / (j - 1) ** power for power, term in enumerate(terms, start=1))
    half = t * math.sqrt(float(scores.var(ddof=1)) * (1 / j + 1 / (k - 1)))
    return Estimate(mean, mean - half, mean + half, CONFIDENCE, "nadeau-bengio-repeated-cv", j, seed)


def _resampled(statistic: Statistic, y: Any, p: Any, resamples: int, seed: int) -> Any:
    rows = np.random.default_rng(seed).integers(0, y.size, size=(resamples, y.size))
    return statistic(y[rows], p[rows])


def calibration_slope(y: FloatArray, p: FloatArray) -> Any:
    """Of observed regressed on predicted: 1 when predictions are neither too extreme nor too timid."""
    centred = p - p.mean(axis=-1, keepdims=True)
    return np.sum(centred * (y - y.mean(axis=-1, keepdims=True)), axis=-1) / np.sum(centred**2, axis=-1)


def spearman(y: Any, p: Any) -> Any:
    ry, rp = (r - r.mean(axis=-1, keepdims=True) for r in (average_ranks(y), average_ranks(p)))
    return np.sum(ry * rp, axis=-1) / np.sqrt(np.sum(ry**2, axis=-1) * np.sum(rp**2, axis=-1))


def auroc(event: Any, p: Any) -> Any:
    """P(a patient with the event is predicted higher than one without), ties one half (Mann-Whitney)."""
    positives = event.sum(axis=-1)
    ranked = np.sum(event * average_ranks(p), axis=-1)
    return (ranked - positives * (positives + 1) / 2) / (positives * (event.shape[-1] - positives))


def average_ranks(codes: Any) -> Any:
    """Ranks from 1 of dense integer codes along the last axis, ties sharing their mean rank."""
    batch = np.atleast_2d(codes)
    size = int(batch.max()) + 1
    offsets = np.arange(batch.shape[0])[:, None] * size
    counts = np.bincount((batch + offsets).ravel(), minlength=batch.shape[0] * size).reshape(-1, size)
    mean_rank = np.cumsum(counts, axis=1) - counts + (counts + 1) / 2
    return np.take_along_axis(mean_rank, batch, axis=1).reshape(np.shape(codes))
