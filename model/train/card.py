"""The model card: a Markdown page for clinicians and product owners first, ML engineers last (``card.md``
filled in here), with its tables (:mod:`.tables`) and plots (:mod:`.plots`). Every number comes from the
training outcome, printed to the precision it deserves, and every range says what kind it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from ..core.artifact import CALIBRATION_GATE, MIN_GATED_GROUP, QUALITY_GATE, Estimate, ModelArtifact
from . import plots, tables
from .artifact_file import write_atomically
from .conformal import MIN_BAND_ROWS, band_of, binomial_tail, conformal_rank
from .evaluation import random_holdout_pass_rate

if TYPE_CHECKING:
    from .pipeline import TrainingOutcome

RANDOM_SPLITS: Final = 2000
CARD_NAME: Final = "model_card.md"
FIT_PLOT: Final = "model_card_fit.png"
CALIBRATION_PLOT: Final = "model_card_calibration.png"
LOSS_PLOT: Final = "model_card_loss_curve.png"
EXAMPLE_BMI: Final = 27.3  # the API documentation's example
LEAN, HEAVY_BMI = 20.0, 38.0  # where the card compares a lean and a heavy patient
TEMPLATE: Final = Path(__file__).with_name("card.md")


def write_report(outcome: TrainingOutcome, directory: Path) -> list[Path]:
    """Writes ``model_card.md`` and its plots into ``directory``; returns what it wrote, the card first."""
    directory.mkdir(parents=True, exist_ok=True)
    plots.plot_fit(outcome.artifact, outcome.dataset, directory / FIT_PLOT)
    plots.plot_calibration(
        outcome.artifact, outcome.dataset.train.y, outcome.cv_predictions, directory / CALIBRATION_PLOT
    )
    plots.plot_loss_curve(outcome.artifact, outcome.fit.loss_curve, directory / LOSS_PLOT)
    card = directory / CARD_NAME
    write_atomically(card, render_card(outcome).encode("utf-8"))
    return [card, *(directory / name for name in (FIT_PLOT, CALIBRATION_PLOT, LOSS_PLOT))]


@dataclass(frozen=True, slots=True)
class _CI:
    """A figure and its confidence interval, ``0.98 (95% CI 0.86 to 1.10)``, to the precision the template
    asks for (``{ci[cv_r2]:.2f}``)."""

    e: Estimate

    def __format__(self, spec: str) -> str:
        if not spec:  # a card placeholder that forgot its precision would print every digit
            raise ValueError("a confidence interval needs a format spec, e.g. {ci[cv_r2]:.2f}")
        e = self.e
        return f"{e.value:{spec}} ({e.level:.0%} CI {e.low:{spec}} to {e.high:{spec}})"


def render_card(outcome: TrainingOutcome) -> str:
    """``card.md`` filled in (:meth:`str.format_map`) with the artifact's fields (``a``, and its ``f``eature,
    ``o``utcome, ``i``nterval, ``m``etrics and ``t``raining), every figure with its interval (``ci``) and the
    numbers computed here."""
    a, m = outcome.artifact, outcome.artifact.metrics
    fields = {"a": a, "f": a.feature, "o": a.outcome, "i": a.interval, "m": m, "t": a.training}
    fields["ci"] = {name: _CI(e) for name, e in m.estimates.items()}
    fields.update(fit_plot=FIT_PLOT, calibration_plot=CALIBRATION_PLOT, loss_plot=LOSS_PLOT, lean=LEAN)
    fields.update(heavy=HEAVY_BMI, example_bmi=EXAMPLE_BMI, random_splits=RANDOM_SPLITS)
    fields.update(min_gated=MIN_GATED_GROUP, min_band_rows=MIN_BAND_ROWS, min_subgroup=tables.MIN_SUBGROUP)
    for part in (_limits(outcome), _reading(a), _accuracy(outcome), _coverage(outcome), _method(outcome)):
        fields.update(part)
    return TEMPLATE.read_text(encoding="utf-8").format_map(fields)


def _limits(outcome: TrainingOutcome) -> dict[str, object]:
    a, dataset = outcome.artifact, outcome.dataset
    similar = dataset.target[(dataset.bmi >= 25.0) & (dataset.bmi < 26.0)]
    _, lower, upper = tables.served(a, dataset.train.x.tolist())
    (lean, heavy), _, _ = tables.served(a, [LEAN, HEAVY_BMI])
    small = [
        f"{what} {g.name}: {int(g.rows.sum())} patients"
        for what, groups in tables.subgroups(dataset)
        for g in groups
        if g.rows.sum() < tables.MIN_SUBGROUP
    ]
    return {
        "typical_width": f"{np.mean(np.subtract(upper, lower)):.0f}",
        "lean_prediction": f"{lean:.0f}",
        "heavy_prediction": f"{heavy:.0f}",
        "n_patients": len(dataset.bmi),
        "similar_n": similar.size,
        "similar_min": f"{similar.min():.0f}",
        "similar_max": f"{similar.max():.0f}",
        "small_groups": "; ".join(small) if small else "none",
        "target_min": f"{dataset.target.min():.0f}",
        "target_max": f"{dataset.target.max():.0f}",
        "target_median": f"{np.median(dataset.target):.0f}",
        "intercept": f"{'−' if a.coefficients.intercept < 0 else '+'} {abs(a.coefficients.intercept):.1f}",
    }


def _reading(a: ModelArtifact) -> dict[str, object]:
    interval = a.interval
    (value,), (lower,), (upper,) = tables.served(a, [EXAMPLE_BMI])
    bands = interval.coverage[1 : len(interval.bands) + 1]
    return {
        "example": f"{value:.0f} [{lower}, {upper}]",
        "example_prediction": value,
        "inside_in_10": round(interval.level * 10),
        "outside_in_10": 10 - round(interval.level * 10),
        "band_coverages": ", ".join(f"{band.coverage:.1%}" for band in bands),
        "example_rows": tables.example_rows(a),
    }


def _accuracy(outcome: TrainingOutcome) -> dict[str, object]:
    m, y = outcome.artifact.metrics, outcome.dataset.train.y
    slope = m.estimates["calibration_slope"]
    return {
        "train_rmse": np.sqrt(m.train_mse),
        "cv_folds_minus_1": m.cv_folds - 1,
        "cv_fold_values": m.cv_folds * m.cv_repeats,
        "slope_holds_1": "holds" if slope.low <= 1 <= slope.high else "excludes",
        "events": int(np.sum(y > m.auroc_threshold)),
    }


def _coverage(outcome: TrainingOutcome) -> dict[str, object]:
    a, interval, dataset = outcome.artifact, outcome.artifact.interval, outcome.dataset
    errors, covered = dataset.train.y - outcome.cv_predictions, outcome.nested.covered
    floor = next(g for g in a.metrics.gates if g.name.startswith(CALIBRATION_GATE) and g.comparison == ">=")
    bands = band_of(interval.edges, dataset.train.x)
    marginal, below = [], []  # the plain conformal rank's half-width per band, and its risk
    for i, band in enumerate(interval.bands):
        rank = conformal_rank(band.n, interval.level)
        marginal.append(float(np.sort(np.abs(errors[bands == i]))[rank - 1]))
        below.append(binomial_tail(band.n, interval.level - interval.pac_delta, rank))
    widths = [
        2 * np.mean(np.array(halves)[bands]) for halves in (marginal, [b.half_width for b in interval.bands])
    ]
    holdout_inside = round(interval.holdout_coverage * a.training.n_holdout)
    return {
        "coverage_rows": tables.coverage_rows(interval),
        "pac_floor": f"{interval.level - interval.pac_delta:.0%}",
        "pac_cost": f"{widths[1] / widths[0] - 1:.1%}",
        "marginal_width": f"{widths[0]:.1f}",
        "served_width": f"{widths[1]:.1f}",
        "marginal_below": f"{min(below):.0%}–{max(below):.0%}",
        "served_below": "–".join(f"{f(b.below_probability for b in interval.bands):.0%}" for f in (min, max)),
        "gate_low": f"{floor.threshold:g}",
        "gate_tolerance": f"{interval.level - floor.threshold:g}",
        "holdout_inside": holdout_inside,
        "holdout_range": tables.plausible_range(holdout_inside, a.training.n_holdout).replace("–", " to "),
        "subgroup_rows": tables.subgroup_rows(dataset, errors, covered),
        "coverage_remark": tables.coverage_remark(dataset, covered, interval.level),
        "cohort_rows": tables.cohort_rows(dataset),
    }


def _method(outcome: TrainingOutcome) -> dict[str, object]:
    a, dataset = outcome.artifact, outcome.dataset
    t, interval = a.training, a.interval
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
        "n_bands": len(interval.bands),
        "edges": " and ".join(f"{edge:g}" for edge in interval.edges),
        "pac_risk": f"{1 - interval.pac_confidence:.0%}",
        "gate_rows": tables.gate_rows(a),
        "data_digests": "\n".join(f"- `{name}`: `{digest}`" for name, digest in t.data_sha256.items()),
        "pass_rate": f"{pass_rate:.0%}",
    }
