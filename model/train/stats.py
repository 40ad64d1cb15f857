"""The card's statistics of groups of patients: which groups, and what a share measured on a few of them is
compatible with (Wilson's score range)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from .conformal import BoolArray
from .dataset import TRAIN_ROWS, Dataset, FloatArray

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


def wilson(inside: int, n: int) -> tuple[float, float]:
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


def rmse(errors: FloatArray) -> float:
    return math.sqrt(float(np.mean(errors**2)))


def mae(errors: FloatArray) -> float:
    return float(np.mean(np.abs(errors)))


def pct(share: float) -> str:
    return f"{share:.1%}"


def plausible_range(inside: int, n: int) -> str:
    low, high = wilson(inside, n)
    return f"{low:.0%}–{high:.0%}"


def spearman(a: FloatArray, b: FloatArray) -> float:
    def ranks(values: FloatArray) -> FloatArray:
        return np.argsort(np.argsort(values)).astype(np.float64)

    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])
