"""Dataclasses to and from their JSON form, strictly: one reader and one writer for every
typed record the grader keeps or receives (results.json, grader.report.record; the model's
facts from the child, grader.inspection.facts).

`load` refuses an unknown field, a missing one or a value of another type, naming where: a
typo in the grader's code, or data written by something else (a child running student code,
an older grader), fails loudly instead of losing a fact. `dump` writes a record back in
exactly the form it came in, the same keys in the same order.

Field metadata: OPTIONAL leaves a field out of the JSON form while it is None (a record's
`keep(name, value)` may decide otherwise); {"json": "in"} names its key where the JSON's is
not a Python name.
"""
from __future__ import annotations

import dataclasses
import functools
import types
import typing

OPTIONAL = {"optional": True}


class RecordError(ValueError):
    """The data is not the record it claims to be; the message says where."""


def load(cls, data: object, where: str = "record"):
    """`cls` from its JSON form."""
    if not isinstance(data, dict):
        raise RecordError(f"{where}: an object expected, not {type(data).__name__}")
    fields = {_key(f): f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise RecordError(f"{where}: unknown field {str(unknown[0])[:40]!r}")
    hints, values = _hints(cls), {}
    for key, f in fields.items():
        if key in data:
            values[f.name] = _value(hints[f.name], data[key], f"{where}.{key}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise RecordError(f"{where}: missing field {key!r}")
    return cls(**values)


def as_type(hint, data: object, where: str = "value"):
    """`data` read as the type `hint`: a record, list[Record], dict[str, Record], a plain
    type, as a field of that type would be."""
    return _value(hint, data, where)


def dump(record) -> dict:
    """The JSON form `load` reads: fields in their declared order, an OPTIONAL one only where
    it has a value."""
    out = {}
    keep = getattr(record, "keep", lambda name, value: value is not None)
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.metadata.get("optional") and not keep(f.name, value):
            continue
        out[_key(f)] = _plain(value)
    return out


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("json", f.name)


def _plain(value):
    if dataclasses.is_dataclass(value):
        return dump(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _value(hint, value, where: str):
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) in args:
            return None
        raise RecordError(f"{where}: null where a value is required")
    kind = next(a for a in args if a is not type(None))
    if dataclasses.is_dataclass(kind):
        return load(kind, value, where)
    origin, inner = typing.get_origin(kind) or kind, typing.get_args(kind)
    if origin is list:
        if not isinstance(value, list):
            raise RecordError(f"{where}: a list expected, not {type(value).__name__}")
        return [_value(inner[0], v, f"{where}[{i}]") for i, v in enumerate(value)] if inner else value
    if origin is tuple:  # JSON has lists: tuple[int, int] or tuple[float, ...]
        if not isinstance(value, (list, tuple)):
            raise RecordError(f"{where}: a list expected, not {type(value).__name__}")
        kinds = [inner[0]] * len(value) if len(inner) == 2 and inner[1] is Ellipsis else list(inner)
        if len(kinds) != len(value):
            raise RecordError(f"{where}: {len(kinds)} values expected, not {len(value)}")
        return tuple(_value(k, v, f"{where}[{i}]") for i, (k, v) in enumerate(zip(kinds, value)))
    if origin is dict and inner:
        if not isinstance(value, dict):
            raise RecordError(f"{where}: an object expected, not {type(value).__name__}")
        return {k: _value(inner[1], v, f"{where}.{k}") for k, v in value.items()}
    accepted = (int, float) if origin is float else (origin,)
    if not isinstance(value, accepted) or (origin in (int, float) and isinstance(value, bool)):
        raise RecordError(f"{where}: {origin.__name__} expected, not {type(value).__name__}")
    return value


@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)
