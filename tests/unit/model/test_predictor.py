"""The Python API: one entry point, the service's answers and refusals, the model's metadata."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import cast

import numpy as np
import pytest

import model as package
from model.core import contract
from model.core.artifact import INTERVAL_LEVEL, ArtifactError, ModelArtifact
from model.core.jsontypes import ValidationError
from model.core.schemas import LIMITS
from model.sdk import predictor
from model.sdk.predictor import Model, as_number, load_model
from scripts import REPO_ROOT
from tests.served_rule import served


@pytest.fixture(scope="module")
def model(model_artifact_path: Path) -> Model:
    return load_model()


def test_the_default_is_the_bundled_artifact(model: Model, model_artifact: ModelArtifact) -> None:
    assert model.artifact == model_artifact
    assert model.version == model_artifact.model_version
    assert load_model(predictor.BUNDLED_ARTIFACT).artifact == model_artifact


def test_another_artifact_is_loaded_from_its_path(tmp_path: Path, model_artifact: ModelArtifact) -> None:
    (tmp_path / "m.json").write_text(model_artifact.to_json())
    assert load_model(tmp_path / "m.json").artifact == model_artifact
    assert load_model(str(tmp_path / "m.json")).version == model_artifact.model_version


def test_an_unusable_artifact_is_refused_as_the_service_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text('{"schema_version": 2}')
    with pytest.raises(ArtifactError):
        load_model(tmp_path / "m.json")
    with pytest.raises(ArtifactError, match="not found"):
        load_model(tmp_path / "absent.json")


def test_one_prediction_is_the_line_with_its_interval(model: Model) -> None:
    answer = model.predict(27.3)
    c = model.artifact.coefficients
    assert answer["prediction"] == c.slope * 27.3 + c.intercept
    _, lower, upper, _ = served(model.artifact, 27.3)
    assert answer["interval"] == {"level": INTERVAL_LEVEL, "lower": lower, "upper": upper}
    assert answer["model_version"] == model.version
    assert answer["extrapolated"] is False
    assert answer["extrapolation_distance"] == 0.0
    assert set(answer) == {
        "prediction",
        "interval",
        "model_version",
        "extrapolated",
        "extrapolation_distance",
    }


def test_over_the_accepted_range_every_answer_is_a_possible_outcome(model: Model) -> None:
    answer = model.predict_batch(10 + i / 100 for i in range(9001))
    low, high = model.artifact.outcome.low, model.artifact.outcome.high
    rows = zip(answer["predictions"], answer["intervals"]["lower"], answer["intervals"]["upper"], strict=True)
    assert all(low <= lower <= value <= upper <= high for value, lower, upper in rows)


def test_a_batch_is_answered_in_order_and_agrees_with_single_predictions(model: Model) -> None:
    bmis = [22.0, 27.3, 45.1, 12.0]
    batch = model.predict_batch(bmis)
    singles = [model.predict(b) for b in bmis]
    assert batch["predictions"] == [s["prediction"] for s in singles]
    assert batch["intervals"]["lower"] == [s["interval"]["lower"] for s in singles]
    assert batch["intervals"]["upper"] == [s["interval"]["upper"] for s in singles]
    assert batch["extrapolated"] == [False, False, True, True]
    assert batch["extrapolated_count"] == 2
    assert batch["extrapolation_distance"] == [s["extrapolation_distance"] for s in singles]


@pytest.mark.parametrize(
    ("bmi", "extrapolated"), [(10, True), (17.99, True), (18.0, False), (42.2, False), (100, True)]
)
def test_the_training_range_flags_extrapolation_within_the_accepted_range(
    model: Model, bmi, extrapolated
) -> None:
    assert model.predict(bmi)["extrapolated"] is extrapolated


@pytest.mark.parametrize(
    ("bmi", "issue"),
    [
        (500, "must be between 10 and 100 kg/m^2"),
        (9.99, "must be between 10 and 100 kg/m^2"),
        (math.nan, "must be a finite number (no NaN, Infinity or overflowing value)"),
        (math.inf, "must be a finite number (no NaN, Infinity or overflowing value)"),
        (10**400, "must be a finite number (no NaN, Infinity or overflowing value)"),
        ("27.3", "must be a number"),
        (True, "must be a number"),
        (None, "must be a number"),
        (np.bool_(True), "must be a number"),
    ],
)
def test_what_the_service_refuses_raises_with_its_words(model: Model, bmi, issue) -> None:
    with pytest.raises(ValidationError) as raised:
        model.predict(bmi)
    assert [(i.field, i.issue) for i in raised.value.issues] == [("bmi", issue)]
    assert str(raised.value) == f"bmi {issue}"


def test_a_batch_names_every_refused_value_and_keeps_the_limits(model: Model) -> None:
    with pytest.raises(ValidationError) as raised:
        model.predict_batch([25.0, 500.0, cast("float", "x"), 30])
    assert [i.field for i in raised.value.issues] == ["bmi[1]", "bmi[2]"]
    for bmis in ([], [27.0] * (contract.BATCH_MAX + 1)):
        with pytest.raises(ValidationError, match=f"between 1 and {contract.BATCH_MAX} values"):
            model.predict_batch(bmis)
    assert len(model.predict_batch([27.0] * contract.BATCH_MAX)["predictions"]) == contract.BATCH_MAX


@pytest.mark.parametrize("bmis", ["27.3", b"27", 27.3, None, {"bmi": 27.3}])
def test_what_is_not_a_batch_is_refused_in_the_service_s_words(model: Model, bmis: object) -> None:
    with pytest.raises(ValidationError, match="bmi must be a JSON array"):
        model.predict_batch(cast("list[float]", bmis))


def test_an_endless_or_huge_iterable_is_refused_at_the_cost_of_a_valid_batch(model: Model) -> None:
    taken = itertools.count()
    endless = (27.3 + 0 * next(taken) for _ in itertools.repeat(None))
    with pytest.raises(ValidationError, match=f"between 1 and {contract.BATCH_MAX} values"):
        model.predict_batch(endless)
    assert next(taken) == contract.BATCH_MAX + 1  # one value past the limit, never more

    class Counted(list[float]):  # a list that counts the items read from it
        read = 0

        def __iter__(self) -> Iterator[float]:
            for item in super().__iter__():
                self.read += 1
                yield item

    huge = Counted([27.3] * 10**7)
    with pytest.raises(ValidationError, match=f"between 1 and {contract.BATCH_MAX} values"):
        model.predict_batch(huge)
    assert huge.read == contract.BATCH_MAX + 1  # behaviour, not a timing: a loaded machine cannot fail it


@pytest.mark.parametrize(
    "path",
    ["a\0b", "/dev/zero", "/dev/null", "/", "x" * 5000, "/proc/self/mem"],
    ids=["nul", "endless device", "empty device", "directory", "name too long", "proc file"],
)
def test_every_unloadable_path_is_an_artifact_error(path: str) -> None:
    with pytest.raises(ArtifactError, match="model artifact"):
        load_model(path)


def test_python_numbers_count_as_the_json_numbers_they_would_be(model: Model) -> None:
    # numpy's scalars and arrays, integers and fractions: what a Python caller holds
    assert model.predict(np.float64(27.3)) == model.predict(27.3)
    assert model.predict(30) == model.predict(30.0)
    assert model.predict(cast("float", Fraction(273, 10))) == model.predict(27.3)
    assert model.predict_batch(np.array([22.0, 27.3])) == model.predict_batch([22.0, 27.3])
    assert type(as_number(np.int64(30))) is float
    assert as_number("30") == "30"
    assert as_number(True) is True


def test_metadata_is_the_artifact_and_the_limits(model: Model) -> None:
    info = model.model_info()
    assert info["artifact"] is model.artifact
    assert info["limits"] == LIMITS == {"bmi_min": 10.0, "bmi_max": 100.0, "batch_max": contract.BATCH_MAX}
    info["limits"]["bmi_max"] = 1.0  # the caller's copy
    assert model.model_info()["limits"]["bmi_max"] == 100.0
    assert model.artifact.metrics.holdout_r2 >= 0.4
    assert repr(model) == f"Model('{model.version}')"


def test_answers_are_plain_json(model: Model) -> None:
    assert json.loads(json.dumps(model.predict_batch([20.0, 50.0]))) == model.predict_batch([20.0, 50.0])


def test_the_package_names_its_entry_points_lazily() -> None:
    assert package.load_model is load_model
    assert package.Model is Model
    assert package.ValidationError is ValidationError
    from model.sdk.client import Client

    assert package.Client is Client
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = package.nothing
    assert sorted(package.__all__) == sorted(["__version__", *package._WHERE])
    assert dir(package) == sorted(package.__all__)  # the public API is what dir() shows


def test_importing_the_function_s_modules_loads_neither_the_api_nor_the_client() -> None:
    # The function imports the model's core at its cold start, and nothing of the SDK or the trainer.
    code = (
        "import sys, model.core.serving, model.core.prediction, model.core.schemas;"
        "print(sorted(m for m in sys.modules if m.startswith(('model.sdk', 'model.train'))"
        " or m in ('urllib.request', 'numbers')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("path", [123, 3.5, b"/x", ["model.json"]])
def test_a_path_that_is_not_a_path_is_an_artifact_error_not_a_type_error(path: object) -> None:
    with pytest.raises(ArtifactError, match=r"path is a str or os\.PathLike, not"):
        load_model(path)  # type: ignore[arg-type]
