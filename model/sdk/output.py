"""What the command line reads and prints: BMIs from a file or standard input, the table of answers, their
rows as CSV or JSON lines, and the model's description."""

from __future__ import annotations

import codecs
import csv
import errno
import io
import json
import re
import sys
from collections.abc import Sequence
from typing import Any, Final, cast

from ..core.artifact import ModelArtifact
from ..core.contract import BATCH_MAX, BODY_MAX_BYTES
from ..core.schemas import BatchPredictResponse, ModelInfoResponse, PredictResponse
from ..core.untrusted import read_file, take

Answer = PredictResponse | BatchPredictResponse
_JSON_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")  # RFC 8259 §6
_NOT_FINITE: Final = re.compile(r"[-+]?(?:inf|infinity|nan)", re.IGNORECASE)
COLUMNS: Final = ("bmi", "prediction", "lower", "upper", "extrapolated")  # and model_version in JSON lines


def read_bmis(source: str) -> list[Any]:
    """Numbers separated by white space or commas, from the file ``source`` (``-``: standard input), read
    no further than the API's largest body and no more than one value past the largest batch: OSError if it
    cannot be read, ValueError if it is larger or not UTF-8 text (a leading UTF-8 BOM, as Excel's "CSV UTF-8"
    writes, is skipped)."""
    name = "standard input" if source == "-" else source
    try:
        raw = read_file(source, BODY_MAX_BYTES) if source != "-" else _standard_input(BODY_MAX_BYTES)
    except OSError as exc:  # too large is refused input, as the service's 413, from a file or a pipe
        if exc.errno != errno.EFBIG:
            raise
        raise ValueError(f"{name} holds more than {BODY_MAX_BYTES} bytes: more than a batch") from None
    try:
        text = raw.removeprefix(codecs.BOM_UTF8).decode()
    except UnicodeDecodeError:  # UTF-16, Latin-1: say so once, not "must be a number" for every value
        raise ValueError(f"{name} is not UTF-8 text") from None
    return [number(value) for value in take(text.replace(",", " ").split(), BATCH_MAX)]


def _standard_input(limit: int) -> bytes:
    if sys.stdin is None:
        raise OSError("standard input is closed")
    raw = sys.stdin.buffer.read(limit + 1)
    if len(raw) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes")
    return raw


def number(text: str) -> float | str:
    """A BMI as given: a float if it is a JSON number (the service's reading; not Python's, which also takes
    1_5, ٣٠, ３０ or 30.) or spells a NaN or infinity (refused as not finite, clearer than "not a number"),
    else the text, for the request type to refuse in the service's words."""
    return float(text) if _JSON_NUMBER.fullmatch(text) or _NOT_FINITE.fullmatch(text) else text


def rows(bmis: Sequence[float], answer: Answer) -> list[tuple[float, float, int, int, bool]]:
    """One row per BMI, in input order: the BMI, its prediction, interval bounds and extrapolation flag."""
    if "prediction" in answer:  # one BMI: POST /v1/predict's answer
        one = cast("PredictResponse", answer)
        interval = one["interval"]
        return [(bmis[0], one["prediction"], interval["lower"], interval["upper"], one["extrapolated"])]
    bounds = answer["intervals"]
    columns = (answer["predictions"], bounds["lower"], bounds["upper"], answer["extrapolated"])
    return list(zip(bmis, *columns, strict=True))


def rows_as(shape: str, bmis: Sequence[float], answer: Answer) -> str:
    """The rows as CSV with a header (numbers and booleans only: nothing a spreadsheet would run), or as JSON
    lines that also name the model version."""
    if shape == "jsonl":
        version = {"model_version": answer["model_version"]}
        return "\n".join(
            json.dumps({**dict(zip(COLUMNS, row, strict=True)), **version}) for row in rows(bmis, answer)
        )
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([COLUMNS, *rows(bmis, answer)])
    return text.getvalue().rstrip("\n")


def table(bmis: Sequence[float], answer: Answer) -> str:
    """One row per BMI, in input order: prediction, interval, and whether it is extrapolated."""
    if "prediction" in answer:
        level = cast("PredictResponse", answer)["interval"]["level"]
    else:
        level = answer["intervals"]["level"]
    lines = [f"{'BMI':>6}  {'prediction':>10}  {f'{level:.0%} interval':>14}"]
    for bmi, prediction, lower, upper, extrapolated in rows(bmis, answer):
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
