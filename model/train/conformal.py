"""Group-conditional (Mondrian) conformal prediction on cross-validated residuals, and an honest measure of
its coverage (numpy only; the evidence for each choice: the card and docs/benchmarks.md). The training BMIs
are cut into at most MAX_BANDS bands of about equal counts; in each band the interval is prediction ± the
k-th smallest absolute out-of-fold error of its patients, k the training-conditional rank (:func:`pac_rank`).
Residuals from cross-validation use every row to fit and to calibrate, at the price of an approximate
guarantee: :func:`nested_cross_validation` measures it per group, and the calibration gates judge it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np

from .dataset import BoolArray, FloatArray, IntArray
from .evaluation import Fitter, kfold, out_of_fold

MAX_BANDS: Final = 3  # tertiles: twice the patients per band of K = 5 for the same worst group (the card)
MIN_BAND_ROWS: Final = 100  # a band with fewer training rows is merged into its smaller neighbour
PAC_DELTA: Final = 0.02  # each band's coverage at least level - PAC_DELTA ...
PAC_CONFIDENCE: Final = 0.95  # ... with this probability over the training data
OUTCOME_MARGIN: Final = 0.1  # the outcome range: the training range widened by this share of its span


def quantile_edges(x: FloatArray, *, parts: int, min_rows: int = 0) -> list[float]:
    """Interior edges of at most ``parts`` bins of about equal counts: the midpoints between distinct values
    (so no value sits on an edge; to 6 decimals if still between) with counts below nearest j * n / parts.
    With ``min_rows``: at most n // min_rows bins, a smaller one merged into its smaller neighbour."""
    if min_rows:
        parts = max(1, min(parts, x.size // min_rows))
    distinct = np.unique(x)
    middles = (distinct[:-1] + distinct[1:]) / 2
    rounded = np.round(middles, 6)
    candidates = np.where((rounded > distinct[:-1]) & (rounded < distinct[1:]), rounded, middles)
    below = np.searchsorted(np.sort(x), candidates)
    edges = sorted(
        {float(candidates[np.argmin(np.abs(below - j * x.size / parts))]) for j in range(1, parts)}
    )
    while edges and min(counts := np.bincount(band_of(edges, x), minlength=len(edges) + 1)) < min_rows:
        i = int(np.argmin(counts))
        left = i == len(counts) - 1 or (i > 0 and counts[i - 1] <= counts[i + 1])
        edges.pop(i - 1 if left else i)
    return edges


def band_of(edges: list[float] | tuple[float, ...], x: FloatArray) -> IntArray:
    """Each value's band (on an edge, the upper: as :func:`model.core.prediction.intervals` does)."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), x, side="right")


def conformal_rank(n: int, level: float) -> int:
    """ceil((n + 1) * level): the rank whose order statistic a new score falls below with probability at
    least ``level`` (1e-9 guards a product that lands a hair above an integer)."""
    return math.ceil((n + 1) * level - 1e-9)


def binomial_tail(n: int, p: float, k: int) -> float:
    """P(Binomial(n, p) >= k) = P(Beta(k, n + 1 - k) <= p), summed exactly in log space."""
    if k > n:
        return 0.0
    logs = [
        math.log(math.comb(n, i)) + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(max(k, 0), n + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def pac_rank(n: int, level: float) -> int:
    """The smallest rank from :func:`conformal_rank` whose coverage, Beta(k, n + 1 - k) for exchangeable
    scores, is below level - PAC_DELTA with probability at most 1 - PAC_CONFIDENCE; n + 1 if none is."""
    k = conformal_rank(n, level)
    while k <= n and binomial_tail(n, level - PAC_DELTA, k) > 1 - PAC_CONFIDENCE:
        k += 1
    return k


@dataclass(frozen=True, slots=True)
class Mondrian:
    """One rank and half-width per band of ``edges`` (infinite where too few rows promise the level)."""

    edges: list[float]
    counts: IntArray
    ranks: IntArray
    half_widths: FloatArray

    def half_width(self, x: FloatArray) -> FloatArray:
        return self.half_widths[band_of(self.edges, x)]

    def expected(self, x: FloatArray) -> FloatArray:  # rank / (n + 1): the band's coverage on average
        return (self.ranks / (self.counts + 1))[band_of(self.edges, x)]


def mondrian(x: FloatArray, absolute: FloatArray, level: float) -> Mondrian:
    edges = quantile_edges(x, parts=MAX_BANDS, min_rows=MIN_BAND_ROWS)
    bands = band_of(edges, x)
    scores = [np.sort(absolute[bands == b]) for b in range(len(edges) + 1)]
    ranks = np.array([pac_rank(s.size, level) for s in scores])
    halves = [float(s[k - 1]) if k <= s.size else math.inf for s, k in zip(scores, ranks, strict=True)]
    return Mondrian(edges, np.array([s.size for s in scores]), ranks, np.array(halves))


def calibrate(
    x: FloatArray, y: FloatArray, fit: Fitter, *, folds: int, seed: int, level: float
) -> tuple[Mondrian, FloatArray]:
    """The interval calibrated on the out-of-fold errors of ``fit``, and those out-of-fold predictions."""
    predictions = out_of_fold(x, y, fit, folds=folds, seed=seed)
    return mondrian(x, np.abs(y - predictions), level), predictions


def outcome_range(y: FloatArray) -> tuple[float, float]:
    """The observed range widened by OUTCOME_MARGIN of its span each side, floored at 0, in whole units."""
    low, high = float(y.min()), float(y.max())
    margin = OUTCOME_MARGIN * (high - low)
    return float(max(0, math.floor(low - margin))), float(math.ceil(high + margin))


def covered(
    y: FloatArray, predicted: FloatArray, half: FloatArray, outcome: tuple[float, float]
) -> BoolArray:
    """Whether each outcome lies inside its served interval (:func:`model.core.prediction.intervals`)."""
    low, high = outcome
    held = np.clip(predicted, low, high)
    return (y >= np.maximum(np.floor(held - half), low)) & (y <= np.minimum(np.ceil(held + half), high))


class NestedCrossValidation(NamedTuple):
    """Per training row, over the fold seeds: the share whose interval, built without the row (fit, bands,
    residuals and ranks from the outer fold's training rows alone), held its outcome, and the mean expected
    coverage of the ranks behind them."""

    covered: FloatArray
    expected: FloatArray


def nested_cross_validation(
    x: FloatArray, y: FloatArray, fit: Fitter, *, folds: int, seed: int, repeats: int, level: float
) -> NestedCrossValidation:
    """Over fold seeds seed .. seed + repeats - 1: one seed is a coin toss at a band's edges, five pooled
    halve the seed-to-seed spread of a band's coverage."""
    inside, expected = np.zeros_like(y), np.zeros_like(y)
    for repeat in range(repeats):
        for train, test in kfold(x.size, folds=folds, seed=seed + repeat):
            slope, intercept = fit(x[train], y[train])
            inner, _ = calibrate(x[train], y[train], fit, folds=folds, seed=seed + repeat, level=level)
            half, outcome = inner.half_width(x[test]), outcome_range(y[train])
            inside[test] += covered(y[test], slope * x[test] + intercept, half, outcome)
            expected[test] += inner.expected(x[test])
    return NestedCrossValidation(inside / repeats, expected / repeats)
