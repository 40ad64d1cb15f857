"""The model card's three plots (matplotlib: a dev dependency, or the package's ``report`` extra). The PNGs
carry no software version (``metadata={"Software": None}``), so the same run writes the same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..core.artifact import CALIBRATION_GATE, CONVERGENCE_GATE, ModelArtifact
from .conformal import NestedCrossValidation
from .dataset import HOLDOUT_ROWS, TRAIN_ROWS, Dataset
from .stats import wilson

HEAVY: Final = "#1f4e79"
LIGHT: Final = "#9ecae1"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    _pyplot().close(fig)


def plot_fit(artifact: ModelArtifact, dataset: Dataset, path: Path) -> None:
    plt = _pyplot()
    feature, interval, coefficients = artifact.feature, artifact.interval, artifact.coefficients
    bmi = np.linspace(feature.train_min, feature.train_max, 200)
    prediction = coefficients.slope * bmi + coefficients.intercept
    half = np.array([interval.half_width(b) for b in bmi])
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    ax.fill_between(
        bmi, prediction - half, prediction + half, color=LIGHT, alpha=0.6,
        label=f"{interval.level:.0%} prediction interval",
    )  # fmt: skip
    ax.scatter(dataset.bmi[TRAIN_ROWS], dataset.target[TRAIN_ROWS], s=9, color="0.35", alpha=0.5,
               label="study patients (training)")  # fmt: skip
    ax.scatter(dataset.bmi[HOLDOUT_ROWS], dataset.target[HOLDOUT_ROWS], s=26, color="C3", marker="D",
               label="last 20 patients (hold-out)")  # fmt: skip
    ax.plot(bmi, prediction, color=HEAVY, linewidth=2, label="prediction")
    ax.set(
        xlabel="Body-mass index, BMI (kg/m²)",
        ylabel="Disease progression after one year (score)",
        title=f"Predicted progression by BMI, with its {interval.level:.0%} interval",
        xlim=(feature.train_min - 0.5, feature.train_max + 0.5),
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_calibration(artifact: ModelArtifact, nested: NestedCrossValidation, path: Path) -> None:
    plt = _pyplot()
    levels = sorted(nested.half_widths)
    n = nested.y.size
    measured = [nested.coverage(level) for level in levels]
    ranges = [wilson(int(nested.covered(level).sum()), n) for level in levels]
    gate = next(g for g in artifact.metrics.gates if g.name == CALIBRATION_GATE)
    served = artifact.interval.level
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    ax.plot([0.4, 1.0], [0.4, 1.0], color="0.5", linestyle="--", label="promise kept exactly")
    ax.fill_between(
        [served - 0.01, served + 0.01], served - gate.threshold, served + gate.threshold,
        color="C2", alpha=0.3, label=f"what the gate accepts at {served:.0%}",
    )  # fmt: skip
    ax.errorbar(
        levels, measured,
        yerr=[[m - low for m, (low, _) in zip(measured, ranges, strict=True)],
              [high - m for m, (_, high) in zip(measured, ranges, strict=True)]],
        fmt="o", color=HEAVY, capsize=3, label=f"measured on {n} patients (95% range)",
    )  # fmt: skip
    ax.set(
        xlabel="Promised share of patients inside their interval",
        ylabel="Measured share inside (cross-validated)",
        title="Do the intervals keep their promise?",
        xlim=(0.4, 1.0),
        ylim=(0.4, 1.0),
    )
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_loss_curve(artifact: ModelArtifact, loss_curve: Sequence[float], path: Path) -> None:
    plt = _pyplot()
    optimum = artifact.metrics.optimal_train_mse
    gaps = [max(loss - optimum, 1e-12) / optimum for loss in loss_curve]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.semilogy(range(1, len(gaps) + 1), gaps)
    ax.axhline(
        next(g for g in artifact.metrics.gates if g.name == CONVERGENCE_GATE).threshold,
        color="C3",
        linestyle="--",
        label="convergence gate",
    )
    ax.set(
        xlabel="pass over the training patients (epoch)",
        ylabel="(training MSE − optimum) / optimum",
        title="Training: distance to the exact least-squares fit",
    )
    ax.legend()
    _save(fig, path)
