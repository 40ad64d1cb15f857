"""The model card's table rows (Markdown, under card.md's headers) and lists, each from the outcome's numbers,
and the groups of patients they describe, with a share's plausible range when measured on a few (Wilson's)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from ..core import prediction
from ..core.artifact import ModelArtifact, PredictionInterval
from ..core.schemas import BatchPredictRequest
from .dataset import TRAIN_ROWS, BoolArray, Dataset, FloatArray
from .evaluation import mae, rmse

# Below this many patients a group's coverage is not reported: for a share near the served level, the 95%
# plausible range of an estimate from 30 patients is already about +-11 percentage points.
MIN_SUBGROUP: Final = 30
Z_95: Final = 1.959964  # the normal quantile of a 95% two-sided range
AGE_BANDS: Final = ((19, 40), (40, 50), (50, 60), (60, 80))  # years, [low, high)
# The WHO adult BMI categories (kg/m²): underweight, normal, overweight, obese class I, class II and over.
BMI_BANDS: Final = (
    ("under 18.5 (underweight)", 0.0, 18.5),
    ("18.5–24.9 (normal weight)", 18.5, 25.0),
    ("25–29.9 (overweight)", 25.0, 30.0),
    ("30–34.9 (obese, class I)", 30.0, 35.0),
    ("35 and over (obese, class II–III)", 35.0, math.inf),
)


def wilson(inside: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score range of a proportion: what ``inside`` of ``n`` is compatible with."""
    p, z2 = inside / n, Z_95 * Z_95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    rows: BoolArray  # over the training rows


def subgroups(dataset: Dataset) -> list[tuple[str, list[Group]]]:
    """The groups of the subgroup table, over the training rows (where the cross-validated answers are)."""
    sex, age, bmi = dataset.sex[TRAIN_ROWS], dataset.age[TRAIN_ROWS], dataset.bmi[TRAIN_ROWS]
    return [
        ("sex", [Group(f"code {code}", sex == code) for code in (1, 2)]),
        ("age", [Group(f"{low}–{high - 1} years", (age >= low) & (age < high)) for low, high in AGE_BANDS]),
        ("BMI", [Group(name, (bmi >= low) & (bmi < high)) for name, low, high in BMI_BANDS]),
    ]


def plausible_range(inside: float, n: int) -> str:
    low, high = wilson(inside, n)
    return f"{low:.0%}–{high:.0%}"


EXAMPLE_BMIS: Final = (10.0, 15.0, 20.0, 25.0, 27.3, 30.0, 35.0, 40.0, 45.0, 60.0, 100.0)


def _rows(rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table's rows, a | in a cell escaped (the header is card.md's, above the placeholder)."""
    lines = (" | ".join(str(cell).replace("|", "\\|") for cell in row) for row in rows)
    return "\n".join(f"| {line} |" for line in lines)


def coverage_rows(interval: PredictionInterval) -> str:
    """Per group: patients, share inside under nested cross-validation with its plausible range, and what
    the ranks behind those intervals promise (the upper gate's reference)."""
    return _rows(
        (g.group, g.n, f"{g.coverage:.1%}", plausible_range(g.coverage * g.n, g.n), f"{g.expected:.1%}")
        for g in interval.coverage
    )


def served(artifact: ModelArtifact, bmis: list[float]) -> tuple[list[float], list[int], list[int]]:
    """The service's predictions and bounds for ``bmis``, computed by the function's own code."""
    answer = prediction.respond_batch(artifact, BatchPredictRequest(bmi=bmis))[0]
    return answer["predictions"], answer["intervals"]["lower"], answer["intervals"]["upper"]


def example_rows(artifact: ModelArtifact) -> str:
    bmis = list(EXAMPLE_BMIS)
    first, last = artifact.feature.train_min, artifact.feature.train_max
    rows = []
    for bmi, value, lower, upper in zip(bmis, *served(artifact, bmis), strict=True):
        outside = max(first - bmi, bmi - last, 0.0)
        where = f"{outside:.1f} kg/m² {'below' if bmi < first else 'above'}" if outside else ""
        rows.append((f"{bmi:g}", f"{value:.0f}", f"{lower} to {upper}", upper - lower, where))
    return _rows(rows)


def subgroup_rows(dataset: Dataset, errors: FloatArray, covered: FloatArray) -> str:
    everyone = np.ones(covered.shape, dtype=bool)
    rows = [_subgroup_row("**everyone**", everyone, errors, covered)]
    for heading, groups in subgroups(dataset):
        rows += [_subgroup_row(f"{heading} {g.name}", g.rows, errors, covered) for g in groups]
    return "\n".join(rows)


def _subgroup_row(name: str, rows: BoolArray, errors: FloatArray, covered: FloatArray) -> str:
    n = int(rows.sum())
    if n < MIN_SUBGROUP:
        return f"| {name} | {n} | too small to say anything | | | |"
    inside = float(covered[rows].sum())
    return (
        f"| {name} | {n} | {rmse(errors[rows], 0.0):.0f} | {mae(errors[rows], 0.0):.0f} | "
        f"{inside / n:.1%} | {plausible_range(inside, n)} |"
    )


def coverage_remark(dataset: Dataset, covered: FloatArray, level: float) -> str:
    """Names every reportable group whose plausible range lies below the promised level."""
    off = []
    for what, groups in subgroups(dataset):
        for g in groups:
            n, inside = int(g.rows.sum()), float(covered[g.rows].sum())
            if n >= MIN_SUBGROUP and wilson(inside, n)[1] < level:
                off.append(f"{what} {g.name}, {inside / n:.1%} inside")
    if not off:
        return (
            f"No group with enough patients is clearly below the {level:.0%} promise; the ranges are wide, "
            "so smaller differences cannot be ruled out. Only the BMI bands are calibrated one by one."
        )
    return (
        f"Clearly below the {level:.0%} promise, given their size: {'; '.join(off)}. The promise is kept "
        "per BMI band, not within every other grouping."
    )


def cohort_rows(dataset: Dataset) -> str:
    def spread(values: FloatArray, decimals: int) -> str:
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        return (
            f"{values.min():.{decimals}f}–{values.max():.{decimals}f}, median {median:.{decimals}f} "
            f"(half of the patients between {q1:.{decimals}f} and {q3:.{decimals}f})"
        )

    sexes = ", ".join(f"sex code {code}: {int((dataset.sex == code).sum())}" for code in (1, 2))
    bmi_bands = ", ".join(
        f"{name.split(' (')[0]}: {int(((dataset.bmi >= low) & (dataset.bmi < high)).sum())}"
        for name, low, high in BMI_BANDS
    )
    ages = ", ".join(
        f"{low}–{high - 1}: {int(((dataset.age >= low) & (dataset.age < high)).sum())}"
        for low, high in AGE_BANDS
    )
    return f"""| sex | {sexes} |
| age (years) | {spread(dataset.age, 0)} |
| age bands | {ages} |
| BMI (kg/m²) | {spread(dataset.bmi, 1)} |
| BMI bands | {bmi_bands} |
| progression after one year | {spread(dataset.target, 0)} |"""


def gate_rows(artifact: ModelArtifact) -> str:
    return _rows(
        (g.name, f"{g.comparison} {g.threshold:g}", f"{g.value:.6g}", "pass" if g.passed else "**FAIL**")
        for g in artifact.metrics.gates
    )
