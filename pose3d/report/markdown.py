"""The same report as markdown (for a pull request, a wiki, ``git diff``); figures are linked files."""
from __future__ import annotations

from pose3d.report.document import Image, Report, Section, Table, Text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(t: Table) -> str:
    lines = []
    if t.title:
        lines += [f"**{t.title}**", ""]
    lines.append("| " + " | ".join(_cell(c) for c in t.columns) + " |")
    lines.append("|" + "|".join("---" for _ in t.columns) + "|")
    for r, row in enumerate(t.rows):
        cells = []
        for c in range(len(row)):
            text = _cell(t.cell_text(r, c))
            cells.append(f"**{text}**" if (r, c) in t.best else text)
        lines.append("| " + " | ".join(cells) + " |")
    if t.note:
        lines += ["", f"*{t.note}*"]
    return "\n".join(lines)


def render_block(block) -> str:
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Image):
        return f"![{block.alt or block.name}]({block.name})\n\n*{block.caption}*" if block.caption else f"![{block.alt}]({block.name})"
    if isinstance(block, Text):
        if block.kind == "code":
            return f"```yaml\n{block.text}\n```"
        if block.kind == "heading":
            return f"### {block.text}"
        return f"> {block.text}" if block.kind == "note" else block.text
    raise TypeError(f"cannot render {type(block).__name__}")


def render_section(s: Section) -> str:
    parts = [f"## {s.title}"]
    if s.missing:
        parts.append(f"> **Missing:** {s.missing}")
    parts += [render_block(b) for b in s.blocks]
    return "\n\n".join(parts)


def anchor(title: str) -> str:
    """The anchor GitHub and most renderers give a heading."""
    return "".join(ch for ch in title.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")


def render_markdown(report: Report) -> str:
    toc = " · ".join(f"[{s.title}](#{anchor(s.title)})" for s in report.sections)
    head = f"# {report.title}\n\n{report.subtitle}\n\n{toc}"
    return head + "\n\n" + "\n\n".join(render_section(s) for s in report.sections) + "\n"
