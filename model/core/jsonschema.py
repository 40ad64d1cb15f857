"""The JSON Schema of a type that :mod:`.jsontypes` reads: one declaration both validates and documents."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, get_args, get_origin, is_typeddict

from .jsontypes import Doc, Items, Range, object_fields, unwrap


def json_schema(kind: Any, definitions: dict[str, Any], ref_prefix: str = "#/components/schemas/") -> Any:
    """The JSON Schema of ``kind``; named object types go to ``definitions`` and are referenced."""
    kind, metadata = unwrap(kind)
    origin = get_origin(kind)
    schema: dict[str, Any]
    if kind is float:
        schema = {"type": "number"}
    elif kind is int:
        schema = {"type": "integer"}
    elif kind is bool:
        schema = {"type": "boolean"}
    elif kind is str:
        schema = {"type": "string"}
    elif kind is type(None):
        schema = {"type": "null"}
    elif origin is Literal:
        schema = {"enum": list(get_args(kind))}
    elif origin in (list, tuple):
        schema = {"type": "array", "items": json_schema(get_args(kind)[0], definitions, ref_prefix)}
    elif origin is dict:
        schema = {"type": "object", "additionalProperties": json_schema(get_args(kind)[1], definitions)}
    elif origin in (types.UnionType, typing.Union):
        schema = {"anyOf": [json_schema(option, definitions, ref_prefix) for option in get_args(kind)]}
    elif is_typeddict(kind) or dataclasses.is_dataclass(kind):
        name = kind.__name__
        if name not in definitions:
            definitions[name] = {}  # reserved first: a type may refer to itself
            hints, required = object_fields(kind)
            definitions[name].update(
                {
                    "type": "object",
                    "properties": {k: json_schema(v, definitions, ref_prefix) for k, v in hints.items()},
                    "required": [name for name in hints if name in required],
                    "additionalProperties": False,
                    **({"description": _summary(kind)} if kind.__doc__ else {}),
                }
            )
        schema = {"$ref": ref_prefix + name}
    else:
        raise TypeError(f"no JSON Schema for {kind!r}")
    for meta in metadata:
        if isinstance(meta, Range):
            schema.update(minimum=meta.minimum, maximum=meta.maximum)
        elif isinstance(meta, Items):
            schema.update(minItems=meta.min_items, maxItems=meta.max_items)
        elif isinstance(meta, Doc):
            schema["description"] = meta.description
            if meta.example is not None:
                schema["examples"] = [meta.example]
    return schema


def _summary(kind: type) -> str:
    return " ".join((kind.__doc__ or "").split())
