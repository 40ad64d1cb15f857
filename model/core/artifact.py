"""The model artifact's schema, shared by the trainer (which writes it) and the function (which serves it).

Standard library only: the image holds it. The dataclasses are the schema (:mod:`.jsontypes` reads a document
strictly against them and :mod:`.jsonschema` documents them for ``/v1/model``). An artifact is a canonical
JSON document whose ``sha256`` field digests every other field, so corruption and hand edits are refused at
load (:mod:`.serving`); what guards against a forger is the image, promoted by digest, and the pre-traffic
check of its answers."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import math
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Literal

SCHEMA_VERSION: Final = 2  # 2: prediction intervals and the calibration gate
FEATURE_NAME: Final = "bmi"
FEATURE_UNIT: Final = "kg/m^2"
DEFAULT_MIN_R2: Final = 0.4
DEFAULT_MAX_CONVERGENCE_GAP: Final = 1e-6
# The level every served interval has (the one constant: the trainer, the serving policy, the answers, the
# card and the tests all read it), and how far its cross-validated coverage may stray from it.
INTERVAL_LEVEL: Final = 0.9
DEFAULT_MAX_COVERAGE_ERROR: Final = 0.03
INTERVAL_METHOD: Final = "normalized-cv-conformal"
DEFAULT_ARTIFACT_PATH: Final = Path(__file__).resolve().parent.parent / "artifacts" / "model.json"
QUALITY_GATE: Final = "quality (hold-out R2)"
CONVERGENCE_GATE: Final = "convergence (relative training-MSE gap to least squares)"
CALIBRATION_GATE: Final = "calibration (distance of the interval's cross-validated coverage from its level)"


class ArtifactError(ValueError):
    """The artifact is missing, malformed, tampered with, or describes a model that must not be served."""


@dataclass(frozen=True, slots=True)
class Feature:
    """The single input feature and the statistics the service needs to interpret it."""

    name: Literal["bmi"]
    unit: Literal["kg/m^2"]
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
        return (raw - self.sklearn_mean) / self.sklearn_scale

    def is_extrapolated(self, raw: float) -> bool:
        return not self.train_min <= raw <= self.train_max


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the model predicts: disease progression one year after baseline, unitless, in the range its
    training rows span. The serving policy holds every answer to a band around that range."""

    train_min: float
    train_max: float

    def sane_band(self) -> tuple[float, float]:
        """The training range widened by three times its span on each side: a linear model extrapolated
        to any plausible BMI stays inside; a corrupt or absurd one does not."""
        span = self.train_max - self.train_min
        return self.train_min - 3 * span, self.train_max + 3 * span


@dataclass(frozen=True, slots=True)
class Coefficients:
    """y = slope * bmi + intercept, in raw units (bmi in kg/m^2)."""

    slope: float
    intercept: float

    def predict(self, raw: float) -> float:
        return self.slope * raw + self.intercept


@dataclass(frozen=True, slots=True)
class Scale:
    """How large the error typically is at a BMI, in the target's units: ``max(intercept + slope * bmi,
    floor)``, a least-squares line through the cross-validated absolute residuals, floored (at half their
    mean) so that it stays positive for every BMI the service accepts."""

    intercept: float
    slope: float
    floor: float

    def at(self, bmi: float) -> float:
        return max(self.intercept + self.slope * bmi, self.floor)


@dataclass(frozen=True, slots=True)
class PredictionInterval:
    """``prediction +- quantile * scale(bmi)``: normalised conformal prediction on cross-validated
    residuals. ``quantile`` is the conformal quantile, at ``level``, of |residual| / scale(bmi) over the
    training rows; ``cv_coverage`` is the share of training rows inside their interval under nested
    cross-validation (the interval of each outer fold built from that fold's training rows only), and
    ``holdout_coverage`` the share of the canonical hold-out rows inside the served model's interval."""

    method: Literal["normalized-cv-conformal"]
    level: float
    quantile: float
    scale: Scale
    cv_coverage: float
    holdout_coverage: float

    def half_width(self, bmi: float) -> float:
        return self.quantile * self.scale.at(bmi)

    def bounds(self, bmi: float, prediction: float) -> tuple[int, int]:
        """The served interval: rounded outward to whole units, so it is never narrower than computed (its
        coverage can only grow) and carries no digits the model cannot vouch for."""
        half = self.half_width(bmi)
        return math.floor(prediction - half), math.ceil(prediction + half)


@dataclass(frozen=True, slots=True)
class Gate:
    """A blocking check: ``passed`` must agree with ``value`` against ``threshold``."""

    name: str
    comparison: Literal[">=", "<="]  # ">=": the value must reach the threshold; "<=": not exceed it
    threshold: float
    value: float
    passed: bool

    @staticmethod
    def evaluate(name: str, comparison: Literal[">=", "<="], threshold: float, value: float) -> Gate:
        passed = value >= threshold if comparison == ">=" else value <= threshold
        return Gate(name=name, comparison=comparison, threshold=threshold, value=value, passed=passed)

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.name} gate {verdict}: {self.value:.6g} {self.comparison} {self.threshold:.6g} required"


@dataclass(frozen=True, slots=True)
class Metrics:
    """Scores of the served model; errors (MSE, MAE, RMSE) are in the target's units (squared for MSE).
    ``cv_rmse`` and ``cv_mae`` come from the out-of-fold predictions of the same folds as ``cv_r2_*``."""

    holdout_r2: float
    holdout_mse: float
    holdout_mae: float
    train_r2: float
    train_mse: float
    optimal_train_mse: float
    cv_r2_mean: float
    cv_r2_std: float
    cv_rmse: float
    cv_mae: float
    cv_folds: int
    gates: tuple[Gate, ...]


@dataclass(frozen=True, slots=True)
class Training:
    seed: int
    hyperparameters: dict[str, int | float]
    epochs_run: int
    n_train: int
    n_holdout: int
    data_sha256: dict[str, str]
    dataset: str


@dataclass(frozen=True, slots=True)
class ModelArtifact:
    """A trained, gated model: what ``/v1/model`` serves."""

    schema_version: int
    model_version: str
    feature: Feature
    outcome: Outcome
    coefficients: Coefficients
    interval: PredictionInterval
    metrics: Metrics
    training: Training
    sha256: str  # of the canonical document without this field; computed when written, checked when read

    def to_document(self) -> dict[str, Any]:
        """The JSON document, including the checksum (computed here, never trusted from the field)."""
        body = without_checksum(asdict(self))
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
    digest = checksum({"data": data_sha256, "config": config, "code": code_sha256})
    return f"bmi-linear-{digest[:12]}"


def write_artifact_atomically(artifact: ModelArtifact, path: Path) -> None:
    """Writes the artifact so that readers see either the previous file or the complete new one: only ever
    a regular file (a device node, a FIFO or a link at ``path`` is refused, never written through or
    replaced). The temporary files of runs that died before they could remove their own go first."""
    import tempfile  # the trainer writes artifacts, the function only reads them: not at its cold start

    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise OSError(errno.EEXIST, "it exists and is not a regular file: not replaced")
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = stale.name[len(path.name) + 2 :].partition(".")[0]
        if pid.isdigit() and len(pid) < 10 and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether the process exists (PermissionError: another user's)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def without_checksum(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "sha256"}


def _canonical(document: Any) -> str:
    # allow_nan=False: a NaN or infinity can never be written, so it can never be checksummed as valid.
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
