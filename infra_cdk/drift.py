"""Input drift: the population stability index (PSI) of a stage's served BMIs against the training BMIs
over a sliding day, by CloudWatch metric math on the function's counts per drift bin (observability.py).
PSI = sum (a_i - e_i) ln(a_i / e_i), e_i the training share of bin i, a_i the served share plus EPSILON
(LOG, the natural logarithm, never meets 0). Without drift it is about (bins - 1) / n for n BMIs: below
MIN_SAMPLES it is 0 and cannot alarm (Staging rarely gets there, by design). One setting for all stages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from model.core import contract

PSI_ALARM: Final = 0.25  # the usual "significant shift"
PSI_WATCH: Final = 0.1  # "watch": drawn on the dashboard only (everyone's BMI up by 1 kg/m² gives about 0.09)
MIN_SAMPLES: Final = 200  # no-drift windows of 200 BMIs reached 0.25 in 0 of 2 000 simulations
EPSILON: Final = 1e-4
PART: Final = 5  # bins per partial sum: with ``d``, six inputs to an expression (CDK allows ten)
WINDOW: Final = Duration.days(1)  # the alarm's one period, on a sliding window (CloudWatch's default)


def psi_expressions(proportions: Sequence[float]) -> dict[str, str]:
    """The metric-math expressions by id over m0, m1, ... (each bin's Sum over the window), each after those
    it names: the window's count ``n``, ``d`` guarding a division by 0, the index over five bins at a time
    ``part0``, ``part1`` (CDK allows ten inputs per expression), and ``psi``, 0 below MIN_SAMPLES. The
    training shares are written to 9 decimals."""
    terms = []
    for i, proportion in enumerate(proportions):
        share, expected = f"(FILL(m{i},0)/d+{EPSILON:g})", f"{proportion:.9f}".rstrip("0")
        terms.append(f"({share}-{expected})*LOG({share}/{expected})")
    parts = {f"part{j}": "+".join(terms[i : i + PART]) for j, i in enumerate(range(0, len(terms), PART))}
    counts = "+".join(f"FILL(m{i},0)" for i in range(len(proportions)))
    return {"n": counts, "d": "IF(n>0,n,1)", **parts, "psi": f"IF(n>={MIN_SAMPLES},{'+'.join(parts)},0)"}


def drift_watch(
    metric: Callable[[str, Duration], cloudwatch.Metric], proportions: Sequence[float]
) -> tuple[cloudwatch.MathExpression, cloudwatch.GraphWidget]:
    """The PSI expression the alarm watches, and its dashboard graph with the day's count; ``metric(name,
    period)`` is the stage's metric ``name``."""
    queries: dict[str, cloudwatch.IMetric] = {
        f"m{i}": metric(f"{contract.METRIC_BMI_BIN}{i}", WINDOW) for i in range(len(proportions))
    }
    labels = {"n": "BMIs served in the last day", "psi": f"PSI against training (0 below {MIN_SAMPLES} BMIs)"}
    for query, expression in psi_expressions(proportions).items():
        using = {name: queries[name] for name in queries if re.search(rf"\b{name}\b", expression)}
        label = labels.get(query, query)
        queries[query] = psi = cloudwatch.MathExpression(
            expression=expression, using_metrics=using, label=label, period=WINDOW
        )
    watch, alarm = (
        cloudwatch.HorizontalAnnotation(value=v, label=k)
        for k, v in (("watch", PSI_WATCH), ("alarm", PSI_ALARM))
    )
    return psi, cloudwatch.GraphWidget(
        title="Input drift (PSI over the last day)", left=[psi], right=[queries["n"]],
        left_annotations=[watch, alarm], start="-P14D", width=24,
    )  # fmt: skip
