"""A rubric file read into the schema's dataclasses: the YAML's size and depth bounded,
each value typed against its field, unknown keys refused by name, then the rules; every
problem reported at once as `file: key: problem`."""
from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from pathlib import Path

import yaml

from grader.paths import RUBRICS_DIR
from grader.rubric.rules import join as _join, show as _show, validate
from grader.rubric.schema import Rubric


class RubricError(Exception):
    """Everything wrong with a rubric file, one line per problem (`file: key: problem`).
    `key` and `problem` are the first one's; `problems` holds every (key, problem)."""

    def __init__(self, file, key, problem, problems: list[tuple[str, str]] | None = None):
        self.file, self.key, self.problem = str(file), key, problem
        self.problems = problems or [(key, problem)]
        super().__init__("\n".join(f"{self.file}: {k or '(top level)'}: {p}"
                                   for k, p in self.problems))


MAX_FILE_BYTES = 2**20      # a rubric is a page of YAML; 1 MB is no rubric
MAX_VALUES = 10_000         # scalars, lists and mappings after YAML aliases are expanded
MAX_DEPTH = 32
MAX_TEXT = {"question": 20_000}  # characters; every other string: DEFAULT_MAX_TEXT
DEFAULT_MAX_TEXT = 2_000


def resolve_rubric_path(name_or_file: str) -> Path:
    """A NAME from rubrics/ (without .yaml) or a path to a YAML file."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return RUBRICS_DIR / f"{name_or_file}.yaml"


def load_rubric(name_or_file: str) -> Rubric:
    path = resolve_rubric_path(name_or_file)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RUBRICS_DIR.glob("*.yaml")))
        raise RubricError(path, "", f"no such rubric file (rubrics available: {known})")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise RubricError(path, "", f"the file is {size:,} bytes; a rubric is at most "
                          f"{MAX_FILE_BYTES:,}")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as e:
        raise RubricError(path, "", f"not valid YAML: {str(e)[:500]}") from None
    problem = _too_big(data)
    if problem:
        raise RubricError(path, "", problem)
    problems: list[tuple[str, str]] = []
    try:
        rubric = _build(Rubric, data, "", problems)
    except _Invalid:
        rubric = None
    if rubric is not None:
        # a rule about a value already reported as malformed would only repeat it
        bad = [k for k, _ in problems]
        problems += [(k, p) for k, p in validate(rubric)
                     if not any(k == b or k.startswith(b + ".") or k.startswith(b + "[") or
                                b.startswith(k + ".") or b.startswith(k + "[") for b in bad)]
    if problems:
        raise RubricError(path, *problems[0], problems=problems)
    return rubric


def _too_big(data) -> str | None:
    """YAML aliases repeat what an anchor holds without copying it, so a small file can
    stand for billions of values ("billion laughs"), which hashing or reporting the rubric
    would then expand. Count the values as if expanded, stopping at the cap."""
    count, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return (f"it expands to more than {MAX_VALUES:,} values (YAML aliases `*name` "
                    f"repeat an anchor's `&name` content): write the values out instead")
        if depth > MAX_DEPTH:
            return f"values are nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, dict):
            stack += [(v, depth + 1) for kv in value.items() for v in kv]
        elif isinstance(value, list):
            stack += [(v, depth + 1) for v in value]
    return None


# --- typed parsing ------------------------------------------------------------------------

class _Invalid(Exception):
    """A value that could not be built; its problem is already recorded."""


def _build(cls, data, key, problems):
    if not isinstance(data, dict):
        problems.append((key, f"expected a mapping, got {_show(data)}"))
        raise _Invalid
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in sorted(set(data) - set(fields), key=str):
        problems.append((_join(key, name), f"unknown key (allowed here: {', '.join(fields)})"))
    values, broken = {}, False
    for name, f in fields.items():
        sub = _join(key, name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name in data:
            try:
                values[name] = _coerce(hints[name], data[name], sub, problems)
            except _Invalid:
                broken = broken or required  # else the default stands in, for the rules
        elif required:
            problems.append((sub, f"missing required key ({f.metadata['help']})"))
            broken = True
    if broken:
        raise _Invalid
    return cls(**values)


def _coerce(tp, value, key, problems):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, key, problems)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key, problems)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            problems.append((key, f"expected a list, got {_show(value)}"))
            raise _Invalid
        if origin is tuple and args[-1] is not Ellipsis and len(value) != len(args):
            problems.append((key, f"expected {len(args)} items, got {len(value)}"))
            raise _Invalid
        items, broken = [], False
        for i, v in enumerate(value):
            try:
                items.append(_coerce(args[0], v, f"{key}[{i}]", problems))
            except _Invalid:
                broken = True  # the other items are still checked
        if broken:
            raise _Invalid
        return tuple(items) if origin is tuple else items
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str and type(value) is str:
        most = MAX_TEXT.get(key.rpartition(".")[2], DEFAULT_MAX_TEXT)
        if len(value) > most:
            problems.append((key, f"{len(value):,} characters; at most {most:,}"))
            raise _Invalid
        return value
    if tp in (int, bool) and type(value) is tp:
        return value
    if tp is str and isinstance(value, (datetime.date, datetime.datetime)):
        problems.append((key, f"quote the date, e.g. \"{value.isoformat()}\" (unquoted, YAML "
                              "reads it as a timestamp and drops what a string keeps)"))
        raise _Invalid
    want = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[tp]
    problems.append((key, f"expected {want}, got {_show(value)}"))
    raise _Invalid


