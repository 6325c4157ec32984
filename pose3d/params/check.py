"""Reading a params section against its schema: unknown keys and wrong types are errors.

A misspelt key that fell back to a default would train, convert or crop with settings
nobody asked for and say nothing; here it stops the run with the file, the key and the
closest known key.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pose3d.params.schema import EXPERIMENT_SECTIONS, IMAGE_SECTIONS, INPUT_SECTIONS, MULTIVIEW_SECTIONS, SECTIONS


class ParamsError(ValueError):
    """A params section that does not fit its schema; the message names the file and the key."""


class _Mismatch(Exception):
    """A value that does not fit one alternative of a type."""


def section(params: Mapping | None, name: str, source: str | Path = "params.yaml") -> Any:
    """Section ``name`` of ``params`` as its frozen schema object, absent keys set to their defaults.

    ``source`` is the file the params came from; it is only used in messages.
    """
    if name not in SECTIONS:
        raise ParamsError(f"{source}: {_unknown(name, SECTIONS, 'section')}")
    return _build(SECTIONS[name], (params or {}).get(name), name, str(source))


def check_params(params: Mapping | None, source: str | Path = "params.yaml") -> dict[str, Any]:
    """Every section of a whole params file (experiment entries excepted), and no unknown section."""
    params = params or {}
    known = [*SECTIONS, *INPUT_SECTIONS, *EXPERIMENT_SECTIONS, *IMAGE_SECTIONS, *MULTIVIEW_SECTIONS]
    problems = [_unknown(k, known, "section") for k in params if k not in known]
    if problems:
        raise ParamsError(f"{source}: " + "; ".join(problems))
    return {name: section(params, name, source) for name in SECTIONS}


def as_dict(obj: Any) -> Any:
    """A schema object as params.yaml would hold it: mappings and lists (for libraries that read dicts)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [as_dict(v) for v in obj]
    return obj


def describe(tp: Any) -> str:
    """What a value of type ``tp`` looks like in YAML, for messages ("an integer or null")."""
    return " or ".join(_words(tp, plural=False))


def _build(cls: type, raw: Any, where: str, source: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{source}: {where} must be a mapping of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems = [_unknown(k, fields, "key") for k in raw if k not in fields]
    if problems:
        raise ParamsError(f"{source}: {where}: " + "; ".join(problems))
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        dotted = f"{where}.{key}"
        if dataclasses.is_dataclass(hints[key]):
            values[key] = _build(hints[key], value, dotted, source)
            continue
        meta = fields[key].metadata
        try:
            values[key] = _convert(value, hints[key], meta)
        except _Mismatch:
            raise ParamsError(f"{source}: {dotted} must be {describe(hints[key])}, got {value!r}") from None
        if "pattern" in meta and isinstance(values[key], str) and not re.fullmatch(meta["pattern"], values[key]):
            raise ParamsError(f"{source}: {dotted} must be {meta['expect']}, got {value!r}")
    return cls(**values)


def _unknown(key: Any, known: typing.Iterable[str], what: str) -> str:
    known = list(known)
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
    return f"unknown {what} {key!r}; {hint}"


def _convert(value: Any, tp: Any, meta: Mapping | None = None) -> Any:
    meta = meta or {}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise _Mismatch
        for alternative in (a for a in args if a is not type(None)):
            try:
                return _convert(value, alternative, meta)
            except _Mismatch:
                pass
        raise _Mismatch
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise _Mismatch
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        return tuple(_convert(v, args[0]) for v in value)
    if origin is dict:  # named entries whose contents a library checks (evaluate.robustness)
        if not isinstance(value, Mapping):
            raise _Mismatch
        return {str(k): v for k, v in value.items()}
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str:
        if isinstance(value, str):
            return value
        if meta.get("numbers_as_text") and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    raise _Mismatch


_WORDS = {bool: ("true or false", "booleans"), int: ("an integer", "integers"), float: ("a number", "numbers"),
          str: ("a string", "strings"), type(None): ("null", "nulls")}


def _words(tp: Any, plural: bool) -> list[str]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return [w for a in args for w in _words(a, plural)]
    if origin is Literal:
        words = ", ".join(repr(a) for a in args)
        return [words if plural or len(args) == 1 else f"one of {words}"]
    if origin is tuple:
        return [f"{'lists' if plural else 'a list'} of {' or '.join(_words(args[0], plural=True))}"]
    if dataclasses.is_dataclass(tp) or origin is dict:
        return ["mappings" if plural else "a mapping"]
    return [_WORDS[tp][plural]]
