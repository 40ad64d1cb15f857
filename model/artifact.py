"""The model artifact: one schema shared by the trainer (which writes it) and the function (which serves it).

Standard library only, on purpose: the Lambda image copies this module next to the function and must not
pull numpy or the trainer in. An artifact is a canonical JSON document; its ``sha256`` field is the digest
of the canonical encoding of every other field, so corruption, truncation and hand edits that did not
recompute it are refused at load time. (An unkeyed digest cannot stop a deliberate forger who recomputes it:
what guards the served file is the image, promoted by digest, and the pre-traffic check of its answers.)

Loading is fail-closed: :func:`load_artifact` returns a fully validated :class:`ModelArtifact` or raises
:class:`ArtifactError` with a message that says what is wrong. It never returns a partially valid model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Final

SCHEMA_VERSION: Final = 1
FEATURE_NAME: Final = "bmi"
FEATURE_UNIT: Final = "kg/m^2"
DEFAULT_MIN_R2: Final = 0.4
DEFAULT_MAX_CONVERGENCE_GAP: Final = 1e-6
DEFAULT_ARTIFACT_PATH: Final = Path(__file__).resolve().parent / "artifacts" / "model.json"
QUALITY_GATE: Final = "quality (hold-out R2)"
CONVERGENCE_GATE: Final = "convergence (relative training-MSE gap to least squares)"


class ArtifactError(ValueError):
    """The artifact is missing, malformed, tampered with, or describes a model that must not be served."""


@dataclass(frozen=True, slots=True)
class Feature:
    """The single input feature and the statistics the service needs to interpret it."""

    name: str
    unit: str
    train_min: float
    train_max: float
    # scikit-learn's scaled diabetes features are (x - mean) / scale, scale = sqrt(sum((x - mean)^2)) over
    # all 442 rows; the legacy API speaks those units, so the artifact carries the exact mapping.
    sklearn_mean: float
    sklearn_scale: float

    def to_raw(self, scaled: float) -> float:
        """Converts a value in scikit-learn's scaled units to raw units (kg/m^2)."""
        return self.sklearn_mean + scaled * self.sklearn_scale

    def to_scaled(self, raw: float) -> float:
        """The inverse of :meth:`to_raw`, exact up to rounding: converts kg/m^2 to scaled units."""
        return (raw - self.sklearn_mean) / self.sklearn_scale

    def is_extrapolated(self, raw: float) -> bool:
        return not self.train_min <= raw <= self.train_max


@dataclass(frozen=True, slots=True)
class Coefficients:
    """y = slope * bmi + intercept, in raw units (bmi in kg/m^2)."""

    slope: float
    intercept: float

    def predict(self, raw: float) -> float:
        return self.slope * raw + self.intercept


@dataclass(frozen=True, slots=True)
class Gate:
    """A blocking check: ``passed`` must agree with ``value`` against ``threshold``."""

    name: str
    comparison: str  # ">=" (value must reach the threshold) or "<=" (value must not exceed it)
    threshold: float
    value: float
    passed: bool

    @staticmethod
    def evaluate(name: str, comparison: str, threshold: float, value: float) -> Gate:
        if comparison == ">=":
            passed = value >= threshold
        elif comparison == "<=":
            passed = value <= threshold
        else:
            raise ArtifactError(f"gate {name!r}: unknown comparison {comparison!r}")
        return Gate(name=name, comparison=comparison, threshold=threshold, value=value, passed=passed)

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.name} gate {verdict}: {self.value:.6g} {self.comparison} {self.threshold:.6g} required"


@dataclass(frozen=True, slots=True)
class Metrics:
    holdout_r2: float
    holdout_mse: float
    train_r2: float
    train_mse: float
    optimal_train_mse: float
    cv_r2_mean: float
    cv_r2_std: float
    cv_folds: int
    gates: tuple[Gate, ...]


@dataclass(frozen=True, slots=True)
class Training:
    seed: int
    hyperparameters: dict[str, float | int]
    epochs_run: int
    n_train: int
    n_holdout: int
    data_sha256: dict[str, str]
    dataset: str


@dataclass(frozen=True, slots=True)
class ModelArtifact:
    schema_version: int
    model_version: str
    feature: Feature
    coefficients: Coefficients
    metrics: Metrics
    training: Training
    sha256: str = field(default="")

    def to_document(self) -> dict[str, Any]:
        """The JSON document, including the checksum (computed here, never trusted from the field)."""
        body = _without_checksum(asdict(self))
        return {**body, "sha256": checksum(body)}

    def to_json(self) -> str:
        return _canonical(self.to_document()) + "\n"

    def failed_gates(self) -> list[Gate]:
        return [gate for gate in self.metrics.gates if not gate.passed]


def checksum(body: dict[str, Any]) -> str:
    """sha256 of the canonical encoding of an artifact document without its ``sha256`` field."""
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


def model_version_for(*, data_sha256: dict[str, str], config: dict[str, Any], code_sha256: str) -> str:
    """A stable id from what determines the model (data, configuration, code): retraining the same inputs
    yields the same version, and any change to them yields a new one. Never a timestamp."""
    digest = hashlib.sha256(
        _canonical({"data": data_sha256, "config": config, "code": code_sha256}).encode()
    ).hexdigest()
    return f"bmi-linear-{digest[:12]}"


def write_artifact_atomically(artifact: ModelArtifact, path: Path) -> None:
    """Writes the artifact so that readers see either the previous file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600 files; the image copies the file with its mode, and Lambda runs container
        # images as a non-root user, which must be able to read the model. Nothing in it is secret.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(artifact.to_json())
            tmp.flush()
            os.fsync(tmp.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_artifact(path: Path) -> ModelArtifact:
    """Reads and fully validates an artifact; raises :class:`ArtifactError` for anything unservable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"model artifact not found at {path}; run `python -m model.train`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"model artifact at {path} is unreadable: {exc}") from exc
    return parse_artifact(text, source=str(path))


def parse_artifact(text: str, *, source: str = "<artifact>") -> ModelArtifact:
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ArtifactError(f"{source}: not valid JSON ({exc})") from exc
    artifact = _from_document(document, source)
    failed = artifact.failed_gates()
    if failed:
        raise ArtifactError(f"{source}: refusing a model that failed its gates: {failed[0].describe()}")
    _enforce_serving_policy(artifact.metrics, source)
    return artifact


def _enforce_serving_policy(metrics: Metrics, source: str) -> None:
    """A passed gate only counts if it is the real gate: both present, thresholds no looser than the serving
    policy (DEFAULT_MIN_R2, DEFAULT_MAX_CONVERGENCE_GAP), values those of the recorded metrics."""
    by_name = {gate.name: gate for gate in metrics.gates}
    quality, convergence = by_name.get(QUALITY_GATE), by_name.get(CONVERGENCE_GATE)
    if quality is None or convergence is None or len(by_name) != len(metrics.gates):
        raise ArtifactError(f"{source}: metrics.gates must hold the quality and convergence gates once each")
    looser = (quality.comparison, convergence.comparison) != (">=", "<=") or (
        quality.threshold < DEFAULT_MIN_R2 or convergence.threshold > DEFAULT_MAX_CONVERGENCE_GAP
    )
    if looser:
        raise ArtifactError(
            f"{source}: gates looser than the serving policy (hold-out R2 >= {DEFAULT_MIN_R2}, "
            f"convergence gap <= {DEFAULT_MAX_CONVERGENCE_GAP:g})"
        )
    gap = (metrics.train_mse - metrics.optimal_train_mse) / metrics.optimal_train_mse
    if quality.value != metrics.holdout_r2 or not math.isclose(convergence.value, gap, rel_tol=1e-9):
        raise ArtifactError(f"{source}: gate values do not match the recorded metrics")


def _from_document(document: Any, source: str) -> ModelArtifact:
    reader = _Reader(source)
    root = reader.mapping(
        document,
        "$",
        {"schema_version", "model_version", "feature", "coefficients", "metrics", "training", "sha256"},
    )
    version = reader.integer(root, "schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"{source}: schema_version {version} is not supported (expected {SCHEMA_VERSION})"
        )
    declared = reader.string(root, "sha256")
    actual = checksum(_without_checksum(root))
    if declared != actual:
        raise ArtifactError(
            f"{source}: checksum mismatch (declared {declared[:12]}…, content {actual[:12]}…)"
        )

    feature_doc = reader.mapping(root["feature"], "feature", _field_names(Feature))
    feature = Feature(
        name=reader.string(feature_doc, "name"),
        unit=reader.string(feature_doc, "unit"),
        train_min=reader.number(feature_doc, "train_min"),
        train_max=reader.number(feature_doc, "train_max"),
        sklearn_mean=reader.number(feature_doc, "sklearn_mean"),
        sklearn_scale=reader.number(feature_doc, "sklearn_scale"),
    )
    if feature.name != FEATURE_NAME or feature.unit != FEATURE_UNIT:
        raise ArtifactError(f"{source}: feature must be {FEATURE_NAME!r} in {FEATURE_UNIT!r}")
    if not (feature.train_min < feature.train_max and feature.sklearn_scale > 0):
        raise ArtifactError(f"{source}: feature range or scale is degenerate")

    coef_doc = reader.mapping(root["coefficients"], "coefficients", {"slope", "intercept"})
    coefficients = Coefficients(
        slope=reader.number(coef_doc, "slope"), intercept=reader.number(coef_doc, "intercept")
    )

    metrics_doc = reader.mapping(root["metrics"], "metrics", _field_names(Metrics))
    gates_doc = metrics_doc["gates"]
    if not isinstance(gates_doc, list) or not gates_doc:
        raise ArtifactError(f"{source}: metrics.gates must be a non-empty list")
    gates = tuple(_gate(reader, item, i) for i, item in enumerate(gates_doc))
    metrics = Metrics(
        holdout_r2=reader.number(metrics_doc, "holdout_r2"),
        holdout_mse=reader.number(metrics_doc, "holdout_mse"),
        train_r2=reader.number(metrics_doc, "train_r2"),
        train_mse=reader.number(metrics_doc, "train_mse"),
        optimal_train_mse=reader.number(metrics_doc, "optimal_train_mse"),
        cv_r2_mean=reader.number(metrics_doc, "cv_r2_mean"),
        cv_r2_std=reader.number(metrics_doc, "cv_r2_std"),
        cv_folds=reader.integer(metrics_doc, "cv_folds"),
        gates=gates,
    )

    training_doc = reader.mapping(root["training"], "training", _field_names(Training))
    hyper = reader.mapping(training_doc["hyperparameters"], "training.hyperparameters", None)
    data_sha = reader.mapping(training_doc["data_sha256"], "training.data_sha256", None)
    training = Training(
        seed=reader.integer(training_doc, "seed"),
        hyperparameters={k: reader.number_or_int(hyper, k) for k in sorted(hyper)},
        epochs_run=reader.integer(training_doc, "epochs_run"),
        n_train=reader.integer(training_doc, "n_train"),
        n_holdout=reader.integer(training_doc, "n_holdout"),
        data_sha256={k: reader.string(data_sha, k) for k in sorted(data_sha)},
        dataset=reader.string(training_doc, "dataset"),
    )
    return ModelArtifact(
        schema_version=version,
        model_version=reader.string(root, "model_version"),
        feature=feature,
        coefficients=coefficients,
        metrics=metrics,
        training=training,
        sha256=declared,
    )


def _gate(reader: _Reader, item: Any, index: int) -> Gate:
    doc = reader.mapping(
        item, f"metrics.gates[{index}]", {"name", "comparison", "threshold", "value", "passed"}
    )
    recorded = Gate(
        name=reader.string(doc, "name"),
        comparison=reader.string(doc, "comparison"),
        threshold=reader.number(doc, "threshold"),
        value=reader.number(doc, "value"),
        passed=reader.boolean(doc, "passed"),
    )
    # Re-evaluate rather than trust the recorded verdict: a gate that says "passed" must actually pass.
    return Gate.evaluate(recorded.name, recorded.comparison, recorded.threshold, recorded.value)


class _Reader:
    """Strict, typed access to decoded JSON, with error messages that name the offending field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> ArtifactError:
        return ArtifactError(f"{self.source}: {where} {problem}")

    def mapping(self, value: Any, where: str, expected: set[str] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be a JSON object")
        if expected is not None and set(value) != expected:
            missing, extra = sorted(expected - set(value)), sorted(set(value) - expected)
            raise self.fail(where, f"has missing fields {missing} / unexpected fields {extra}")
        return value

    def number(self, doc: dict[str, Any], key: str) -> float:
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {value!r}")
        return float(value)

    def number_or_int(self, doc: dict[str, Any], key: str) -> float | int:
        value = doc[key]
        return value if isinstance(value, int) and not isinstance(value, bool) else self.number(doc, key)

    def integer(self, doc: dict[str, Any], key: str) -> int:
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, got {value!r}")
        return value

    def string(self, doc: dict[str, Any], key: str) -> str:
        value = doc[key]
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def boolean(self, doc: dict[str, Any], key: str) -> bool:
        value = doc[key]
        if not isinstance(value, bool):
            raise self.fail(key, f"must be a boolean, got {value!r}")
        return value


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _without_checksum(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "sha256"}


def _canonical(document: Any) -> str:
    # allow_nan=False: a NaN or infinity can never be written, so it can never be checksummed as valid.
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid JSON number")
