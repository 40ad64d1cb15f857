"""The model card: a Markdown page for clinicians and product owners first, ML engineers last (``card.md``
filled in here), with its tables (:mod:`.tables`) and plots (:mod:`.plots`). Every number comes from the
training outcome, printed to the precision it deserves (whole units for the outcome, one decimal for
coverage percentages)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from ..core.artifact import CALIBRATION_GATE, QUALITY_GATE, ModelArtifact
from . import plots, stats, tables
from .conformal import BoolArray, NestedCrossValidation
from .dataset import Dataset, FloatArray
from .evaluation import random_holdout_pass_rate

if TYPE_CHECKING:
    from .pipeline import TrainingOutcome

RANDOM_SPLITS: Final = 2000
CARD_NAME: Final = "model_card.md"
FIT_PLOT: Final = "model_card_fit.png"
CALIBRATION_PLOT: Final = "model_card_calibration.png"
LOSS_PLOT: Final = "model_card_loss_curve.png"
EXAMPLE_BMI: Final = 27.3  # the API documentation's example
LEAN, HEAVY_BMI = 20.0, 38.0  # where the card shows how the interval widens with BMI
TEMPLATE: Final = Path(__file__).with_name("card.md")


def write_report(outcome: TrainingOutcome, directory: Path) -> list[Path]:
    """Writes ``model_card.md`` and its plots into ``directory``; returns what it wrote, the card first."""
    directory.mkdir(parents=True, exist_ok=True)
    plots.plot_fit(outcome.artifact, outcome.dataset, directory / FIT_PLOT)
    plots.plot_calibration(outcome.artifact, outcome.nested, directory / CALIBRATION_PLOT)
    plots.plot_loss_curve(outcome.artifact, outcome.fit.loss_curve, directory / LOSS_PLOT)
    card = directory / CARD_NAME
    card.write_text(render_card(outcome), encoding="utf-8")
    return [card, *(directory / name for name in (FIT_PLOT, CALIBRATION_PLOT, LOSS_PLOT))]


# --- The card ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Facts:
    """What several sections of the card read: the outcome, and its cross-validated errors and coverage."""

    a: ModelArtifact
    dataset: Dataset
    nested: NestedCrossValidation
    errors: FloatArray  # cross-validated, training rows
    covered: BoolArray  # inside the served level's interval, cross-validated
    holdout_inside: int
    off: list[str]

    @property
    def level(self) -> float:
        return self.a.interval.level


def render_card(outcome: TrainingOutcome) -> str:
    """``card.md`` (a :class:`string.Template`) filled in with the outcome's numbers."""
    a, nested = outcome.artifact, outcome.nested
    covered = nested.covered(a.interval.level)
    facts = _Facts(
        a=a,
        dataset=outcome.dataset,
        nested=nested,
        errors=nested.y - nested.predictions,
        covered=covered,
        holdout_inside=round(a.interval.holdout_coverage * a.training.n_holdout),
        off=tables.off_promise(outcome.dataset, covered, a.interval.level),
    )
    values = {**_limits(facts), **_reading(facts), **_accuracy(facts), **_method(facts)}
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def _limits(facts: _Facts) -> dict[str, object]:
    a, dataset, interval = facts.a, facts.dataset, facts.a.interval
    similar = dataset.target[(dataset.bmi >= 25.0) & (dataset.bmi < 26.0)]
    median_bmi = float(np.median(dataset.train.x))
    small = [
        f"{what} {g.name}: {int(g.rows.sum())} patients"
        for what, groups in stats.subgroups(dataset)
        for g in groups
        if g.rows.sum() < stats.MIN_SUBGROUP
    ]
    return {
        "model_version": a.model_version,
        "n_patients": len(dataset.bmi),
        "cv_r2_mean": f"{a.metrics.cv_r2_mean:.2f}",
        "similar_n": similar.size,
        "similar_min": f"{similar.min():.0f}",
        "similar_max": f"{similar.max():.0f}",
        "median_bmi": f"{median_bmi:.1f}",
        "half_width_at_median": f"{interval.half_width(median_bmi):.0f}",
        "train_min": f"{a.feature.train_min:.1f}",
        "train_max": f"{a.feature.train_max:.1f}",
        "level": f"{facts.level:.0%}",
        "small_groups": "; ".join(small) if small else "none",
        "off_promise": "Clearly off: " + "; ".join(facts.off) if facts.off else "No group is clearly off",
        "target_min": f"{dataset.target.min():.0f}",
        "target_max": f"{dataset.target.max():.0f}",
        "target_median": f"{np.median(dataset.target):.0f}",
        "slope": f"{a.coefficients.slope:.2f}",
        "intercept": _signed(a.coefficients.intercept, 1),
        "slope_whole": f"{a.coefficients.slope:.0f}",
    }


def _reading(facts: _Facts) -> dict[str, object]:
    a, interval, level = facts.a, facts.a.interval, facts.level
    prediction = a.coefficients.predict(EXAMPLE_BMI)
    return {
        "example_bmi": f"{EXAMPLE_BMI:g}",
        "example": _answer(a, EXAMPLE_BMI),
        "example_prediction": f"{prediction:.0f}",
        "example_prediction_repr": repr(prediction),
        "inside_in_10": round(level * 10),
        "outside_in_10": 10 - round(level * 10),
        "cv_inside": int(facts.covered.sum()),
        "n_train": facts.errors.size,
        "cv_coverage": stats.pct(facts.nested.coverage(level)),
        "half_width_lean": f"{interval.half_width(LEAN):.0f}",
        "lean": f"{LEAN:g}",
        "half_width_heavy": f"{interval.half_width(HEAVY_BMI):.0f}",
        "heavy": f"{HEAVY_BMI:g}",
        "cv_mae": f"{a.metrics.cv_mae:.0f}",
        "example_rows": tables.example_rows(a),
        "fit_plot": FIT_PLOT,
    }


def _accuracy(facts: _Facts) -> dict[str, object]:
    a, level, n_holdout, inside = facts.a, facts.level, facts.a.training.n_holdout, facts.holdout_inside
    tolerance = next(g for g in a.metrics.gates if g.name == CALIBRATION_GATE).threshold
    return {
        "error_table": tables.error_table(a),
        "cv_folds": a.metrics.cv_folds,
        "cv_folds_minus_1": a.metrics.cv_folds - 1,
        "coverage_table": tables.coverage_table(a, int(facts.covered.sum()), facts.errors.size, inside),
        "gate_tolerance": f"{tolerance:g}",
        "level_number": f"{level:g}",
        "gate_low": f"{level - tolerance:.0%}",
        "gate_high": f"{level + tolerance:.0%}",
        "n_holdout": n_holdout,
        "holdout_inside": inside,
        "holdout_range": stats.plausible_range(inside, n_holdout).replace("–", " to "),
        "levels_table": tables.levels_table(facts.nested),
        "calibration_plot": CALIBRATION_PLOT,
        "min_subgroup": stats.MIN_SUBGROUP,
        "subgroup_rows": tables.subgroup_rows(facts.dataset, facts.errors, facts.covered),
        "coverage_remark": tables.coverage_remark(facts.off, level),
        "cohort": tables.cohort(facts.dataset),
    }


def _method(facts: _Facts) -> dict[str, object]:
    a, dataset, t, interval = facts.a, facts.dataset, facts.a.training, facts.a.interval
    quality = next(g for g in a.metrics.gates if g.name == QUALITY_GATE)
    pass_rate = random_holdout_pass_rate(
        dataset.bmi,
        dataset.target,
        holdout_size=t.n_holdout,
        threshold=quality.threshold,
        splits=RANDOM_SPLITS,
        seed=t.seed,
    )
    return {
        "hyperparameters": ", ".join(f"{k}={v}" for k, v in t.hyperparameters.items()),
        "seed": t.seed,
        "epochs_run": t.epochs_run,
        "optimal_train_mse": f"{a.metrics.optimal_train_mse:.4f}",
        "method": interval.method,
        "quantile": f"{interval.quantile:.3f}",
        "scale_intercept": f"{interval.scale.intercept:.2f}",
        "scale_slope": _signed(interval.scale.slope, 3),
        "scale_floor": f"{interval.scale.floor:.2f}",
        "spearman": f"{stats.spearman(dataset.train.x, np.abs(facts.errors)):.2f}",
        "scale_at_lean": f"{interval.scale.at(LEAN):.0f}",
        "scale_at_heavy": f"{interval.scale.at(HEAVY_BMI):.0f}",
        "gates": tables.gates(a),
        "loss_plot": LOSS_PLOT,
        "dataset": t.dataset,
        "data_digests": "\n".join(f"- `{name}`: `{digest}`" for name, digest in t.data_sha256.items()),
        "holdout_r2": f"{a.metrics.holdout_r2:.2f}",
        "random_splits": RANDOM_SPLITS,
        "pass_rate": f"{pass_rate:.0%}",
    }


def _signed(value: float, decimals: int) -> str:
    return f"{'−' if value < 0 else '+'} {abs(value):.{decimals}f}"


def _answer(artifact: ModelArtifact, bmi: float) -> str:
    prediction = artifact.coefficients.predict(bmi)
    lower, upper = artifact.interval.bounds(bmi, prediction)
    return f"{prediction:.0f} [{lower}, {upper}]"
