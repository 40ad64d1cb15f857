"""The Python API: the trained model in this process, answering exactly as the service does (README).

The input is read by the same request types and answered by the same domain functions as in the function, so
the numbers, ``extrapolated`` flags, limits and refusals (:class:`.jsontypes.ValidationError`, with the
service's words) are the same. Standard library only."""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from ..core.artifact import DEFAULT_ARTIFACT_PATH, ArtifactError, ModelArtifact
from ..core.contract import BATCH_MAX
from ..core.jsontypes import read
from ..core.prediction import respond, respond_batch
from ..core.schemas import (
    LIMITS,
    BatchPredictRequest,
    BatchPredictResponse,
    ModelInfoResponse,
    PredictRequest,
    PredictResponse,
)
from ..core.serving import load_artifact
from ..core.untrusted import take

__all__ = ["BUNDLED_ARTIFACT", "Model", "as_number", "batch_of", "load_model"]

BUNDLED_ARTIFACT: Final = DEFAULT_ARTIFACT_PATH  # the model trained when the package was built


class Model:
    """A loaded, validated model artifact and the service's answers to it."""

    __slots__ = ("artifact",)

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact: Final = artifact

    @property
    def version(self) -> str:
        return self.artifact.model_version

    def predict(self, bmi: float) -> PredictResponse:
        """The answer to one BMI (kg/m^2), as ``POST /v1/predict`` gives it; :class:`ValidationError` if the
        service would refuse it (not a finite number, or outside 10-100)."""
        request = read({"bmi": as_number(bmi)}, PredictRequest)
        return respond(self.artifact, request)[0]

    def predict_batch(self, bmis: Iterable[float]) -> BatchPredictResponse:
        """The answer to 1 to 10 000 BMIs, as ``POST /v1/predict/batch`` gives it, in input order; one
        :class:`ValidationError` naming every refused value (``bmi[3]``), as the service does. At most
        10 001 values are taken from ``bmis``: an endless iterator is refused as a list of 10 001 is."""
        request = read({"bmi": batch_of(bmis)}, BatchPredictRequest)
        return respond_batch(self.artifact, request)[0]

    def model_info(self) -> ModelInfoResponse:
        """What ``GET /v1/model`` answers: the artifact and the input limits."""
        return {"artifact": self.artifact, "limits": {**LIMITS}}

    def __repr__(self) -> str:
        return f"Model({self.version!r})"


def load_model(path: str | os.PathLike[str] | None = None) -> Model:
    """The model at ``path`` (a JSON artifact written by the trainer), else the one bundled with the package.

    Fail-closed, as the service loads it: :class:`.artifact.ArtifactError` says what is wrong with an
    artifact that is missing, corrupt, altered or below the serving policy's gates, or with a path that is
    empty or not a path."""
    if path is None:
        return Model(load_artifact(BUNDLED_ARTIFACT))
    where = os.fspath(path) if isinstance(path, str | os.PathLike) else None
    if not isinstance(where, str):  # bytes, a number: documented as ArtifactError, not Path()'s TypeError
        raise ArtifactError(f"a model artifact's path is a str or os.PathLike, not {type(path).__name__}")
    if not where:  # Path("") is ".", a directory: "unreadable" would not say what is wrong
        raise ArtifactError("cannot read the model artifact at '': an empty path names no file")
    return Model(load_artifact(Path(where)))


def batch_of(bmis: Any) -> Any:
    """What a batch request holds: at most BATCH_MAX + 1 numbers (:func:`as_number`) taken from an iterable,
    or anything else unchanged (a string, a number), for the request type to refuse in the service's words."""
    if isinstance(bmis, str | bytes | Mapping) or not isinstance(bmis, Iterable):
        return bmis
    return [as_number(bmi) for bmi in take(bmis, BATCH_MAX)]


def as_number(value: Any) -> Any:
    """A Python number as the float its JSON text becomes in the service (which reads every JSON number,
    integers included, as a float); numpy's scalars and the other :class:`numbers.Real` count, ``bool`` does
    not. Anything else is returned unchanged, for the request type to refuse with the service's words."""
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: the reader calls it not finite
            return value
    return value
