"""Writing a rendered report into a folder: figures beside ``index.html`` and ``report.md``.

Each file goes to a temporary name first and is renamed into place; the report stage
additionally builds the whole folder beside the old one and swaps it in.
"""
from __future__ import annotations

from pathlib import Path

from pose3d.io.atomic import write_bytes
from pose3d.report.document import Report
from pose3d.report.html import render_html
from pose3d.report.markdown import render_markdown


def write_report(report: Report, folder: Path | str) -> dict[str, int]:
    """Write every image, ``index.html`` and ``report.md``; returns {file name: bytes}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    names = [im.name for im in report.images()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two figures share the file name(s) {', '.join(duplicates)}")
    for image in report.images():
        write_bytes(folder / image.name, image.data)
        sizes[image.name] = len(image.data)
    for name, text in (("index.html", render_html(report)), ("report.md", render_markdown(report))):
        data = text.encode("utf-8")
        write_bytes(folder / name, data)
        sizes[name] = len(data)
    return sizes
