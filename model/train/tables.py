"""The model card's tables and lists, each a function of the outcome's numbers (Markdown)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np

from ..core.artifact import ModelArtifact
from . import stats
from .conformal import BoolArray, NestedCrossValidation
from .dataset import Dataset, FloatArray

EXAMPLE_BMIS: Final = (20.0, 25.0, 27.3, 30.0, 35.0, 40.0)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def error_table(a: ModelArtifact) -> str:
    m, holdout = a.metrics, a.training.n_holdout
    return _table(
        ("measure", "value", "in words"),
        [
            ("typical error (root-mean-square), cross-validated", f"{m.cv_rmse:.0f}",
             "the size of a typical miss on patients the model had not seen"),
            ("average absolute error, cross-validated", f"{m.cv_mae:.0f}",
             "on average a prediction is off by about this much, up or down"),
            (f"typical / average error on the last {holdout} patients (hold-out)",
             f"{math.sqrt(m.holdout_mse):.0f} / {m.holdout_mae:.0f}",
             f"these {holdout} happen to be easier than average"),
            ("typical error on the patients it was fitted to", f"{math.sqrt(m.train_mse):.0f}", ""),
            ("share of differences explained (R²), cross-validated",
             f"{m.cv_r2_mean:.2f} ± {m.cv_r2_std:.2f}",
             "about a third; 1 would be perfect, 0 no better than the average"),
            ("R² on the hold-out / on the fitted patients", f"{m.holdout_r2:.2f} / {m.train_r2:.2f}", ""),
        ],
    )  # fmt: skip


def coverage_table(a: ModelArtifact, cv_inside: int, n_train: int, holdout_inside: int) -> str:
    interval, holdout = a.interval, a.training.n_holdout
    return _table(
        ("check", "patients", "inside their interval", "share", "plausible range (95%)"),
        [
            ("cross-validated, training patients (the gate)", n_train, cv_inside,
             stats.pct(interval.cv_coverage), stats.plausible_range(cv_inside, n_train)),
            (f"the last {holdout} patients (hold-out)", holdout, holdout_inside,
             stats.pct(interval.holdout_coverage), stats.plausible_range(holdout_inside, holdout)),
        ],
    )  # fmt: skip


def example_rows(artifact: ModelArtifact) -> str:
    rows = []
    for bmi in EXAMPLE_BMIS:
        prediction = artifact.coefficients.predict(bmi)
        lower, upper = artifact.interval.bounds(bmi, prediction)
        rows.append(f"| {bmi:g} | {prediction:.0f} | {lower} to {upper} | {upper - lower} |")
    return "\n".join(rows)


def levels_table(nested: NestedCrossValidation) -> str:
    levels = sorted(nested.half_widths)
    return _table(
        ("promised", *(f"{level:.0%}" for level in levels)),
        [("measured", *(stats.pct(nested.coverage(level)) for level in levels))],
    )


def subgroup_rows(dataset: Dataset, errors: FloatArray, covered: BoolArray) -> str:
    everyone = np.ones_like(covered)
    rows = [_subgroup_row("**everyone**", everyone, errors, covered)]
    for heading, groups in stats.subgroups(dataset):
        rows += [_subgroup_row(f"{heading} {g.name}", g.rows, errors, covered) for g in groups]
    return "\n".join(rows)


def _subgroup_row(name: str, rows: BoolArray, errors: FloatArray, covered: BoolArray) -> str:
    n = int(rows.sum())
    if n < stats.MIN_SUBGROUP:
        return f"| {name} | {n} | too small to say anything | | | |"
    inside = int(covered[rows].sum())
    return (
        f"| {name} | {n} | {stats.rmse(errors[rows]):.0f} | {stats.mae(errors[rows]):.0f} | "
        f"{stats.pct(inside / n)} | {stats.plausible_range(inside, n)} |"
    )


def off_promise(dataset: Dataset, covered: BoolArray, level: float) -> list[str]:
    """Every reportable group whose plausible range excludes the promised level, described."""
    off = []
    for what, groups in stats.subgroups(dataset):
        for g in groups:
            n, inside = int(g.rows.sum()), int(covered[g.rows].sum())
            low, high = stats.wilson(inside, n)
            if n >= stats.MIN_SUBGROUP and not low <= level <= high:
                side = "fewer" if high < level else "more"
                off.append(f"{what} {g.name}, {stats.pct(inside / n)} inside ({side} than promised)")
    return off


def coverage_remark(off: list[str], level: float) -> str:
    if not off:
        return (
            f"No group with enough patients is clearly off the {level:.0%} promise; the ranges are wide, "
            "so smaller differences cannot be ruled out."
        )
    return (
        f"Clearly off the {level:.0%} promise, given their size: {'; '.join(off)}. The promise holds on "
        "average over the study's patients, not within every group."
    )


def cohort(dataset: Dataset) -> str:
    def spread(values: FloatArray, decimals: int) -> str:
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        return (
            f"{values.min():.{decimals}f}–{values.max():.{decimals}f}, median {median:.{decimals}f} "
            f"(half of the patients between {q1:.{decimals}f} and {q3:.{decimals}f})"
        )

    n = dataset.bmi.size
    sexes = ", ".join(f"sex code {code}: {int((dataset.sex == code).sum())}" for code in (1, 2))
    bmi_bands = ", ".join(
        f"{name.split(' (')[0]}: {int(((dataset.bmi >= low) & (dataset.bmi < high)).sum())}"
        for name, low, high in stats.BMI_BANDS
    )
    ages = ", ".join(
        f"{low}–{high - 1}: {int(((dataset.age >= low) & (dataset.age < high)).sum())}"
        for low, high in stats.AGE_BANDS
    )
    return f"""| | all {n} patients |
|---|---|
| sex | {sexes} |
| age (years) | {spread(dataset.age, 0)} |
| age bands | {ages} |
| BMI (kg/m²) | {spread(dataset.bmi, 1)} |
| BMI bands | {bmi_bands} |
| progression after one year | {spread(dataset.target, 0)} |"""


def gates(artifact: ModelArtifact) -> str:
    return _table(
        ("gate", "requirement", "value", "result"),
        [
            (g.name, f"{g.comparison} {g.threshold:g}", f"{g.value:.6g}", "pass" if g.passed else "**FAIL**")
            for g in artifact.metrics.gates
        ],
    )
