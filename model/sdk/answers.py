"""What a prediction answer must hold beyond its type: one row per BMI sent, each prediction inside its
interval. Anything else is a :class:`ResponseError`: an unreadable answer, never an IndexError later."""

from __future__ import annotations

from typing import Any

from .errors import ResponseError


def check_rows(path: str, count: int, predictions: list[float], *columns: list[Any]) -> None:
    """:class:`ResponseError` unless the answer holds one prediction per BMI sent, each inside its
    interval (``columns``: lower bounds, upper bounds, then any other per-BMI column)."""
    if any(len(column) != count for column in (predictions, *columns)):
        raise ResponseError(f"POST {path} answered {len(predictions)} predictions for {count} BMIs")
    lower, upper = columns[0], columns[1]
    if not all(low <= p <= high for p, low, high in zip(predictions, lower, upper, strict=True)):
        raise ResponseError(f"POST {path} answered an interval that does not hold its prediction")
