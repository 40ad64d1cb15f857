"""The installable package's Python API and the function answer alike: one domain, one set of request types.

Every case sends the same value to the function (as JSON text, through its handler) and to
``Model.predict`` / ``Model.predict_batch`` (as the Python value a caller would hold): the answers are equal
as JSON documents, and what the function refuses with a 422 the package refuses with the same details.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from model.core import contract
from model.core.artifact import ModelArtifact
from model.core.jsontypes import ValidationError
from model.sdk.predictor import Model

from .conftest import Invoker

SINGLES = [10.0, 17.99, 18.0, 22.5, 27.3, 30, 42.2, 45.1, 99.99, 100]
BATCHES: list[list[Any]] = [[27.3], [22.0, 27.3, 45.1], [18.0 + i / 7 for i in range(500)], [10, 100]]
REFUSED_SINGLES: list[tuple[str, Any]] = [
    ("500", 500),
    ("9.99", 9.99),
    ("-27.3", -27.3),
    ('"27.3"', "27.3"),
    ("true", True),
    ("null", None),
    ("[27.3]", [27.3]),
    ("NaN", math.nan),
    ("Infinity", math.inf),
    ("1e400", math.inf),
]
REFUSED_BATCHES: list[tuple[str, list[Any]]] = [
    ("[25, 500]", [25, 500]),
    ('[27.3, "31", 5, NaN]', [27.3, "31", 5, math.nan]),
    ("[]", []),
    ("[" + ",".join(["25"] * (contract.BATCH_MAX + 1)) + "]", [25] * (contract.BATCH_MAX + 1)),
    ("[" + ",".join(["500"] * 30) + "]", [500] * 30),  # more problems than are listed: the same count
]


@pytest.fixture(scope="module")
def package_model(served_model: ModelArtifact) -> Model:
    return Model(served_model)


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("bmi", SINGLES)
def test_one_prediction_is_the_same_answer(invoke: Invoker, package_model: Model, bmi: float) -> None:
    served = invoke("POST", "/v1/predict", {"bmi": bmi})
    assert served.status == 200
    assert served.body == as_json(package_model.predict(bmi))


@pytest.mark.parametrize("bmis", BATCHES, ids=len)
def test_a_batch_is_the_same_answer(invoke: Invoker, package_model: Model, bmis: list[float]) -> None:
    served = invoke("POST", "/v1/predict/batch", {"bmi": bmis})
    assert served.status == 200
    assert served.body == as_json(package_model.predict_batch(bmis))


def test_the_model_route_is_the_package_s_metadata(invoke: Invoker, package_model: Model) -> None:
    info = package_model.model_info()
    expected = {"artifact": info["artifact"].to_document(), "limits": info["limits"]}
    assert invoke("GET", "/v1/model").body == as_json(expected)


def refusal(error: ValidationError) -> list[dict[str, str | None]]:
    """The details the function answers a 422 with (see lambda_fn.errors.invalid)."""
    hidden = [{"field": None, "issue": f"... and {error.hidden} more problems"}] if error.hidden else []
    return [{"field": i.field, "issue": i.issue} for i in error.issues] + hidden


@pytest.mark.parametrize(("text", "value"), REFUSED_SINGLES, ids=[t for t, _ in REFUSED_SINGLES])
def test_what_the_function_refuses_the_package_refuses_with_the_same_details(
    invoke: Invoker, package_model: Model, text: str, value: Any
) -> None:
    served = invoke("POST", "/v1/predict", '{"bmi": ' + text + "}")
    assert served.status == 422
    with pytest.raises(ValidationError) as raised:
        package_model.predict(value)
    assert served.body["error"]["details"] == refusal(raised.value)


@pytest.mark.parametrize(("text", "values"), REFUSED_BATCHES, ids=[t[:20] for t, _ in REFUSED_BATCHES])
def test_a_refused_batch_has_the_same_details(
    invoke: Invoker, package_model: Model, text: str, values: list[Any]
) -> None:
    served = invoke("POST", "/v1/predict/batch", '{"bmi": ' + text + "}")
    assert served.status == 422
    with pytest.raises(ValidationError) as raised:
        package_model.predict_batch(values)
    assert served.body["error"]["details"] == refusal(raised.value)
