"""The record as one self-contained HTML file: inline CSS, no scripts, no external URLs; fine on paper too."""

from __future__ import annotations

import html
from typing import Any

from . import fmt
from .document import (
    Block,
    Code,
    CodeBlock,
    Document,
    Inline,
    ItemList,
    Line,
    Paragraph,
    Strong,
    Subheading,
    Table,
    Text,
    record_document,
)
from .model import Record

_CSS = """
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #59636e; --line: #d0d7de; --code: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0 auto;
       max-width: 1100px; padding: 24px; }
h1 { font-size: 1.7em; margin: 0 0 .3em; }
h2 { font-size: 1.3em; border-bottom: 1px solid var(--line); padding-bottom: .2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .3em; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--code); }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: var(--code); padding: 0 3px; border-radius: 3px; word-break: break-all; }
pre { background: var(--code); padding: 10px; border: 1px solid var(--line); border-radius: 4px;
      white-space: pre-wrap; word-break: break-all; }
.banner { font-size: 1.15em; font-weight: 600; padding: 10px 14px; border-radius: 6px; margin: .6em 0 1em; }
.banner.complete { background: #dafbe1; border: 2px solid var(--ok); }
.banner.incomplete { background: #fff1e5; border: 2px solid var(--bad); }
.warning { background: #fff8c5; border: 1px solid var(--warn); padding: 6px 10px; border-radius: 4px; }
.muted { color: var(--muted); }
.state-passed, .state-chosen, .met, .not_applicable { color: var(--ok); font-weight: 600; }
.state-failed, .state-interrupted, .unmet { color: var(--bad); font-weight: 600; }
.state-running, .state-skipped, .state-not-chosen, .unknown, .manual { color: var(--warn); font-weight: 600; }
.run { margin: .5em 0 .2em; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; }
  tr, pre, .run { break-inside: avoid; }
  .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def e(value: Any) -> str:
    """Escaped text; ``None`` and empty as a dash."""
    if value is None or value == "":
        return fmt.NONE
    return html.escape(str(value), quote=True)


def render_html(record: Record) -> str:
    """The whole record as an HTML document."""
    return html_document(record_document(record))


def html_document(doc: Document) -> str:
    """A record document as one self-contained page."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(doc.page_title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<header><h1>{e(doc.title)}</h1>",
        *(_block(b) for b in doc.head),
        "</header><main>",
    ]
    for section in doc.sections:
        out.append(f'<section id="{e(section.id)}"><h2>{e(section.title)}</h2>')
        out += [_block(b) for b in section.blocks]
        out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _text(value: str) -> str:
    return html.escape(value, quote=True).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def _inline(part: Inline) -> str:
    if isinstance(part, Text):
        return _text(part.text)
    if isinstance(part, Code):
        return f"<code>{html.escape(part.text, quote=True)}</code>" if part.text else fmt.NONE
    if isinstance(part, Strong):
        if part.cls:
            return f'<strong class="{e(part.cls)}">{_text(part.text)}</strong>'
        return f"<strong>{_text(part.text)}</strong>"
    return f'<span id="{e(part.id)}">{_inline(part.inner)}</span>'


def _line(parts: Line) -> str:
    rendered = "".join(_inline(p) for p in parts)
    return rendered if rendered.strip() else fmt.NONE


_ROLES = {
    "banner-complete": "banner complete",
    "banner-incomplete": "banner incomplete",
    "warning": "warning",
    "muted": "muted",
    "run": "run",
}


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        cls = _ROLES.get(block.role, "")
        attrs = (f' class="{cls}"' if cls else "") + (f' id="{e(block.id)}"' if block.id else "")
        return f"<p{attrs}>{_line(block.parts)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{e(h)}</th>" for h in block.header)
        body = "".join("<tr>" + "".join(f"<td>{_line(cell)}</td>" for cell in row) + "</tr>" for row in block.rows)
        attr = f' class="{e(block.cls)}"' if block.cls else ""
        return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, CodeBlock):
        return f"<pre>{html.escape(block.text)}</pre>"
    if isinstance(block, ItemList):
        items = []
        for item in block.items:
            box = "" if item.box is None else ("☑ " if item.box else "☐ ")
            inner = "".join(f"<li>{_line(child)}</li>" for child in item.children)
            items.append(f"<li>{box}{_line(item.parts)}" + (f"<ul>{inner}</ul>" if inner else "") + "</li>")
        return "<ul>" + "".join(items) + "</ul>"
    if isinstance(block, Subheading):
        return "<h3" + (f' id="{e(block.id)}"' if block.id else "") + f">{_line(block.parts)}</h3>"
    inner = "\n".join(_block(b) for b in block.blocks)
    return f"<details><summary>{e(block.summary)}</summary>\n{inner}\n</details>"
