"""Optional request fields: a ``NotRequired`` field of a TypedDict may be absent, is read strictly when
present, and is documented as not required; everything else stays as strict as before."""

from __future__ import annotations

from typing import Annotated, NotRequired, TypedDict

import pytest

from model.core.jsonschema import json_schema
from model.core.jsontypes import Doc, Range, ValidationError, read


class WithOptional(TypedDict):
    bmi: Annotated[float, Range(10, 100, "kg/m^2")]
    age: NotRequired[Annotated[float, Range(18, 120, "years"), Doc("Age at baseline.")]]


def test_an_optional_field_may_be_absent() -> None:
    assert read({"bmi": 27.3}, WithOptional) == {"bmi": 27.3}


def test_an_optional_field_is_read_strictly_when_present() -> None:
    assert read({"bmi": 27.3, "age": 50}, WithOptional) == {"bmi": 27.3, "age": 50.0}
    with pytest.raises(ValidationError) as refused:
        read({"bmi": 27.3, "age": "50"}, WithOptional)
    assert [(i.field, i.issue) for i in refused.value.issues] == [("age", "must be a number")]
    with pytest.raises(ValidationError) as refused:
        read({"bmi": 27.3, "age": 7}, WithOptional)
    assert [(i.field, i.issue) for i in refused.value.issues] == [("age", "must be between 18 and 120 years")]


def test_required_and_unknown_fields_are_still_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        read({"age": 50, "weight": 80}, WithOptional)
    assert sorted((i.field, i.issue) for i in refused.value.issues) == [
        ("bmi", "is required"),
        ("weight", "is not an accepted field"),
    ]


def test_missing_fields_are_reported_in_their_declared_order() -> None:
    # Not in a set's order, which changes with each process's hash seed: the same body gets the same answer
    from dataclasses import fields

    from model.core.artifact import ModelArtifact

    with pytest.raises(ValidationError) as refused:
        read({}, ModelArtifact)
    assert [i.field for i in refused.value.issues] == [f.name for f in fields(ModelArtifact)]


def test_the_schema_documents_the_optional_field_as_not_required() -> None:
    definitions: dict[str, object] = {}
    json_schema(WithOptional, definitions)
    schema = definitions["WithOptional"]
    assert isinstance(schema, dict)
    assert schema["required"] == ["bmi"]
    assert schema["properties"]["age"] == {
        "type": "number",
        "minimum": 18,
        "maximum": 120,
        "description": "Age at baseline.",
    }
