"""The diabetes data set shipped in ``model/data``: integrity-checked loading and the canonical split."""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from ..core.untrusted import read_file

DATA_DIR: Final = Path(__file__).resolve().parent.parent / "data"
FEATURES_FILE: Final = "diabetes_data_raw.csv.gz"
TARGET_FILE: Final = "diabetes_target.csv.gz"
# Digests of the files as shipped by scikit-learn 1.9.1 (see model/data/README.md).
EXPECTED_SHA256: Final = {
    FEATURES_FILE: "7fc0ded571454b1982210d3bb43f0aca44eae01a0b8654a3b24022bdb6b38009",
    TARGET_FILE: "8e53f65eb811df43c206f3534bb3af0e5fed213bc37ed6ba36310157d6023803",
}
MAX_FILE_BYTES: Final = 1024 * 1024  # each shipped file is under 20 kB
COLUMNS: Final = ("AGE", "SEX", "BMI", "BP", "S1", "S2", "S3", "S4", "S5", "S6")
N_PATIENTS: Final = 442
# The last 20 patients are the hold-out: the split of the system this service replaces and of
# scikit-learn's own linear-regression example, kept so that the R² gate means the same thing.
HOLDOUT_SIZE: Final = 20
TRAIN_ROWS: Final = slice(0, N_PATIENTS - HOLDOUT_SIZE)
HOLDOUT_ROWS: Final = slice(N_PATIENTS - HOLDOUT_SIZE, N_PATIENTS)
DATASET_NAME: Final = "diabetes (Efron et al. 2004, Least Angle Regression), as shipped by scikit-learn 1.9.1"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class DataError(ValueError):
    """The shipped data is missing, altered or malformed."""


@dataclass(frozen=True, slots=True)
class Split:
    x: FloatArray
    y: FloatArray


@dataclass(frozen=True, slots=True)
class Dataset:
    """One value per patient in each array. AGE and SEX are not model inputs: they describe the cohort and
    define the subgroups of the model card."""

    bmi: FloatArray  # kg/m²
    target: FloatArray
    age: FloatArray  # years
    sex: FloatArray  # coded 1 or 2; the source does not say which code means which sex
    sha256: dict[str, str]

    @property
    def train(self) -> Split:
        return Split(self.bmi[TRAIN_ROWS], self.target[TRAIN_ROWS])

    @property
    def holdout(self) -> Split:
        return Split(self.bmi[HOLDOUT_ROWS], self.target[HOLDOUT_ROWS])


def load_dataset(data_dir: Path = DATA_DIR) -> Dataset:
    """Loads BMI, target, age and sex, refusing files whose digest or shape is not the expected one."""
    features = _parse(_read_verified(data_dir / FEATURES_FILE), FEATURES_FILE, columns=len(COLUMNS))
    target = _parse(_read_verified(data_dir / TARGET_FILE), TARGET_FILE, columns=1)

    bmi, age, sex = (features[:, COLUMNS.index(name)].copy() for name in ("BMI", "AGE", "SEX"))
    return Dataset(bmi=bmi, target=target[:, 0].copy(), age=age, sex=sex, sha256=dict(EXPECTED_SHA256))


def _read_verified(path: Path) -> bytes:
    try:
        raw = read_file(path, MAX_FILE_BYTES)  # a regular file only: never a FIFO, /dev/zero, a directory
    except OSError as exc:
        raise DataError(f"cannot read data file {path}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    expected = EXPECTED_SHA256[path.name]
    if digest != expected:
        raise DataError(
            f"data file {path} has sha256 {digest[:12]}…, expected {expected[:12]}…; "
            "it is not the shipped data set"
        )
    return raw


def _parse(raw: bytes, name: str, *, columns: int) -> FloatArray:
    try:
        text = gzip.decompress(raw).decode("ascii")
        table = np.loadtxt(io.StringIO(text), dtype=np.float64, ndmin=2)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"data file {name} is malformed: {exc}") from exc
    if table.shape != (N_PATIENTS, columns) or not np.isfinite(table).all():
        raise DataError(
            f"data file {name} has shape {table.shape}, expected ({N_PATIENTS}, {columns}) finite values"
        )
    return table
