"""What the command line prints for people: the table of answers and the model's description."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from ..core.artifact import ModelArtifact
from ..core.schemas import BatchPredictResponse, ModelInfoResponse, PredictResponse


def table(bmis: Sequence[float], answer: PredictResponse | BatchPredictResponse) -> str:
    """One row per BMI, in input order: prediction, interval, and whether it is extrapolated."""
    if "prediction" in answer:  # one BMI: POST /v1/predict's answer
        one = cast("PredictResponse", answer)
        interval = one["interval"]
        rows = [(bmis[0], one["prediction"], interval["lower"], interval["upper"], one["extrapolated"])]
        level = interval["level"]
    else:
        many = answer
        intervals = many["intervals"]
        columns = (many["predictions"], intervals["lower"], intervals["upper"], many["extrapolated"])
        rows = list(zip(bmis, *columns, strict=True))
        level = intervals["level"]
    lines = [f"{'BMI':>6}  {'prediction':>10}  {f'{level:.0%} interval':>14}"]
    for bmi, prediction, lower, upper, extrapolated in rows:
        note = "  extrapolated: outside the training range" if extrapolated else ""
        lines.append(f"{bmi:>6g}  {prediction:>10.2f}  {f'{lower} to {upper}':>14}{note}")
    return "\n".join([*lines, f"model {answer['model_version']}"])


def describe(info: ModelInfoResponse) -> str:
    """The model's version, line, training range, limits, metrics, interval and gates."""
    artifact: ModelArtifact = info["artifact"]
    c, f, m, i = artifact.coefficients, artifact.feature, artifact.metrics, artifact.interval
    limits = info["limits"]
    sign = "-" if c.intercept < 0 else "+"
    return "\n".join(
        [
            f"model {artifact.model_version} (artifact schema {artifact.schema_version})",
            f"  progression = {c.slope:.4f} * bmi {sign} {abs(c.intercept):.4f}   (bmi in {f.unit})",
            f"  trained on {artifact.training.n_train} patients with BMIs {f.train_min:g} to "
            f"{f.train_max:g}: outside that range answers are flagged extrapolated",
            f"  accepts BMIs {limits['bmi_min']:g} to {limits['bmi_max']:g}, "
            f"1 to {limits['batch_max']} values per batch",
            "  with 95% confidence intervals: "
            + ", ".join(f"{k} {e.value:.3g} ({e.low:.3g} to {e.high:.3g})" for k, e in m.estimates.items()),
            f"  {i.level:.0%} prediction interval ({i.method}): cross-validated coverage "
            f"{i.overall.coverage:.1%}, hold-out {i.holdout_coverage:.1%}",
            *(f"  {gate.describe()}" for gate in m.gates),
            f"  data: {artifact.training.dataset}",
        ]
    )
