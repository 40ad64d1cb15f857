"""The JSON Schema of a type that :mod:`.jsontypes` reads: one declaration both validates and documents."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Final, Literal, get_args, get_origin, is_typeddict

from .jsontypes import Doc, Items, Range, object_fields, unwrap

_SCALARS: Final = {float: "number", int: "integer", bool: "boolean", str: "string", type(None): "null"}


def json_schema(kind: Any, definitions: dict[str, Any]) -> Any:
    """The JSON Schema of ``kind``; named object types go to ``definitions`` and are referenced."""
    kind, metadata = unwrap(kind)
    origin = get_origin(kind)
    schema: dict[str, Any]
    if kind in _SCALARS:
        schema = {"type": _SCALARS[kind]}
    elif origin is Literal:
        schema = {"enum": list(get_args(kind))}
    elif origin in (list, tuple):
        schema = {"type": "array", "items": json_schema(get_args(kind)[0], definitions)}
    elif origin is dict:
        schema = {"type": "object", "additionalProperties": json_schema(get_args(kind)[1], definitions)}
    elif origin in (types.UnionType, typing.Union):
        schema = {"anyOf": [json_schema(option, definitions) for option in get_args(kind)]}
    elif is_typeddict(kind) or dataclasses.is_dataclass(kind):
        name = kind.__name__
        if name not in definitions:
            definitions[name] = {}  # reserved first: a type may refer to itself
            hints, required = object_fields(kind)
            definitions[name] = {
                "type": "object",
                "properties": {k: json_schema(v, definitions) for k, v in hints.items()},
                "required": [field for field in hints if field in required],
                "additionalProperties": False,
                **({"description": " ".join(kind.__doc__.split())} if kind.__doc__ else {}),
            }
        schema = {"$ref": f"#/components/schemas/{name}"}
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
