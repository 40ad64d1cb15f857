"""The model card: a Markdown page for the people who will read it (clinicians and product owners first,
ML engineers last), plus three plots (matplotlib: a dev dependency, or the package's `report` extra).

Every number comes from the training outcome (the artifact, the data, the nested cross-validation that
measured the interval) and is printed to the precision it deserves: whole units for the outcome, which a
typical error of ~50 makes the honest resolution, percentages with one decimal for coverage. The PNGs
carry no software version (``metadata={"Software": None}``), so the same run writes the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ..core.artifact import CALIBRATION_GATE, CONVERGENCE_GATE, QUALITY_GATE, ModelArtifact
from .conformal import BoolArray, NestedCrossValidation
from .dataset import HOLDOUT_ROWS, TRAIN_ROWS, Dataset, FloatArray
from .evaluation import random_holdout_pass_rate

if TYPE_CHECKING:
    from .pipeline import TrainingOutcome

RANDOM_SPLITS: Final = 2000
CARD_NAME: Final = "model_card.md"
FIT_PLOT: Final = "model_card_fit.png"
CALIBRATION_PLOT: Final = "model_card_calibration.png"
LOSS_PLOT: Final = "model_card_loss_curve.png"
# Below this many patients a group's coverage is not reported: at 90% coverage, the 95% plausible range
# of an estimate from 30 patients is already about +-11 percentage points.
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
EXAMPLE_BMIS: Final = (20.0, 25.0, 27.3, 30.0, 35.0, 40.0)
HEAVY: Final = "#1f4e79"
LIGHT: Final = "#9ecae1"


def write_report(outcome: TrainingOutcome, directory: Path) -> list[Path]:
    """Writes ``model_card.md`` and its plots into ``directory``; returns what it wrote, the card first."""
    directory.mkdir(parents=True, exist_ok=True)
    _plot_fit(outcome.artifact, outcome.dataset, directory / FIT_PLOT)
    _plot_calibration(outcome.artifact, outcome.nested, directory / CALIBRATION_PLOT)
    _plot_loss_curve(outcome.artifact, outcome.fit.loss_curve, directory / LOSS_PLOT)
    card = directory / CARD_NAME
    card.write_text(render_card(outcome), encoding="utf-8")
    return [card, *(directory / name for name in (FIT_PLOT, CALIBRATION_PLOT, LOSS_PLOT))]


# --- Numbers -------------------------------------------------------------------------------------------
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


def _rmse(errors: FloatArray) -> float:
    return math.sqrt(float(np.mean(errors**2)))


def _mae(errors: FloatArray) -> float:
    return float(np.mean(np.abs(errors)))


def _pct(share: float) -> str:
    return f"{share:.1%}"


def _range(inside: int, n: int) -> str:
    low, high = wilson(inside, n)
    return f"{low:.0%}–{high:.0%}"


def _spearman(a: FloatArray, b: FloatArray) -> float:
    def ranks(values: FloatArray) -> FloatArray:
        return np.argsort(np.argsort(values)).astype(np.float64)

    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


# --- The card ------------------------------------------------------------------------------------------
def render_card(outcome: TrainingOutcome) -> str:
    a, dataset, nested = outcome.artifact, outcome.dataset, outcome.nested
    m, t, f, interval = a.metrics, a.training, a.feature, a.interval
    level = interval.level
    quality = next(g for g in m.gates if g.name == QUALITY_GATE)
    calibration = next(g for g in m.gates if g.name == CALIBRATION_GATE)
    errors = nested.y - nested.predictions
    n_train, covered = errors.size, nested.covered(level)
    n_holdout = t.n_holdout
    holdout_inside = round(interval.holdout_coverage * n_holdout)
    example_bmi = 27.3  # the API documentation's example
    example = _answer(a, example_bmi)
    median_bmi = float(np.median(dataset.train.x))
    lean, heavy = 20.0, 38.0
    similar = dataset.target[(dataset.bmi >= 25.0) & (dataset.bmi < 26.0)]
    pass_rate = random_holdout_pass_rate(
        dataset.bmi,
        dataset.target,
        holdout_size=n_holdout,
        threshold=quality.threshold,
        splits=RANDOM_SPLITS,
        seed=t.seed,
    )
    small = [
        f"{what} {g.name}: {int(g.rows.sum())} patients"
        for what, groups in subgroups(dataset)
        for g in groups
        if g.rows.sum() < MIN_SUBGROUP
    ]
    off = _off_promise(dataset, covered, level)
    return f"""# Model card: {a.model_version}

Generated by `python -m model.train --report <dir>`; do not edit by hand. Numbers are rounded for reading;
the exact values are in the model artifact (`GET /v1/model`, or `diabetes-progression info` and
`load_model().artifact` from the installed package:
[Use it from Python / from the shell](../README.md#use-it-from-python--from-the-shell)).

## Limits: read these first
- **Not a diagnostic tool.** It turns one measurement (BMI) into a rough estimate of one number. It cannot
  say whether a patient is ill, how their disease will go, or what to do. At most, use it to rank or triage,
  next to clinical judgement and never instead of it.
- **One study.** {len(dataset.bmi)} patients with diabetes, from the data set of one publication (Efron et
  al. 2004, "Least Angle Regression"). The data say nothing about where or when they were seen, how they
  were chosen, or their ethnicity; the model may do worse for patients unlike them, in ways this card cannot
  show.
- **One input.** BMI alone explains about a third of the differences in progression between patients
  (cross-validated R² {m.cv_r2_mean:.2f}): the {similar.size} patients with a BMI from 25 to 25.9 had
  outcomes from {similar.min():.0f} to {similar.max():.0f}. The prediction interval shows this: at the median
  BMI ({median_bmi:.1f}) it spans about ±{interval.half_width(median_bmi):.0f}.
- **Extrapolation.** The model has seen BMIs from {f.train_min:.1f} to {f.train_max:.1f} kg/m². The service
  answers from 10 to 100, but outside {f.train_min:.1f}–{f.train_max:.1f} it flags the answer `extrapolated`:
  the straight line is then continued beyond the data, the prediction is a guess, and the interval's
  {level:.0%} promise does not apply.
- **Small groups.** Some groups are too small to tell how well the model does for them:
  {"; ".join(small) if small else "none"}.
- **A promise on average.** The interval's {level:.0%} holds over the study's patients as a whole, not
  necessarily within every group. {"Clearly off: " + "; ".join(off) if off else "No group is clearly off"}
  (see "By group").
- **Sex is a code.** The data record sex as 1 or 2 without saying which is which, so this card says
  "sex code 1" and "sex code 2".

## What it predicts, from what
- **Output: disease progression one year after baseline.** The study's "quantitative measure of disease
  progression one year after baseline": a score without a unit, which the source does not define further;
  higher means more progression. In this data it runs from {dataset.target.min():.0f} to
  {dataset.target.max():.0f} (median {np.median(dataset.target):.0f}).
- **Input: body-mass index (BMI)** at baseline: weight in kilograms divided by the square of height in
  metres (kg/m²). For adults, 18.5–24.9 is called normal, 25–29.9 overweight, 30 and over obese.
- **The model: a straight line**, progression ≈ {a.coefficients.slope:.2f} × BMI
  {_signed(a.coefficients.intercept, 1)}: each extra point of BMI adds about {a.coefficients.slope:.0f} to
  the prediction.

## How to read an answer
For a BMI of {example_bmi:g} the service answers {example}, at the {level:.0%} level.

- **For this one patient**, {a.coefficients.predict(example_bmi):.0f} is the model's best single guess, and
  the interval is the range of outcomes it considers plausible for someone with this BMI. The {level:.0%} is
  not a guarantee for this particular patient: it describes how often such intervals turn out right across
  many patients like those in the study (for some groups less often: see "By group").
- **Over many patients** like those in the study, about {round(level * 10)} in 10 measured outcomes fall
  inside their interval, and about {10 - round(level * 10)} in 10 fall outside it (above or below).
  Checked on this data: {int(covered.sum())} of {n_train} patients ({_pct(nested.coverage(level))}), each
  judged by a model that had not seen them.
- **Wide intervals are the honest part.** They are wide because BMI says little. They also widen with BMI,
  because outcomes vary more among heavier patients: about ±{interval.half_width(lean):.0f} at BMI
  {lean:g}, ±{interval.half_width(heavy):.0f} at BMI {heavy:g}.
- **Precision.** The API returns the prediction with full computer precision (for BMI {example_bmi:g}:
  {a.coefficients.predict(example_bmi)!r}); the digits after the decimal point carry no information, as
  predictions are off by about {m.cv_mae:.0f} on average. Read it as
  {a.coefficients.predict(example_bmi):.0f}. The interval's bounds are whole numbers, rounded outward.
- At low BMI the lower bound can fall below {dataset.target.min():.0f}, the lowest outcome in the study: the
  interval is symmetric around a straight line and the outcomes are not. Read it as "low".

| BMI (kg/m²) | prediction | {level:.0%} interval | width |
|---|---|---|---|
{_example_rows(a)}

![Predictions and their {level:.0%} intervals, with the study's patients]({FIT_PLOT})

## How accurate it is
### Errors, in the outcome's own units
{_error_table(a)}

"Cross-validated": the {n_train} training patients are split into {m.cv_folds} groups; each group is
predicted by a model fitted on the other {m.cv_folds - 1}, so every error is measured on a patient the model
had not seen.

### Does the {level:.0%} interval keep its promise?
{_coverage_table(a, int(covered.sum()), n_train, holdout_inside)}

The gate requires the cross-validated share to lie within {calibration.threshold:g} of {level:g}
({level - calibration.threshold:.0%}–{level + calibration.threshold:.0%}); training fails, and no model is
written, otherwise. The {n_holdout}-patient hold-out can say very little: {holdout_inside} of {n_holdout} is
compatible with anything from {_range(holdout_inside, n_holdout).replace("–", " to ")}.

At other levels, built the same way and checked the same way (the plot below):

{_levels_table(nested)}

![Promised against measured share of patients inside their interval]({CALIBRATION_PLOT})

### By group
Cross-validated, on the {n_train} training patients. "Plausible range" is where the true share inside the
{level:.0%} interval probably lies, given how few patients a group has. Below {MIN_SUBGROUP} patients a group
is too small to say anything.

| group | patients | typical error | average error | inside the {level:.0%} interval | plausible range |
|---|---|---|---|---|---|
{_subgroup_rows(dataset, errors, covered)}

{_coverage_remark(off, level)}

## The patients
{_cohort(dataset)}

The first {n_train} patients (in the data's order) train the model; the last {n_holdout} are the hold-out,
the split of the system this service replaces.

## How it was made
**The line** is fitted by stochastic gradient descent on the squared error (one patient per update,
shuffled passes, standardised BMI, decaying learning rate, stopped when the full gradient is below
tolerance: {", ".join(f"{k}={v}" for k, v in t.hyperparameters.items())}; seed {t.seed};
{t.epochs_run} passes). The convergence gate compares its training error with the exact least-squares
optimum ({m.optimal_train_mse:.4f}), so a bad optimiser cannot pass on a lucky split.

**The interval** is normalised conformal prediction on cross-validated errors (`{interval.method}`):
prediction ± {interval.quantile:.3f} × s(BMI), where s(BMI) = max({interval.scale.intercept:.2f}
{_signed(interval.scale.slope, 3)} × BMI, {interval.scale.floor:.2f}) is the typical absolute error at that
BMI. Why a BMI-dependent width: the cross-validated absolute errors grow with BMI (Spearman rank correlation
{_spearman(dataset.train.x, np.abs(errors)):.2f}), from about {interval.scale.at(lean):.0f} at BMI {lean:g}
to {interval.scale.at(heavy):.0f} at BMI {heavy:g}; one width for everyone would be too wide for lean
patients and too narrow for heavy ones. s is a least-squares line through the {m.cv_folds}-fold
cross-validated absolute errors of the training patients, floored at half their mean so it stays positive
for every BMI the service accepts; {interval.quantile:.3f} is the conformal quantile: the
⌈(n + 1) × {level:g}⌉-th smallest of the n = {n_train} ratios |error| / s(BMI). Because the same patients
serve to fit and to calibrate, the textbook guarantee is approximate, so the coverage is measured, by nested
cross-validation: for each of the {m.cv_folds} outer groups, the line, s and the quantile are rebuilt from
the other groups alone (their own inner cross-validation included), and the held-out patients are checked
against the resulting intervals. The shares above and in the plots are those checks.

{_gates(a)}

![SGD convergence]({LOSS_PLOT})

**Data:** {t.dataset}; sha256:
{chr(10).join(f"- `{name}`: `{digest}`" for name, digest in t.data_sha256.items())}

**The 0.4 gate and this split.** The quality gate is measured on the last {n_holdout} patients
(hold-out R² {m.holdout_r2:.2f}), which the system this replaces used; on random {n_holdout}-patient
hold-outs ({RANDOM_SPLITS} splits, least squares) it would pass {pass_rate:.0%} of the time. It is kept for
compatibility; the cross-validated figures are the ones to plan with.
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def _error_table(a: ModelArtifact) -> str:
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


def _coverage_table(a: ModelArtifact, cv_inside: int, n_train: int, holdout_inside: int) -> str:
    interval, holdout = a.interval, a.training.n_holdout
    return _table(
        ("check", "patients", "inside their interval", "share", "plausible range (95%)"),
        [
            ("cross-validated, training patients (the gate)", n_train, cv_inside,
             _pct(interval.cv_coverage), _range(cv_inside, n_train)),
            (f"the last {holdout} patients (hold-out)", holdout, holdout_inside,
             _pct(interval.holdout_coverage), _range(holdout_inside, holdout)),
        ],
    )  # fmt: skip


def _signed(value: float, decimals: int) -> str:
    return f"{'−' if value < 0 else '+'} {abs(value):.{decimals}f}"


def _answer(artifact: ModelArtifact, bmi: float) -> str:
    prediction = artifact.coefficients.predict(bmi)
    lower, upper = artifact.interval.bounds(bmi, prediction)
    return f"{prediction:.0f} [{lower}, {upper}]"


def _example_rows(artifact: ModelArtifact) -> str:
    rows = []
    for bmi in EXAMPLE_BMIS:
        prediction = artifact.coefficients.predict(bmi)
        lower, upper = artifact.interval.bounds(bmi, prediction)
        rows.append(f"| {bmi:g} | {prediction:.0f} | {lower} to {upper} | {upper - lower} |")
    return "\n".join(rows)


def _levels_table(nested: NestedCrossValidation) -> str:
    levels = sorted(nested.half_widths)
    return _table(
        ("promised", *(f"{level:.0%}" for level in levels)),
        [("measured", *(_pct(nested.coverage(level)) for level in levels))],
    )


def _subgroup_rows(dataset: Dataset, errors: FloatArray, covered: BoolArray) -> str:
    everyone = np.ones_like(covered)
    rows = [_subgroup_row("**everyone**", everyone, errors, covered)]
    for heading, groups in subgroups(dataset):
        rows += [_subgroup_row(f"{heading} {g.name}", g.rows, errors, covered) for g in groups]
    return "\n".join(rows)


def _subgroup_row(name: str, rows: BoolArray, errors: FloatArray, covered: BoolArray) -> str:
    n = int(rows.sum())
    if n < MIN_SUBGROUP:
        return f"| {name} | {n} | too small to say anything | | | |"
    inside = int(covered[rows].sum())
    return (
        f"| {name} | {n} | {_rmse(errors[rows]):.0f} | {_mae(errors[rows]):.0f} | "
        f"{_pct(inside / n)} | {_range(inside, n)} |"
    )


def _off_promise(dataset: Dataset, covered: BoolArray, level: float) -> list[str]:
    """Every reportable group whose plausible range excludes the promised level, described."""
    off = []
    for what, groups in subgroups(dataset):
        for g in groups:
            n, inside = int(g.rows.sum()), int(covered[g.rows].sum())
            low, high = wilson(inside, n)
            if n >= MIN_SUBGROUP and not low <= level <= high:
                side = "fewer" if high < level else "more"
                off.append(f"{what} {g.name}, {_pct(inside / n)} inside ({side} than promised)")
    return off


def _coverage_remark(off: list[str], level: float) -> str:
    if not off:
        return (
            f"No group with enough patients is clearly off the {level:.0%} promise; the ranges are wide, "
            "so smaller differences cannot be ruled out."
        )
    return (
        f"Clearly off the {level:.0%} promise, given their size: {'; '.join(off)}. The promise holds on "
        "average over the study's patients, not within every group."
    )


def _cohort(dataset: Dataset) -> str:
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
        for name, low, high in BMI_BANDS
    )
    ages = ", ".join(
        f"{low}–{high - 1}: {int(((dataset.age >= low) & (dataset.age < high)).sum())}"
        for low, high in AGE_BANDS
    )
    return f"""| | all {n} patients |
|---|---|
| sex | {sexes} |
| age (years) | {spread(dataset.age, 0)} |
| age bands | {ages} |
| BMI (kg/m²) | {spread(dataset.bmi, 1)} |
| BMI bands | {bmi_bands} |
| progression after one year | {spread(dataset.target, 0)} |"""


def _gates(artifact: ModelArtifact) -> str:
    return _table(
        ("gate", "requirement", "value", "result"),
        [
            (g.name, f"{g.comparison} {g.threshold:g}", f"{g.value:.6g}", "pass" if g.passed else "**FAIL**")
            for g in artifact.metrics.gates
        ],
    )


# --- Plots -----------------------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    _pyplot().close(fig)


def _plot_fit(artifact: ModelArtifact, dataset: Dataset, path: Path) -> None:
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


def _plot_calibration(artifact: ModelArtifact, nested: NestedCrossValidation, path: Path) -> None:
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


def _plot_loss_curve(artifact: ModelArtifact, loss_curve: Sequence[float], path: Path) -> None:
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
