"""Two model artifacts compared for the people a change of model would reach (``diabetes-progression diff
OLD NEW``): each model's version and provenance; the coefficients; every figure with its confidence interval,
and whether the change is larger than that uncertainty; each group's coverage and each band's interval
width; the service's own answers on a grid of BMIs across the accepted range, largest changes first.
Markdown for pull requests and job summaries, JSON for machines. Standard library only."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, NamedTuple

from ..core.artifact import Estimate, GroupCoverage, ModelArtifact
from ..core.contract import BMI_MAX, BMI_MIN
from ..core.prediction import respond_batch
from ..core.untrusted import printable
from . import output

GRID: Final = tuple(float(bmi) for bmi in range(int(BMI_MIN), int(BMI_MAX) + 1, 5))


class Figure(NamedTuple):
    label: str
    better: Literal["higher", "lower"] | float  # a float: closer to that target (a calibration line y = x)


# Every figure the trainer estimates, in the order a diff shows them.
FIGURES: Final = {
    "holdout_r2": Figure("R², hold-out", "higher"),
    "holdout_rmse": Figure("RMSE, hold-out", "lower"),
    "holdout_mae": Figure("MAE, hold-out", "lower"),
    "cv_r2": Figure("R², cross-validated", "higher"),
    "cv_rmse": Figure("RMSE, cross-validated", "lower"),
    "cv_mae": Figure("MAE, cross-validated", "lower"),
    "calibration_slope": Figure("calibration slope (1 is ideal)", 1.0),
    "calibration_intercept": Figure("calibration intercept (0 is ideal)", 0.0),
    "calibration_in_the_large": Figure("calibration in the large (0 is ideal)", 0.0),
    "spearman": Figure("Spearman rank correlation", "higher"),
    "auroc": Figure("AUROC, progression above the threshold", "higher"),
}


def label(name: str) -> str:
    return FIGURES[name].label if name in FIGURES else name


class FigureChange(NamedTuple):
    name: str
    old: Estimate | None
    new: Estimate | None

    @property
    def beyond_uncertainty(self) -> bool:
        """Each value outside the other's confidence interval is a change the data can tell apart."""
        if self.old is None or self.new is None:
            return False
        return (
            not self.old.low <= self.new.value <= self.old.high
            or not self.new.low <= self.old.value <= self.new.high
        )

    @property
    def worsening(self) -> float:
        """How much worse the new value is than the old, in the figure's units (negative: better)."""
        if self.old is None or self.new is None:
            return 0.0
        better = FIGURES[self.name].better if self.name in FIGURES else "lower"
        if better == "higher":
            change = self.old.value - self.new.value
        elif better == "lower":
            change = self.new.value - self.old.value
        else:
            change = abs(self.new.value - better) - abs(self.old.value - better)
        # Two finite figures' difference can overflow (1.7e308 - -1.7e308): held to the largest float, so
        # that the JSON stays standard (json.dumps would write Infinity).
        return math.copysign(sys.float_info.max, change) if math.isinf(change) else change


class GroupChange(NamedTuple):
    group: str  # "all patients", "band 1: 24.05–27.85 kg/m²", "WHO …"
    old: GroupCoverage | None
    new: GroupCoverage | None


class Answer(NamedTuple):
    prediction: float
    lower: float
    upper: float


class AnswerChange(NamedTuple):
    bmi: float
    old: Answer
    new: Answer

    @property
    def size(self) -> float:
        """The largest move of the prediction or of a bound."""
        return max(abs(new - old) for old, new in zip(self.old, self.new, strict=True))


@dataclass(frozen=True)
class ModelDiff:
    old: ModelArtifact
    new: ModelArtifact
    figures: tuple[FigureChange, ...]
    groups: tuple[GroupChange, ...]
    answers: tuple[AnswerChange, ...]

    @property
    def visible(self) -> bool:
        """Whether a caller of the service would notice: another model version, or another answer, on the
        grid or between its BMIs (what the answers are computed from differs: a band's edge moved by 0.4)."""
        old, new = self.old, self.new
        return (
            old.model_version != new.model_version
            or any(a.size for a in self.answers)
            or _answered_from(old) != _answered_from(new)
        )

    def largest(self, count: int = 5) -> list[AnswerChange]:
        return sorted((a for a in self.answers if a.size), key=lambda a: -a.size)[:count]


def _answered_from(model: ModelArtifact) -> tuple[object, ...]:
    """Every number an answer is computed from (:mod:`..core.prediction`), the legacy routes' included."""
    interval = model.interval
    widths = tuple(band.half_width for band in interval.bands)
    return (model.coefficients, model.feature, model.outcome.low, model.outcome.high, interval.level,
            interval.edges, widths, interval.extrapolation_widening)  # fmt: skip


def answers(model: ModelArtifact) -> list[Answer]:
    """What the service answers on the grid: the same domain functions as the function and the package."""
    response, _ = respond_batch(model, {"bmi": list(GRID)})
    return [Answer(prediction, low, high) for _, prediction, low, high, _ in output.rows(GRID, response)]


def _side_by_side[V, C](
    kind: Callable[[str, V | None, V | None], C],
    old: Mapping[str, V],
    new: Mapping[str, V],
    first: Iterable[str] = (),
) -> tuple[C, ...]:
    """Every key of either side with each side's value: those of ``first`` in its order, then the rest."""
    keys = dict.fromkeys([*(k for k in first if k in old or k in new), *old, *new])
    return tuple(kind(k, old.get(k), new.get(k)) for k in keys)


def compare(old: ModelArtifact, new: ModelArtifact) -> ModelDiff:
    figures = _side_by_side(FigureChange, old.metrics.estimates, new.metrics.estimates, FIGURES)
    old_groups = {g.group: g for g in old.interval.coverage}
    new_groups = {g.group: g for g in new.interval.coverage}
    groups = _side_by_side(GroupChange, old_groups, new_groups)
    pairs = zip(GRID, answers(old), answers(new), strict=True)
    return ModelDiff(old, new, figures, groups, tuple(AnswerChange(*pair) for pair in pairs))


# --- For people: Markdown ---------------------------------------------------------------------------------
def _number(x: float) -> str:
    """As many decimals as people read: errors in the outcome's units to one, ratios and slopes to three."""
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3f}"


def estimate_text(e: Estimate | None) -> str:
    return "—" if e is None else f"{_number(e.value)} [{_number(e.low)}, {_number(e.high)}]"


def _coverage(g: GroupCoverage | None) -> str:
    return "—" if g is None else f"{g.coverage:.3f} (n = {g.n})"


def _answer(a: Answer) -> str:
    return f"{a.prediction:.1f} [{a.lower:g}, {a.upper:g}]"


def _bands(model: ModelArtifact) -> str:
    cuts = ["…", *(f"{edge:g}" for edge in model.interval.edges), "…"]
    return ", ".join(
        f"{low}–{high}: ±{band.half_width:.1f}"
        for low, high, band in zip(cuts, cuts[1:], model.interval.bands, strict=False)
    )


def markdown(diff: ModelDiff) -> str:
    old, new = diff.old, diff.new
    # The confidence level of the figures, either side's: an artifact may record none (estimates: {}).
    figures = [*new.metrics.estimates.values(), *old.metrics.estimates.values()]
    level = f"{figures[0].level:.0%} " if figures else ""
    verdict = "**Answers change.**" if diff.visible else "**No change a caller would see.**"
    moves = "; ".join(f"BMI {a.bmi:g}: {_answer(a.old)} → {_answer(a.new)}" for a in diff.largest())
    rows = [
        f"## Model diff: `{_text(old.model_version)}` → `{_text(new.model_version)}`",
        "",
        f"{verdict} {'Largest: ' + moves + '.' if moves else ''}".rstrip(),
        "",
        "| | old | new |",
        "|---|---|---|",
        f"| model version | `{_text(old.model_version)}` | `{_text(new.model_version)}` |",
        f"| training | seed {old.training.seed}, {old.training.epochs_run} epochs | "
        f"seed {new.training.seed}, {new.training.epochs_run} epochs |",
        f"| data | {_data(old)} | {_data(new)} |",
        f"| y = slope · BMI + intercept | {_line(old)} | {_line(new)} |",
        f"| interval half-width by band (kg/m²) | {_bands(old)} | {_bands(new)} |",
        "",
        f"Figures with their {level}confidence intervals; *beyond* when each value lies outside the "
        "other's interval:",
        "",
        "| figure | old | new | change | beyond the uncertainty |",
        "|---|---|---|---|---|",
        *(
            f"| {_text(label(f.name))} | {estimate_text(f.old)} | {estimate_text(f.new)} | "
            f"{_signed(f)} | {'**yes**' if f.beyond_uncertainty else 'no'} |"
            for f in diff.figures
        ),
        "",
        f"Interval coverage, nested cross-validation (level {new.interval.level:.0%}):",
        "",
        "| group | old | new |",
        "|---|---|---|",
        *(f"| {_text(g.group)} | {_coverage(g.old)} | {_coverage(g.new)} |" for g in diff.groups),
        "",
        f"Answers on the BMI grid {GRID[0]:g}–{GRID[-1]:g} kg/m² (prediction [interval]):",
        "",
        "| BMI | old | new | largest move |",
        "|---|---|---|---|",
        *(f"| {a.bmi:g} | {_answer(a.old)} | {_answer(a.new)} | {a.size:.1f} |" for a in diff.answers),
    ]
    return "\n".join(rows) + "\n"


def _text(text: str) -> str:
    """An artifact's string in a table cell: escaped for a terminal (an ESC, a newline), its pipes escaped
    for Markdown, bounded. Checksummed artifacts are not trusted ones: anyone can reseal a file."""
    return printable(text, 200).replace("|", "\\|")


def _data(model: ModelArtifact) -> str:
    digests = ", ".join(
        f"{_text(name)} {_text(digest[:12])}" for name, digest in sorted(model.training.data_sha256.items())
    )
    return f"{model.training.n_train} + {model.training.n_holdout} rows ({digests})"


def _line(model: ModelArtifact) -> str:
    intercept = model.coefficients.intercept
    return f"{model.coefficients.slope:.6g} · BMI {'−+'[intercept >= 0]} {abs(intercept):.6g}"


def _signed(f: FigureChange) -> str:
    if f.old is None or f.new is None:
        return "—"
    change = _number(f.new.value - f.old.value)
    return change if change.startswith("-") else f"+{change}"


# --- For machines: JSON -----------------------------------------------------------------------------------
def as_json(diff: ModelDiff) -> dict[str, Any]:
    return {
        "visible_change": diff.visible,
        "old": _identity(diff.old),
        "new": _identity(diff.new),
        "figures": [
            {
                "name": f.name,
                "old": f.old and asdict(f.old),
                "new": f.new and asdict(f.new),
                "worsening": f.worsening,
                "beyond_uncertainty": f.beyond_uncertainty,
            }
            for f in diff.figures
        ],
        "coverage": [
            {"group": g.group, "old": g.old and asdict(g.old), "new": g.new and asdict(g.new)}
            for g in diff.groups
        ],
        "answers": [
            {"bmi": a.bmi, "old": a.old._asdict(), "new": a.new._asdict(), "largest_move": a.size}
            for a in diff.answers
        ],
    }


def _identity(model: ModelArtifact) -> dict[str, Any]:
    return {
        "model_version": model.model_version,
        "coefficients": asdict(model.coefficients),
        "training": asdict(model.training),
        "interval": {
            "level": model.interval.level,
            "edges": list(model.interval.edges),
            "half_widths": [band.half_width for band in model.interval.bands],
        },
    }
