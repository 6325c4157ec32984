"""Dotted-key overrides of ``params.yaml``, checked before anything runs and written round-trip.

``{"experiments.srnet_1f.lr": 0.0005}`` sets one value. The file keeps its comments, flow-style
lists, ``null``s and long lines: ``dvc exp run -S`` rewrites the whole file (block lists, empty
nulls, lines wrapped at 80 columns), which would turn every flow run into a noisy diff.

A key must already exist, with one exception that mirrors how stages read their params: an
experiment entry is the ``train`` section overlaid with ``experiments.<name>`` (see
``pose3d/experiments.py``), so ``experiments.<name>.<key>`` may set any key of ``train``; a
phase inherits the same keys through its ``from`` chain, so ``phases.<name>.<key>`` may too.
The value must have the type of the value it replaces (an int where a float is expected is
fine, and anything may replace ``null``). The overridden sections must then still fit their
schema (:mod:`pose3d.params`): ``null`` replaced by a string where an integer belongs, or a word
that is not one of a key's choices, is refused here too, not when the stage starts.
"""
from __future__ import annotations

import copy
import difflib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from pose3d.io.atomic import replacing
from pose3d.params import SECTIONS, ParamsError, section

#: sections whose entries may set any key of another section (entry = that section + entry)
INHERITS = {"experiments": "train", "phases": "train"}


class OverrideError(ValueError):
    """An override that names no parameter or has the wrong type; raised before anything runs."""


@dataclass(frozen=True)
class Override:
    key: str
    old: Any
    new: Any
    added: bool  # the key was inherited (see INHERITS), so it is added to the entry

    @property
    def changed(self) -> bool:
        return self.added or _plain(self.old) != _plain(self.new)


def _yaml(text: str) -> tuple[YAML, Any]:
    data, indent, block_seq_indent = load_yaml_guess_indent(text)
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never wrap: long flow-style lines stay as written
    yaml.indent(mapping=indent or 2, sequence=(indent or 2) + (block_seq_indent or 0), offset=block_seq_indent or 0)
    yaml.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yaml, yaml.load(text)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _kind(value: Any) -> str:
    for t, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
                    (list, "a list"), (Mapping, "a mapping")):
        if isinstance(value, t):
            return name
    return "null" if value is None else type(value).__name__


def _coerce(key: str, old: Any, new: Any, source: str) -> Any:
    """``new`` in the type of ``old``; anything may replace null."""
    if old is None:
        return new
    if isinstance(old, bool):
        ok = isinstance(new, bool)
    elif isinstance(old, int):
        ok = isinstance(new, int) and not isinstance(new, bool)
    elif isinstance(old, float):
        ok = isinstance(new, (int, float)) and not isinstance(new, bool)
        new = float(new) if ok else new
    elif isinstance(old, str):
        ok = isinstance(new, str)
    elif isinstance(old, list):
        ok = isinstance(new, list)
    elif isinstance(old, Mapping):
        ok = isinstance(new, Mapping)
    else:
        ok = type(new) is type(old)
    if not ok:
        raise OverrideError(f"{source}: override {key!r}: expected {_kind(old)} like the current value "
                            f"{_plain(old)!r}, got {_kind(new)} {new!r}")
    return new


def _locate(data: Any, key: str, source: str) -> tuple[Any, str, Any, bool]:
    """(parent mapping, last segment, current value, inherited?) for a dotted key."""
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise OverrideError(f"{source}: override key {key!r} is not a dotted key like 'train.lr'")
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the top level"
        if not isinstance(node, Mapping):
            raise OverrideError(f"{source}: unknown key {key!r}: {where} is {_kind(node)}, not a section "
                                "(lists are replaced whole)")
        if part in node:
            if depth == len(parts) - 1:
                return node, part, node[part], False
            node = node[part]
            continue
        base = INHERITS.get(parts[0]) if depth == 2 == len(parts) - 1 else None
        if base is not None and isinstance(data.get(base), Mapping) and part in data[base]:
            return node, part, data[base][part], True
        known = list(node) + (list(data.get(base) or {}) if base else [])
        close = difflib.get_close_matches(part, [str(k) for k in known], n=1, cutoff=0.7)
        hint = f"; did you mean {'.'.join(parts[:depth] + [close[0]])!r}?" if close else ""
        raise OverrideError(f"{source}: unknown key {key!r}: {where} has no key {part!r}{hint}")
    raise AssertionError("unreachable")


def check(data: Any, overrides: Mapping[str, Any] | None, source: str = "params.yaml") -> list[Override]:
    """Every override resolved against ``data``; the first bad one raises ``OverrideError``."""
    if overrides is None:
        return []
    if not isinstance(overrides, Mapping):
        raise OverrideError(f"{source}: overrides must be a mapping of dotted keys to values, got {_kind(overrides)}")
    out = []
    for key, new in overrides.items():
        _, _, old, added = _locate(data, key, source)
        out.append(Override(key, _plain(old), _coerce(key, old, new, source), added))
    _check_sections(data, out, source)
    return out


def _check_sections(data: Any, resolved: list[Override], source: str) -> None:
    """The sections the overrides touch, as they will be written, against their schema."""
    plain, touched = _plain(data), []
    for o in resolved:
        parts = o.key.split(".")
        if parts[0] not in SECTIONS:
            continue
        node = plain
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = o.new
        touched.append(parts[0])
    for name in dict.fromkeys(touched):
        try:
            section(plain, name, source)
        except ParamsError as exc:
            raise OverrideError(str(exc)) from None


def check_file(path: Path | str, overrides: Mapping[str, Any] | None) -> list[Override]:
    """``check`` against a params file, without writing it."""
    path = Path(path)
    return check(_load(path)[1], overrides, str(path))


def _load(path: Path) -> tuple[YAML, Any]:
    if not path.is_file():
        raise OverrideError(f"{path}: params file is missing")
    return _yaml(path.read_text())


def _styled(old: Any, new: Any) -> Any:
    """``new`` in the style of ``old``: flow lists stay flow lists, quoted strings stay quoted."""
    if isinstance(new, list):
        seq = CommentedSeq([_styled(None, v) for v in new])
        if isinstance(old, CommentedSeq) and old.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    if isinstance(new, Mapping):
        m = CommentedMap((k, _styled(None, v)) for k, v in new.items())
        if isinstance(old, CommentedMap) and old.fa.flow_style():
            m.fa.set_flow_style()
        return m
    if isinstance(old, ScalarString) and isinstance(new, str):
        return type(old)(new)
    return new


def _append(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add ``key`` at the end of ``mapping``; comment lines that followed the old last entry
    (e.g. the heading of the next section) move below the new one."""
    last = list(mapping)[-1] if mapping else None
    mapping[key] = value
    slot = mapping.ca.items.get(last) if last is not None else None
    token = slot[2] if slot and len(slot) > 2 else None
    if token is None or "\n" not in token.value:
        return
    end = token.value.index("\n") + 1
    head, tail = token.value[:end], token.value[end:]
    if not tail:
        return
    moved = copy.copy(token)
    moved.value = "\n" + tail
    token.value = head
    mapping.ca.items[key] = [None, None, moved, None]


def apply(path: Path | str, overrides: Mapping[str, Any] | None) -> list[Override]:
    """Check every override, then write them into ``path`` (atomically, only if a value changes).
    Returns the overrides that changed the file."""
    path = Path(path)
    yaml, data = _load(path)
    resolved = check(data, overrides, str(path))
    changed = [o for o in resolved if o.changed]
    if not changed:
        return []
    for o in changed:
        parent, last, _, _ = _locate(data, o.key, str(path))
        if o.added:
            _append(parent, last, _styled(None, o.new))
        else:
            parent[last] = _styled(parent[last], o.new)
    buf = io.StringIO()
    yaml.dump(data, buf)
    with replacing(path) as tmp:
        tmp.write_text(buf.getvalue())
        os.chmod(tmp, path.stat().st_mode & 0o777)  # an edit of the file keeps its mode
    return changed


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from a command line; the value is read as YAML (``0.001``, ``[1, 3, 1]``, ``null``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise OverrideError(f"override {text!r} is not of the form key=value")
    value = YAML(typ="safe").load(raw) if raw.strip() else ""
    return key.strip(), value
