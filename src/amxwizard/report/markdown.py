"""The record as Markdown that reads well on a code-review page (GitHub-flavoured tables, fenced commands)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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

_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def text(value: Any) -> str:
    """Plain text made inert for Markdown: no emphasis, links, tables or HTML from a value."""
    s = str(value)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s)


def cell(value: Any) -> str:
    """Text for a table cell (newlines become line breaks)."""
    return text(value).replace("\r\n", "\n").replace("\n", "<br>") if value not in (None, "") else fmt.NONE


def code(value: Any) -> str:
    """An inline code span that survives backticks and table pipes in the value."""
    s = str(value).replace("\n", " ")
    if not s:
        return fmt.NONE
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s.replace('|', chr(92) + '|')}{pad}{ticks}"


def fenced(body: str, lang: str = "") -> str:
    """A fenced block longer than any backtick run in ``body``."""
    longest = max((len(m) for m in re.findall(r"`{3,}", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body.rstrip(chr(10))}\n{fence}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured table whose cells are already Markdown."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(record: Record) -> str:
    """The whole record as Markdown text."""
    return markdown_document(record_document(record))


def markdown_document(doc: Document) -> str:
    """A record document as Markdown: a title, its head, then one ``##`` section each."""
    out = [f"# {text(doc.title)}"]
    out += [_block(b) for b in doc.head]
    for section in doc.sections:
        out.append(f"## {text(section.title)}")
        out += [_block(b) for b in section.blocks]
    return "\n\n".join(out) + "\n"


def _inline(part: Inline) -> str:
    if isinstance(part, Text):
        return text(part.text).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")
    if isinstance(part, Code):
        return code(part.text) if part.text else fmt.NONE
    if isinstance(part, Strong):
        core = part.text.strip()
        if not core:
            return _inline(Text(part.text))
        lead, trail = part.text[: len(part.text) - len(part.text.lstrip())], part.text[len(part.text.rstrip()) :]
        return f"{lead}**{_inline(Text(core))}**{trail}"  # ** next to a space would not be emphasis
    return _inline(part.inner)


def _line(parts: Line) -> str:
    rendered = "".join(_inline(p) for p in parts)
    return rendered if rendered.strip() else fmt.NONE


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        body = _line(block.parts)
        if block.role.startswith("banner"):
            return body
        if block.role == "warning":
            return f"> {body}"
        if block.role == "muted":
            return f"_{body}_"
        return body
    if isinstance(block, Table):
        return table(list(block.header), ([_line(cell) for cell in row] for row in block.rows))
    if isinstance(block, CodeBlock):
        return fenced(block.text, block.lang)
    if isinstance(block, ItemList):
        lines = []
        for item in block.items:
            box = "" if item.box is None else ("[x] " if item.box else "[ ] ")
            lines.append(f"- {box}{_line(item.parts)}")
            lines += [f"  - {_line(child)}" for child in item.children]
        return "\n".join(lines)
    if isinstance(block, Subheading):
        return f"### {_line(block.parts)}"
    inner = "\n\n".join(_block(b) for b in block.blocks)
    return f"<details><summary>{text(block.summary)}</summary>\n\n{inner}\n\n</details>"
