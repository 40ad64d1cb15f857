"""Loading a model artifact, fail-closed, and the serving policy: :func:`load_artifact` returns a fully
validated :class:`.artifact.ModelArtifact` or raises :class:`.artifact.ArtifactError` saying what is wrong."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Final

from .artifact import (
    CALIBRATION_GATE,
    CONVERGENCE_GATE,
    DEFAULT_ARTIFACT_PATH,
    DEFAULT_MAX_CONVERGENCE_GAP,
    DEFAULT_MAX_COVERAGE_ERROR,
    DEFAULT_MIN_R2,
    INTERVAL_LEVEL,
    QUALITY_GATE,
    SCHEMA_VERSION,
    ArtifactError,
    Gate,
    ModelArtifact,
    PredictionInterval,
    checksum,
    without_checksum,
)
from .contract import BMI_MAX, BMI_MIN, ENV_MODEL_PATH
from .jsontypes import ValidationError, read
from .prediction import legacy_range
from .untrusted import read_file

MAX_ARTIFACT_BYTES: Final = 64 * 1024  # a trained artifact is about 2 kB


def served_artifact_path() -> Path:
    """The artifact the function serves: ``MODEL_ARTIFACT_PATH`` if set, else the one bundled next to this
    module (in the image: ``${LAMBDA_TASK_ROOT}/model/artifacts/model.json``)."""
    return Path(os.environ.get(ENV_MODEL_PATH) or DEFAULT_ARTIFACT_PATH)


def load_artifact(path: Path) -> ModelArtifact:
    """Reads and fully validates an artifact; raises :class:`ArtifactError` for anything unservable.

    Bounded whatever sits at ``path`` (:func:`.untrusted.read_file`): a FIFO would otherwise stall the
    function's init with nothing logged."""
    try:
        raw = read_file(path, MAX_ARTIFACT_BYTES)
    except FileNotFoundError:
        raise ArtifactError(f"model artifact not found at {path}; run `python -m model.train`") from None
    except OSError as exc:
        raise ArtifactError(f"model artifact at {path} is unreadable: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
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
    except ValidationError as exc:
        raise ArtifactError(f"{source}: {exc}") from None
    _enforce_serving_policy(artifact, document, source)
    return artifact


def coverage_error(interval: PredictionInterval) -> float:
    """What the calibration gate measures: how far the cross-validated coverage is from the level."""
    return abs(interval.cv_coverage - interval.level)


def _enforce_serving_policy(artifact: ModelArtifact, document: dict[str, Any], source: str) -> None:
    """Integrity first, then what may be served: a checksum that matches, a usable feature and interval,
    and gates that are the real gates (all three present once, thresholds no looser than DEFAULT_MIN_R2,
    DEFAULT_MAX_CONVERGENCE_GAP and DEFAULT_MAX_COVERAGE_ERROR at INTERVAL_LEVEL, values those of the
    recorded metrics, verdicts re-evaluated)."""
    actual = checksum(without_checksum(document))
    if artifact.sha256 != actual:
        raise ArtifactError(
            f"{source}: checksum mismatch (declared {artifact.sha256[:12]}…, content {actual[:12]}…)"
        )
    feature, interval, metrics = artifact.feature, artifact.interval, artifact.metrics
    if not (feature.train_min < feature.train_max and feature.sklearn_scale > 0):
        raise ArtifactError(f"{source}: feature range or scale is degenerate")
    _refuse_absurd_answers(artifact, source)
    coverages = (interval.cv_coverage, interval.holdout_coverage)
    if not (interval.quantile > 0 and interval.scale.floor > 0 and all(0 <= c <= 1 for c in coverages)):
        raise ArtifactError(f"{source}: the prediction interval is degenerate")
    if interval.level != INTERVAL_LEVEL:
        raise ArtifactError(
            f"{source}: the interval's level must be {INTERVAL_LEVEL:g}, not {interval.level:g}"
        )
    for gate in metrics.gates:
        if not Gate.evaluate(gate.name, gate.comparison, gate.threshold, gate.value).passed:
            raise ArtifactError(f"{source}: refusing a model that failed its gates: {gate.describe()}")
    by_name = {gate.name: gate for gate in metrics.gates}
    quality, convergence = by_name.get(QUALITY_GATE), by_name.get(CONVERGENCE_GATE)
    calibration = by_name.get(CALIBRATION_GATE)
    if quality is None or convergence is None or calibration is None or len(by_name) != len(metrics.gates):
        raise ArtifactError(
            f"{source}: metrics.gates must hold the quality, convergence and calibration gates once each"
        )
    looser = (quality.comparison, convergence.comparison, calibration.comparison) != (">=", "<=", "<=") or (
        quality.threshold < DEFAULT_MIN_R2
        or convergence.threshold > DEFAULT_MAX_CONVERGENCE_GAP
        or calibration.threshold > DEFAULT_MAX_COVERAGE_ERROR
    )
    if looser:
        raise ArtifactError(
            f"{source}: gates looser than the serving policy (hold-out R2 >= {DEFAULT_MIN_R2}, "
            f"convergence gap <= {DEFAULT_MAX_CONVERGENCE_GAP:g}, cross-validated coverage within "
            f"{DEFAULT_MAX_COVERAGE_ERROR:g} of {INTERVAL_LEVEL:g})"
        )
    gap = (metrics.train_mse - metrics.optimal_train_mse) / metrics.optimal_train_mse
    if (
        quality.value != metrics.holdout_r2
        or not math.isclose(convergence.value, gap, rel_tol=1e-9)
        or calibration.value != coverage_error(interval)
    ):
        raise ArtifactError(f"{source}: gate values do not match the recorded metrics")


def _refuse_absurd_answers(artifact: ModelArtifact, source: str) -> None:
    """Finite coefficients can still answer nonsense (a slope of 1e308 overflows to infinity): every answer
    over the plausible BMI range, bounds included, must be finite and inside the outcome's sane band. The
    model is linear and the interval's scale piecewise linear, so the range's ends and the scale's kink
    are where the extremes lie."""
    if not artifact.outcome.train_min < artifact.outcome.train_max:
        raise ArtifactError(f"{source}: the outcome's training range is degenerate")
    try:  # the legacy routes' range, in scaled units: what /stream, /batch and the OpenAPI document state
        low, high = legacy_range(artifact)
    except (OverflowError, ValueError):  # an infinity or a NaN, rounded
        low = high = math.nan
    if not low <= high:
        raise ArtifactError(f"{source}: its scaled units map no plausible BMI: refusing to serve it")
    low, high = artifact.outcome.sane_band()
    scale = artifact.interval.scale
    kink = (scale.floor - scale.intercept) / scale.slope if scale.slope else BMI_MIN
    for bmi in (BMI_MIN, BMI_MAX, min(max(kink, BMI_MIN), BMI_MAX)):
        prediction = artifact.coefficients.predict(bmi)
        half = artifact.interval.half_width(bmi)
        answers = (prediction, prediction - half, prediction + half)
        if not all(math.isfinite(a) and low <= a <= high for a in answers):
            raise ArtifactError(
                f"{source}: the model answers {prediction:.6g} ± {half:.6g} at BMI {bmi:g}, outside the sane "
                f"band [{low:g}, {high:g}] of its outcome: refusing to serve it"
            )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid JSON number")
