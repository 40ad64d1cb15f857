"""What an answer must hold beyond its type, as the service would hold it: one row per BMI sent, each
prediction inside its interval, an artifact the service could serve. Anything else is a
:class:`ResponseError`: an unreadable answer, never an IndexError later."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..core import contract
from ..core.artifact import ArtifactError
from ..core.schemas import ModelInfoResponse
from ..core.serving import parse_artifact
from .errors import ResponseError


def check_rows(path: str, count: int, predictions: list[float], *columns: list[Any]) -> None:
    """:class:`ResponseError` unless the answer holds one prediction per BMI sent, each inside its
    interval (``columns``: lower bounds, upper bounds, then any other per-BMI column)."""
    if any(len(column) != count for column in (predictions, *columns)):
        raise ResponseError(f"POST {path} answered {len(predictions)} predictions for {count} BMIs")
    lower, upper = columns[0], columns[1]
    if not all(low <= p <= high for p, low, high in zip(predictions, lower, upper, strict=True)):
        raise ResponseError(f"POST {path} answered an interval that does not hold its prediction")


def check_artifact(info: ModelInfoResponse) -> ModelInfoResponse:
    """``info``, unless its artifact would not load in the service (e.g. no coverage group: ``overall``)."""
    try:
        parse_artifact(json.dumps(dataclasses.asdict(info["artifact"])), source="its artifact")
    except ArtifactError as exc:
        raise ResponseError(
            f"GET {contract.PATH_MODEL} answered an artifact that cannot be served: {exc}"
        ) from None
    return info
