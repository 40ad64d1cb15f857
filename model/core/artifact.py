"""The model artifact's schema, shared by the trainer (which writes it) and the function (which serves it).

Standard library only: the image holds it. The dataclasses are the schema (:mod:`.jsontypes` reads a document
strictly against them and :mod:`.jsonschema` documents them for ``/v1/model``). An artifact is a canonical
JSON document whose ``sha256`` field digests every other field, so corruption and hand edits are refused at
load (:mod:`.serving`); what guards against a forger is the image, promoted by digest, and the pre-traffic
check of its answers."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from .jsontypes import Items

# 3: intervals per BMI band, the outcome's range, a confidence interval on every figure, the drift bins
SCHEMA_VERSION: Final = 3
FEATURE_NAME: Final = "bmi"
FEATURE_UNIT: Final = "kg/m^2"
DEFAULT_MIN_R2: Final = 0.4
DEFAULT_MAX_CONVERGENCE_GAP: Final = 1e-6
# The level of every served interval (the one constant everything reads), and how far below it the
# cross-validated coverage of every group may fall.
INTERVAL_LEVEL: Final = 0.9
DEFAULT_MAX_COVERAGE_ERROR: Final = 0.03
MIN_GATED_GROUP: Final = 50  # patients: a WHO group this large has a calibration gate of its own
# At least one band and one coverage group (all patients), which every reader of an interval indexes; at most
# this many, a bound on what a served answer can make a client read.
MAX_INTERVAL_GROUPS: Final = 1_000
INTERVAL_METHOD: Final = "mondrian-cv-conformal"
# WHO adult BMI classes (kg/m², [low, high)) whose coverage is gated; underweight and obese class II and over
# are folded into their neighbours (2 and 19 of the 442 patients).
WHO_GROUPS: Final = (
    ("WHO under 25 kg/m² (under and normal weight)", 0.0, 25.0),
    ("WHO 25–29.9 kg/m² (overweight)", 25.0, 30.0),
    ("WHO 30 kg/m² and over (obese)", 30.0, math.inf),
)
DEFAULT_ARTIFACT_PATH: Final = Path(__file__).resolve().parent.parent / "artifacts" / "model.json"
QUALITY_GATE: Final = "quality (hold-out R2)"
CONVERGENCE_GATE: Final = "convergence (relative training-MSE gap to least squares)"
CALIBRATION_GATE: Final = "calibration"  # one gate per group and side: "calibration: band 1: ..."
Comparison = Literal[">=", "<="]


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
        return self.sklearn_mean + scaled * self.sklearn_scale

    def to_scaled(self, raw: float) -> float:
        return (raw - self.sklearn_mean) / self.sklearn_scale


@dataclass(frozen=True, slots=True)
class Outcome:
    """Disease progression one year after baseline (unitless): every served prediction and bound lies in
    [``low``, ``high``], the training range widened by ``margin_fraction`` of its span (``source``)."""

    train_min: float
    train_max: float
    low: float
    high: float
    margin_fraction: float
    source: str


@dataclass(frozen=True, slots=True)
class Coefficients:
    """y = slope * bmi + intercept, in raw units (bmi in kg/m^2)."""

    slope: float
    intercept: float

    def predict(self, raw: float) -> float:
        return self.slope * raw + self.intercept


@dataclass(frozen=True, slots=True)
class Band:
    """A BMI band's half-width, the ``rank``-th smallest absolute out-of-fold error of its ``n`` patients,
    whose coverage is Beta(rank, n + 1 - rank): rank / (n + 1) on average, below level - pac_delta with
    probability ``below_probability``."""

    n: int
    rank: int
    half_width: float
    expected_coverage: float
    below_probability: float


@dataclass(frozen=True, slots=True)
class GroupCoverage:
    """A group's share of training patients inside their nested cross-validated interval (served rule), and
    the mean rank / (n + 1) of the ranks behind those intervals."""

    group: str
    n: int
    coverage: float
    expected: float


@dataclass(frozen=True, slots=True)
class PredictionInterval:
    """Mondrian conformal prediction on cross-validated errors: per BMI band (band i = [edges[i-1],
    edges[i]), outer bands open) a rank whose coverage is at least level - pac_delta with probability
    pac_confidence; beyond the training range ``extrapolation_widening`` more per kg/m^2. ``coverage``:
    everyone, each band, each WHO group (:func:`.serving.calibration_groups`), over ``cv_repeats`` seeds."""

    method: Literal["mondrian-cv-conformal"]
    level: float
    guarantee: Literal["training-conditional"]
    pac_delta: float
    pac_confidence: float
    edges: tuple[float, ...]
    bands: Annotated[tuple[Band, ...], Items(1, MAX_INTERVAL_GROUPS)]
    extrapolation_widening: float
    cv_repeats: int
    coverage: Annotated[tuple[GroupCoverage, ...], Items(1, MAX_INTERVAL_GROUPS)]
    holdout_coverage: float

    @property
    def overall(self) -> GroupCoverage:
        return self.coverage[0]


@dataclass(frozen=True, slots=True)
class Drift:
    """The training BMIs' shares in ten bins (bin i = [edges[i-1], edges[i])): the input-drift reference."""

    edges: tuple[float, ...]
    proportions: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A figure, its confidence interval at ``level``, and how: ``resamples`` bootstrap resamples or folds."""

    value: float
    low: float
    high: float
    level: float
    method: Literal["bca-bootstrap", "percentile-bootstrap", "nadeau-bengio-repeated-cv"]
    resamples: int
    seed: int


@dataclass(frozen=True, slots=True)
class Gate:
    """A blocking check: ``passed`` must agree with ``value`` against ``threshold``."""

    name: str
    comparison: Comparison  # ">=": the value must reach the threshold; "<=": not exceed it
    threshold: float
    value: float
    passed: bool

    @staticmethod
    def evaluate(name: str, comparison: Comparison, threshold: float, value: float) -> Gate:
        passed = value >= threshold if comparison == ">=" else value <= threshold
        return Gate(name=name, comparison=comparison, threshold=threshold, value=value, passed=passed)

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.name} gate {verdict}: {self.value:.6g} {self.comparison} {self.threshold:.6g} required"


@dataclass(frozen=True, slots=True)
class Metrics:
    """Scores of the served model; errors (MSE, MAE) are in the target's units (squared for MSE). Every
    figure with a confidence interval is in ``estimates`` (hold-out R², RMSE and MAE; cross-validated ones;
    calibration and discrimination); ``cv_r2_fold_sd`` is the spread of the fold values, not an interval."""

    holdout_r2: float
    holdout_mse: float
    holdout_mae: float
    train_r2: float
    train_mse: float
    optimal_train_mse: float
    cv_folds: int
    cv_repeats: int
    cv_r2_fold_sd: float
    auroc_threshold: float  # the AUROC is that of the prediction for progression above this
    estimates: dict[str, Estimate]
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
    drift: Drift
    metrics: Metrics
    training: Training
    sha256: str  # of the canonical document without this field; computed when written, checked when read

    def to_document(self) -> dict[str, Any]:
        """The JSON document, including the checksum (computed here, never trusted from the field)."""
        body = {key: value for key, value in asdict(self).items() if key != "sha256"}
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


def _canonical(document: Any) -> str:
    # allow_nan=False: a NaN or infinity can never be written, so it can never be checksummed as valid.
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
