import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from model.train import dataset
from model.train.dataset import DataError, load_dataset


def test_ships_the_raw_diabetes_data_with_bmi_in_kg_per_m2():
    data = load_dataset()
    assert data.bmi.shape == data.target.shape == (442,)
    assert (data.bmi.min(), data.bmi.max()) == (18.0, 42.2)
    assert (data.target.min(), data.target.max()) == (25.0, 346.0)
    assert data.train.x.size == 422
    assert data.holdout.x.size == 20
    np.testing.assert_array_equal(data.holdout.x, data.bmi[-20:])


def test_matches_scikit_learns_copy():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    scaled = sklearn_datasets.load_diabetes()
    raw = sklearn_datasets.load_diabetes(scaled=False)
    data = load_dataset()
    np.testing.assert_array_equal(data.bmi, raw.data[:, 2])
    np.testing.assert_array_equal(data.target, raw.target)
    # The cohort columns of the model card: AGE and SEX, in the raw file's units (years; codes 1 and 2)
    np.testing.assert_array_equal(data.age, raw.data[:, 0])
    np.testing.assert_array_equal(data.sex, raw.data[:, 1])
    assert set(np.unique(data.sex)) == {1.0, 2.0}
    # scikit-learn's scaling: (x - mean) / sqrt(sum((x - mean)^2)) per column
    centered = data.bmi - data.bmi.mean()
    np.testing.assert_allclose(centered / np.sqrt((centered**2).sum()), scaled.data[:, 2], rtol=1e-12)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    for name in (dataset.FEATURES_FILE, dataset.TARGET_FILE):
        shutil.copy(dataset.DATA_DIR / name, tmp_path / name)
    return tmp_path


def test_refuses_a_file_whose_digest_differs(data_copy: Path):
    # Given the target file with one value changed
    path = data_copy / dataset.TARGET_FILE
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    lines[0] = "1.520000000000000000e+02"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    # Then loading refuses it and says why
    with pytest.raises(DataError, match="sha256"):
        load_dataset(data_copy)


def test_refuses_a_missing_file(data_copy: Path):
    (data_copy / dataset.FEATURES_FILE).unlink()
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(data_copy)


def test_refuses_malformed_content_even_with_a_matching_digest(data_copy: Path, monkeypatch):
    # A digest can only be matched by the real file; patch the expectation to reach the parser's checks.
    path = data_copy / dataset.TARGET_FILE
    path.write_bytes(b"not gzip at all")
    import hashlib

    monkeypatch.setitem(
        dataset.EXPECTED_SHA256, dataset.TARGET_FILE, hashlib.sha256(b"not gzip at all").hexdigest()
    )
    with pytest.raises(DataError, match="malformed"):
        load_dataset(data_copy)


def test_refuses_a_table_of_the_wrong_shape(data_copy: Path, monkeypatch):
    import hashlib

    truncated = gzip.compress(b"1.0\n2.0\n")
    (data_copy / dataset.TARGET_FILE).write_bytes(truncated)
    monkeypatch.setitem(dataset.EXPECTED_SHA256, dataset.TARGET_FILE, hashlib.sha256(truncated).hexdigest())
    with pytest.raises(DataError, match="shape"):
        load_dataset(data_copy)
