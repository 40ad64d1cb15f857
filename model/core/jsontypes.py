"""Typed JSON: annotated types (the artifact's dataclasses, the API's TypedDicts) read untrusted JSON
strictly: no coercion (a string, boolean or null is never a number), unknown or missing fields refused
(``NotRequired`` fields may be absent), finite numbers only; :mod:`.jsonschema` documents the same types.
At most ``MAX_ISSUES`` problems are kept: a hostile 10 000-item body costs a count, not 10 000 objects.

Ours, not msgspec: importing it costs the same here (44 vs 45 ms with orjson, docs/benchmarks.md), but it
reports only the first invalid item and ignores unknown TypedDict fields, and the API promises both.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal, NamedTuple, get_args, get_origin, is_typeddict

from .untrusted import printable

MAX_ISSUES: Final = 20
MAX_NAME: Final = 64  # a field name is the caller's own text: escaped and shortened before it is echoed
UNKNOWN_FIELD: Final = "is not an accepted field"


# --- Annotations -------------------------------------------------------------------------------------
class Range(NamedTuple):
    """Inclusive bounds of a number, and the unit its error message names."""

    minimum: float
    maximum: float
    unit: str = ""


class Items(NamedTuple):
    min_items: int
    max_items: int


class Doc(NamedTuple):
    description: str
    example: Any = None


# --- Problems ------------------------------------------------------------------------------------------
class Issue(NamedTuple):
    field: str | None  # "bmi", "bmi[3]", "metrics.gates[0].value"; None: the document as a whole
    issue: str


class ValidationError(ValueError):
    """The value does not have the declared type; ``issues`` says where and why (at most MAX_ISSUES),
    ``hidden`` how many more problems there were."""

    def __init__(self, issues: list[Issue], hidden: int = 0) -> None:
        first = issues[0]
        super().__init__(f"{first.field or 'the document'} {first.issue}")
        self.issues = issues
        self.hidden = hidden

    @classmethod
    def capped(cls, issues: list[Issue]) -> ValidationError:
        """At most MAX_ISSUES of ``issues``, and the count of the rest."""
        return cls(issues[:MAX_ISSUES], max(0, len(issues) - MAX_ISSUES))


class _Problems:
    __slots__ = ("hidden", "issues")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.hidden = 0

    def add(self, where: str, issue: str) -> None:
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(Issue(where or None, issue))
        else:
            self.hidden += 1


Reader = Callable[[Any, str, _Problems], Any]
_EXACT: Final = {
    bool: "must be true or false",
    int: "must be an integer",
    str: "must be a string",
    type(None): "must be null",
}


def read[T](value: Any, kind: type[T]) -> T:
    """``value`` as ``kind``, or :class:`ValidationError` naming every problem (up to MAX_ISSUES)."""
    problems = _Problems()
    compiled: Reader = reader(typing.cast("Any", kind))  # types are hashable; mypy cannot know it of type[T]
    result = compiled(value, "", problems)
    if problems.issues:
        raise ValidationError(problems.issues, problems.hidden)
    return typing.cast("T", result)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


@functools.cache
def reader(kind: Any) -> Reader:
    """The strict reader of ``kind``: each type is compiled once, at its first use."""
    kind, metadata = unwrap(kind)
    origin = get_origin(kind)
    if kind is float:
        return _number_reader(_annotation(metadata, Range))
    if kind in _EXACT:
        return _exact(kind, _EXACT[kind])
    if origin is Literal:
        allowed = get_args(kind)

        def literal(value: Any, where: str, problems: _Problems) -> Any:
            if value not in allowed or isinstance(value, bool) is not isinstance(allowed[0], bool):
                problems.add(where, f"must be one of {list(allowed)}")
            return value

        return literal
    if origin in (list, tuple):
        return _array_reader(kind, _annotation(metadata, Items))
    if origin is dict:
        item = reader(get_args(kind)[1])

        def mapping(value: Any, where: str, problems: _Problems) -> Any:
            if type(value) is not dict:
                problems.add(where, "must be a JSON object")
                return value
            return {k: item(v, _join(where, printable(k, MAX_NAME)), problems) for k, v in value.items()}

        return mapping
    if origin in (types.UnionType, typing.Union):
        options = [reader(option) for option in get_args(kind)]

        def union(value: Any, where: str, problems: _Problems) -> Any:
            for option in options:
                trial = _Problems()
                result = option(value, where, trial)
                if not trial.issues:
                    return result
            problems.add(where, "has an unexpected type")
            return value

        return union
    if is_typeddict(kind) or dataclasses.is_dataclass(kind):
        return _object_reader(kind)
    raise TypeError(f"no JSON reader for {kind!r}")


def unwrap(kind: Any) -> tuple[Any, tuple[Any, ...]]:
    """The type inside ``Annotated[...]`` (nested ones too) and every annotation on it."""
    if get_origin(kind) is Annotated:
        base, *metadata = get_args(kind)
        inner, more = unwrap(base)
        return inner, (*more, *metadata)
    return kind, ()


def _annotation[A](metadata: tuple[Any, ...], kind: type[A]) -> A | None:
    return next((m for m in metadata if isinstance(m, kind)), None)


def _exact(kind: type, issue: str) -> Reader:
    def exact(value: Any, where: str, problems: _Problems) -> Any:
        if type(value) is not kind:  # bool is an int subclass: `type is` keeps true out of integers
            problems.add(where, issue)
        return value

    return exact


def _number_reader(bounds: Range | None) -> Reader:
    def number(value: Any, where: str, problems: _Problems) -> Any:
        if type(value) not in (int, float):  # bool is an int subclass: `type` keeps true out of numbers
            problems.add(where, "must be a number")
            return value
        try:
            as_float = float(value)
        except OverflowError:  # a JSON integer of 400 digits is a number, just not a finite float
            as_float = math.inf
        if not math.isfinite(as_float):
            problems.add(where, "must be a finite number (no NaN, Infinity or overflowing value)")
        elif bounds is not None and not bounds.minimum <= as_float <= bounds.maximum:
            unit = f" {bounds.unit}" if bounds.unit else ""
            problems.add(where, f"must be between {bounds.minimum:g} and {bounds.maximum:g}{unit}")
        else:
            return as_float
        return value

    return number


def _array_reader(kind: Any, size: Items | None) -> Reader:
    item_type = get_args(kind)[0]
    item = reader(item_type)
    as_tuple = get_origin(kind) is tuple
    item_kind, item_metadata = unwrap(item_type)
    numbers, bounds = item_kind is float, _annotation(item_metadata, Range)

    def array(value: Any, where: str, problems: _Problems) -> Any:
        if type(value) is not list:
            problems.add(where, "must be a JSON array")
            return value
        if size is not None and not size.min_items <= len(value) <= size.max_items:
            least, most = size.min_items, size.max_items
            problems.add(where, f"must contain between {least} and {most} values")
            return value
        if numbers and value and _plain_numbers(value, bounds):  # the usual batch: checked in C, ~100x faster
            return tuple(map(float, value)) if as_tuple else [float(v) for v in value]
        items = [item(v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        return tuple(items) if as_tuple else items

    return array


def _plain_numbers(values: list[Any], bounds: Range | None) -> bool:
    """True when every value is a finite number within ``bounds``: decided by C builtins (a NaN or an
    infinity makes the sum non-finite), or False to let the per-item readers say what is wrong."""
    if not {type(v) for v in values} <= {float, int}:
        return False
    try:
        finite = math.isfinite(sum(values))
    except OverflowError:  # an integer too large for a float
        return False
    return finite and (bounds is None or (bounds.minimum <= min(values) and max(values) <= bounds.maximum))


def object_fields(kind: Any) -> tuple[dict[str, Any], set[str]]:
    """The fields of a TypedDict or dataclass (``NotRequired[...]`` unwrapped) and which are required."""
    hints = typing.get_type_hints(kind, include_extras=True)
    # From the hints, not __required_keys__: under `from __future__ import annotations` that lists them all.
    optional = {name for name, hint in hints.items() if get_origin(hint) is typing.NotRequired}
    fields = {name: get_args(hint)[0] if name in optional else hint for name, hint in hints.items()}
    return fields, set(hints) - optional


def _object_reader(kind: Any) -> Reader:
    hints, required = object_fields(kind)
    fields = {name: reader(hint) for name, hint in hints.items()}
    build: Callable[..., Any] = kind if isinstance(kind, type) and dataclasses.is_dataclass(kind) else dict
    expected, in_order = set(fields), [name for name in fields if name in required]  # a set's order varies

    def obj(value: Any, where: str, problems: _Problems) -> Any:
        if type(value) is not dict:
            problems.add(where, "must be a JSON object")
            return value
        present = value.keys()
        if present != expected and (required - present or present - expected):
            for name in in_order:
                if name not in present:
                    problems.add(_join(where, name), "is required")
            unknown = present - expected
            first = sorted(unknown)[: MAX_ISSUES - len(problems.issues)]
            for name in first:
                problems.add(_join(where, printable(name, MAX_NAME)), UNKNOWN_FIELD)
            problems.hidden += len(unknown) - len(first)
            return value
        before = len(problems.issues) + problems.hidden
        values = {
            name: read_field(value[name], _join(where, name), problems)
            for name, read_field in fields.items()
            if name in present
        }
        if len(problems.issues) + problems.hidden > before:
            return value
        return build(**values)

    return obj
