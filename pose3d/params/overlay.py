"""An experiment entry of params.yaml laid over its family's dataclass of defaults.

Image and multi-view experiments are checked by their own dataclasses (not the params schema):
an unknown key is an error naming the closest known one, and YAML lists become the tuples the
frozen dataclasses hold.
"""
from __future__ import annotations

import difflib
from dataclasses import fields, replace
from typing import Any, TypeVar

T = TypeVar("T")


def overlay(defaults: T, entry: dict[str, Any], label: str) -> T:
    """``defaults`` with ``entry``'s keys replaced; raises ValueError for a key it does not have."""
    known = {f.name: f for f in fields(defaults)}
    for key in entry:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            raise ValueError(f"{label}: unknown key {key!r}"
                             + (f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(sorted(known))})"))
    values = {k: tuple(v) if isinstance(v, list) and "tuple" in str(known[k].type) else v for k, v in entry.items()}
    return replace(defaults, **values)
