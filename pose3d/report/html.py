"""One self-contained HTML page: inline CSS, images as base64 data URIs, no scripts.

The page must open from disk on a machine without network (a cluster node, a laptop on a
train), so nothing is fetched: no fonts, no stylesheets, no JavaScript libraries, and
even the favicon is an empty data URI so the browser does not ask for one.
"""
from __future__ import annotations

import base64
import html
import numbers
import re

from pose3d.report.document import Image, Report, Section, Table, Text

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0; background: #fafafa; }
header { background: #263238; color: #fff; padding: 1.2em 2em 0.8em; }
header h1 { margin: 0 0 0.2em; font-size: 1.6em; }
header .subtitle { margin: 0 0 0.6em; color: #cfd8dc; }
nav a { color: #80cbc4; margin-right: 1.1em; text-decoration: none; }
nav a:hover { text-decoration: underline; }
main { padding: 0.5em 2em 3em; max-width: 1400px; }
section { background: #fff; border: 1px solid #e0e0e0; border-radius: 6px; padding: 0.4em 1.4em 1em; margin: 1.2em 0; }
h2 { border-bottom: 2px solid #80cbc4; padding-bottom: 0.2em; }
.table-wrap { display: inline-block; vertical-align: top; max-width: 100%; overflow-x: auto; margin: 0.8em 2em 0.8em 0; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border-bottom: 1px solid #e0e0e0; padding: 0.25em 0.6em; text-align: left; white-space: nowrap; }
th { background: #eceff1; white-space: normal; vertical-align: bottom; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; background: #c8e6c9; }
.table-note { color: #666; font-size: 12px; margin: 0.2em 0 0; }
p.note, p.missing { background: #fff8e1; border-left: 4px solid #ffb300; padding: 0.4em 0.8em; }
p.missing { background: #fbe9e7; border-left-color: #e64a19; }
figure { margin: 1em 1.5em 1em 0; display: inline-block; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 12px; width: 0; min-width: 100%; }  /* wraps at the image's width */
h3 { margin: 1.2em 0 0; font-size: 1.1em; }
pre { background: #263238; color: #eceff1; padding: 0.8em 1em; border-radius: 4px; overflow-x: auto; font-size: 12px; }
"""

NB_HYPHEN = "\u2011"
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def inline(text: str) -> str:
    """Escape text, then turn the one markup the sections use (``**bold**``) into HTML."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


def data_uri(image: Image) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"


def render_table(t: Table) -> str:
    out = ['<div class="table-wrap"><table>']
    if t.title:
        out.append(f"<caption>{html.escape(t.title)}</caption>")
    # headers wrap at spaces only (a non-breaking hyphen keeps 'P-MPJPE' whole)
    heads = (html.escape(c).replace("-", NB_HYPHEN) for c in t.columns)
    out.append("<thead><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead><tbody>")
    for r, row in enumerate(t.rows):
        cells = []
        for c, value in enumerate(row):
            classes = []
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                classes.append("num")
            if (r, c) in t.best:
                classes.append("best")
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{html.escape(t.cell_text(r, c))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if t.note:
        out.append(f'<p class="table-note">{inline(t.note)}</p>')
    out.append("</div>")
    return "".join(out)


def render_block(block) -> str:
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Image):
        return (f'<figure><img src="{data_uri(block)}" alt="{html.escape(block.alt or block.name)}">'
                f"<figcaption>{inline(block.caption)}</figcaption></figure>")
    if isinstance(block, Text):
        if block.kind == "code":
            return f"<pre><code>{html.escape(block.text)}</code></pre>"
        if block.kind == "heading":
            return f"<h3>{inline(block.text)}</h3>"
        cls = ' class="note"' if block.kind == "note" else ""
        return f"<p{cls}>{inline(block.text)}</p>"
    raise TypeError(f"cannot render {type(block).__name__}")


def render_section(s: Section) -> str:
    body = "".join(render_block(b) for b in s.blocks)
    if s.missing:
        body = f'<p class="missing">{inline(s.missing)}</p>' + body
    return f'<section id="{html.escape(s.id)}"><h2>{html.escape(s.title)}</h2>{body}</section>'


def render_html(report: Report) -> str:
    nav = "".join(f'<a href="#{html.escape(s.id)}">{html.escape(s.title)}</a>' for s in report.sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{html.escape(report.title)}</title><style>{CSS}</style></head>\n<body>"
        f"<header><h1>{html.escape(report.title)}</h1><p class=\"subtitle\">{inline(report.subtitle)}</p>"
        f"<nav>{nav}</nav></header>\n<main>\n"
        + "\n".join(render_section(s) for s in report.sections)
        + "\n</main></body></html>\n"
    )
