"""Loading a model artifact, fail-closed, and the serving policy: :func:`load_artifact` returns a fully
validated :class:`.artifact.ModelArtifact` or raises :class:`.artifact.ArtifactError` saying what is wrong."""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from .artifact import (
    CALIBRATION_GATE,
    CONVERGENCE_GATE,
    DEFAULT_ARTIFACT_PATH,
    DEFAULT_MAX_CONVERGENCE_GAP,
    DEFAULT_MAX_COVERAGE_ERROR,
    DEFAULT_MIN_R2,
    INTERVAL_LEVEL,
    MIN_GATED_GROUP,
    QUALITY_GATE,
    SCHEMA_VERSION,
    WHO_GROUPS,
    ArtifactError,
    Comparison,
    Gate,
    ModelArtifact,
    PredictionInterval,
)
from .contract import ENV_MODEL_PATH
from .jsontypes import ValidationError, read
from .prediction import legacy_range
from .untrusted import read_file

MAX_ARTIFACT_BYTES: Final = 64 * 1024  # a trained artifact is about 7 kB


def served_artifact_path() -> Path:
    """The artifact the function serves: ``MODEL_ARTIFACT_PATH`` if set, else the one bundled next to this
    module (in the image: ``${LAMBDA_TASK_ROOT}/model/artifacts/model.json``)."""
    return Path(os.environ.get(ENV_MODEL_PATH) or DEFAULT_ARTIFACT_PATH)


def load_artifact(path: Path) -> ModelArtifact:
    """Reads and fully validates an artifact; raises :class:`ArtifactError` for anything unservable.

    Bounded whatever sits at ``path`` (:func:`.untrusted.read_file`): a FIFO would otherwise stall the
    function's init with nothing logged."""
    try:
        text = read_file(path, MAX_ARTIFACT_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"model artifact not found at {path}; run `python -m model.train`") from None
    except OSError as exc:
        raise ArtifactError(f"model artifact at {path} is unreadable: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ArtifactError(f"model artifact at {path} is not UTF-8 text") from None
    return parse_artifact(text, source=str(path))


def parse_artifact(text: str, *, source: str = "<artifact>") -> ModelArtifact:
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: valid JSON nested past the parser's depth
        raise ArtifactError(f"{source}: not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(document, dict):
        raise ArtifactError(f"{source}: must be a JSON object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise ArtifactError(
            f"{source}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})"
        )
    try:
        artifact = read(document, ModelArtifact)
        _enforce_serving_policy(artifact)
    except (ValidationError, ArtifactError) as exc:  # the schema's or the policy's refusal, prefixed here
        raise ArtifactError(f"{source}: {exc}") from None
    return artifact


def calibration_groups(edges: Sequence[float]) -> list[tuple[str, float, float]]:
    """The groups whose cross-validated coverage an interval records, in order, as (name, low, high) with
    BMI in [low, high): all patients, each band of ``edges``, each of WHO_GROUPS."""
    cuts = [0.0, *edges, math.inf]
    bands = [(f"band {i}: {_span(lo, hi)}", lo, hi) for i, (lo, hi) in enumerate(itertools.pairwise(cuts))]
    return [("all patients", 0.0, math.inf), *bands, *WHO_GROUPS]


def calibration_requirements(
    interval: PredictionInterval, max_error: float = DEFAULT_MAX_COVERAGE_ERROR
) -> list[tuple[str, Comparison, float, float]]:
    """The calibration gates, as (name, comparison, threshold, value): every group's coverage at least
    level - max_error (all patients and every band always, a WHO group from MIN_GATED_GROUP patients); all
    patients' and every band's at most their expected coverage + max_error. The upper side is stated around
    what the ranks promise (rank / (n + 1), about 0.93 for the training-conditional ones), not around the
    level: it catches an interval that is broken or too wide without refusing the deliberate margin."""
    gates: list[tuple[str, Comparison, float, float]] = []
    for group in interval.coverage:
        name, who = f"{CALIBRATION_GATE}: {group.group}", group.group.startswith("WHO")
        if not who or group.n >= MIN_GATED_GROUP:
            gates.append((name, ">=", interval.level - max_error, group.coverage))
        if not who:
            gates.append((name, "<=", group.expected + max_error, group.coverage))
    return gates


def _span(low: float, high: float) -> str:
    if low <= 0:
        return f"under {high:g} kg/m²"
    return f"{low:g} kg/m² and over" if math.isinf(high) else f"{low:g}–{high:g} kg/m²"


def _enforce_serving_policy(artifact: ModelArtifact) -> None:
    """Integrity first, then what may be served: a checksum that matches, a consistent feature, outcome range,
    interval and drift bins, and gates that are the real gates (:func:`_check_gates`)."""
    # Over the document as read (floats as floats), not its text: what loads is what the function serves
    # and anyone can verify again from GET /v1/model; a float written as an integer does not verify.
    actual = artifact.to_document()["sha256"]
    if artifact.sha256 != actual:
        raise ArtifactError(f"checksum mismatch (declared {artifact.sha256[:12]}…, content {actual[:12]}…)")
    f, o, i, d = artifact.feature, artifact.outcome, artifact.interval, artifact.drift
    shares = [i.holdout_coverage, *(g.coverage for g in i.coverage), *(g.expected for g in i.coverage)]
    valid = {
        "feature range or scale": f.train_min < f.train_max and f.sklearn_scale > 0,
        "outcome range": 0 <= o.low <= o.train_min < o.train_max <= o.high and o.low % 1 == o.high % 1 == 0,
        "prediction interval's bands": _strictly_increasing([f.train_min, *i.edges, f.train_max])
        and len(i.bands) == len(i.edges) + 1
        and all(b.half_width > 0 and 1 <= b.rank <= b.n for b in i.bands)
        and i.extrapolation_widening >= 0,
        "prediction interval's coverage": [g.group for g in i.coverage]
        == [n for n, _, _ in calibration_groups(i.edges)]
        and all(0 <= share <= 1 for share in shares),
        # The legacy routes' range, in scaled units: what /stream, /batch and the OpenAPI document state.
        "scaled units (the legacy routes' range)": _finite_range(artifact),
        "drift bins": _strictly_increasing(d.edges)
        and len(d.proportions) == len(d.edges) + 1
        and min(d.proportions) > 0
        and abs(math.fsum(d.proportions) - 1) <= 1e-9,
    }
    for what, ok in valid.items():
        if not ok:
            raise ArtifactError(f"degenerate {what}")
    if i.level != INTERVAL_LEVEL:
        raise ArtifactError(f"the interval's level must be {INTERVAL_LEVEL:g}, not {i.level:g}")
    _check_gates(artifact)


def _finite_range(artifact: ModelArtifact) -> bool:
    try:
        low, high = legacy_range(artifact)
    except (ArithmeticError, ValueError):  # an infinity or a NaN, rounded; a scale of 0
        return False
    return low <= high


def _check_gates(artifact: ModelArtifact) -> None:
    """Every gate passed (re-evaluated), and the gates are exactly the policy's: quality, convergence and
    every calibration gate of :func:`calibration_requirements`, once each, thresholds no looser than
    DEFAULT_MIN_R2, DEFAULT_MAX_CONVERGENCE_GAP and DEFAULT_MAX_COVERAGE_ERROR at INTERVAL_LEVEL, values
    those of the recorded metrics."""
    metrics = artifact.metrics
    for gate in metrics.gates:
        if not Gate.evaluate(gate.name, gate.comparison, gate.threshold, gate.value).passed:
            raise ArtifactError(f"refusing a model that failed its gates: {gate.describe()}")
    if not metrics.optimal_train_mse > 0:  # the divisor of the convergence gap; no real fit has an MSE of 0
        raise ArtifactError("metrics.optimal_train_mse must be positive")
    gap = (metrics.train_mse - metrics.optimal_train_mse) / metrics.optimal_train_mse
    required: dict[tuple[str, str], tuple[float, float]] = {
        (QUALITY_GATE, ">="): (DEFAULT_MIN_R2, metrics.holdout_r2),
        (CONVERGENCE_GATE, "<="): (DEFAULT_MAX_CONVERGENCE_GAP, gap),
        **{(n, side): (limit, v) for n, side, limit, v in calibration_requirements(artifact.interval)},
    }
    recorded = {(gate.name, gate.comparison): gate for gate in metrics.gates}
    if recorded.keys() != required.keys() or len(recorded) != len(metrics.gates):
        raise ArtifactError(
            "metrics.gates must hold the quality, convergence and calibration gates once each"
        )
    for (name, side), gate in recorded.items():
        policy, value = required[(name, side)]
        if gate.threshold < policy if side == ">=" else gate.threshold > policy:
            raise ArtifactError(
                f"gate {name!r} is looser than the serving policy (hold-out R2 >= "
                f"{DEFAULT_MIN_R2}, convergence gap <= {DEFAULT_MAX_CONVERGENCE_GAP:g}, cross-validated "
                f"coverage of every group at most {DEFAULT_MAX_COVERAGE_ERROR:g} below {INTERVAL_LEVEL:g})"
            )
        if not math.isclose(gate.value, value, rel_tol=1e-9):
            raise ArtifactError(f"gate values do not match the recorded metrics ({name})")


def _strictly_increasing(values: Sequence[float]) -> bool:
    return sorted(set(values)) == list(values)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid JSON number")
