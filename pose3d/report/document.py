"""The report as plain data: sections of text, tables and images, rendered by html.py and markdown.py.

Keeping the content separate from the two output formats means a number is computed once
and the HTML page and the markdown file can never disagree about it.
"""
from __future__ import annotations

import math

import numbers
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Text:
    """A paragraph; ``kind`` 'note' is a highlighted remark (e.g. an input that is absent),
    'code' a preformatted block (commands, params), 'heading' a sub-heading."""

    text: str
    kind: str = "p"  # p | note | code | heading


@dataclass
class Table:
    """Rows of cells; ``best`` holds the (row, column) positions to mark as best in their column."""

    columns: list[str]
    rows: list[list[Any]]
    title: str = ""
    best: set[tuple[int, int]] = field(default_factory=set)
    note: str = ""
    digits: int | dict[str, int] = 1  # decimals of float cells, overall or per column

    def cell_text(self, row: int, col: int) -> str:
        return format_cell(self.rows[row][col], self._digits(self.columns[col]))

    def _digits(self, column: str) -> int:
        if isinstance(self.digits, dict):
            return self.digits.get(column, 1)
        return self.digits


@dataclass
class Image:
    """A figure or animation; ``name`` is its file name beside the report (e.g. 'curves.png')."""

    name: str
    data: bytes
    caption: str = ""
    alt: str = ""

    @property
    def mime(self) -> str:
        return "image/gif" if self.name.lower().endswith(".gif") else "image/png"


@dataclass
class Section:
    """A titled part of the report; ``missing`` explains why its inputs are absent."""

    id: str
    title: str
    blocks: list[Text | Table | Image] = field(default_factory=list)
    missing: str = ""


@dataclass
class Report:
    title: str
    sections: list[Section]
    subtitle: str = ""

    def images(self) -> list[Image]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Image)]

    def section(self, id_: str) -> Section:
        for s in self.sections:
            if s.id == id_:
                return s
        raise KeyError(f"no section {id_!r}")



def finite_number(x) -> float | None:
    """``x`` as a float when it is a finite number, else None (a gap in a table, not a crash)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None

def format_cell(value: Any, digits: int = 1) -> str:
    """Numbers as the tables show them: floats rounded, ints with thousands separators, None as '–'."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if value != value:  # NaN
            return "–"
        return f"{value:.{digits}f}"
    return str(value)
