"""The model card's three plots (matplotlib: a dev dependency, or the package's ``report`` extra). The PNGs
carry no software version (``metadata={"Software": None}``), so the same run writes the same bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
from matplotlib.figure import Figure

from ..core.artifact import CONVERGENCE_GATE, ModelArtifact
from ..core.contract import BMI_MAX, BMI_MIN
from . import tables
from .artifact_file import write_atomically
from .dataset import HOLDOUT_ROWS, TRAIN_ROWS, Dataset, FloatArray

HEAVY: Final = "#1f4e79"
LIGHT: Final = "#9ecae1"


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    png = io.BytesIO()  # rendered first, then written as the artifact is: never through a FIFO or a link
    fig.savefig(png, format="png", metadata={"Software": None})
    write_atomically(path, png.getvalue())


def plot_fit(artifact: ModelArtifact, dataset: Dataset, path: Path) -> None:
    """The served answers over every BMI the service accepts, by the function's own code."""
    feature, level = artifact.feature, artifact.interval.level
    bmi = np.linspace(BMI_MIN, BMI_MAX, 1801)
    values, lower, upper = tables.served(artifact, bmi.tolist())
    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.subplots()
    for low, high in ((BMI_MIN, feature.train_min), (feature.train_max, BMI_MAX)):
        ax.axvspan(low, high, color="0.92", zorder=0)
    ax.text(
        feature.train_max + 1, 10, "extrapolation: outside the training BMIs,\nno coverage promise", size=8
    )
    ax.fill_between(
        bmi, lower, upper, color=LIGHT, alpha=0.6, step="mid",
        label=f"{level:.0%} prediction interval (as served)",
    )  # fmt: skip
    ax.scatter(dataset.bmi[TRAIN_ROWS], dataset.target[TRAIN_ROWS], s=9, color="0.35", alpha=0.5,
               label="study patients (training)")  # fmt: skip
    ax.scatter(dataset.bmi[HOLDOUT_ROWS], dataset.target[HOLDOUT_ROWS], s=26, color="C3", marker="D",
               label="last 20 patients (hold-out)")  # fmt: skip
    ax.plot(bmi, values, color=HEAVY, linewidth=2, label="prediction (as served)")
    ax.set(
        xlabel="Body-mass index, BMI (kg/m²)",
        ylabel="Disease progression after one year (score)",
        title=f"Predicted progression by BMI, with its {level:.0%} interval",
        xlim=(BMI_MIN, BMI_MAX),
        ylim=(artifact.outcome.low - 10, artifact.outcome.high + 10),
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_calibration(artifact: ModelArtifact, y: FloatArray, predicted: FloatArray, path: Path) -> None:
    """Observed against predicted by tenth of the cross-validated prediction, with the calibration line."""
    tenths = np.array_split(np.argsort(predicted, kind="stable"), 10)
    means = np.array([[predicted[t].mean(), y[t].mean()] for t in tenths])
    slope, intercept = (
        artifact.metrics.estimates[k].value for k in ("calibration_slope", "calibration_intercept")
    )
    line = np.array([means[:, 0].min() - 10, means[:, 0].max() + 10])
    fig = Figure(figsize=(5.5, 5), dpi=100)
    ax = fig.subplots()
    ax.plot(line, line, color="0.5", linestyle="--", label="perfect calibration")
    ax.plot(
        line,
        intercept + slope * line,
        color="C2",
        label=f"fitted: slope {slope:.2f}, intercept {intercept:.0f}",
    )
    ax.plot(means[:, 0], means[:, 1], "o", color=HEAVY, label="a tenth of the patients (means)")
    ax.set(
        xlabel="Predicted progression (cross-validated)",
        ylabel="Observed progression",
        title="Observed against predicted",
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_loss_curve(artifact: ModelArtifact, loss_curve: Sequence[float], path: Path) -> None:
    optimum = artifact.metrics.optimal_train_mse
    gaps = [max(loss - optimum, 1e-12) / optimum for loss in loss_curve]
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
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
