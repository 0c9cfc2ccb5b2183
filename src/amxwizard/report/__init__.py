"""The reviewer's record: build it from a session, write it as Markdown, HTML or JSON, verify it, sign it off.

Never imports textual (an import-linter contract enforces it). The TUI uses :func:`build_record` and
:func:`write_record`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .build import RecordError, build_record, record_from_document
from .model import Record

Format = Literal["md", "html", "json"]
FORMATS: tuple[Format, ...] = ("md", "html", "json")


def render(record: Record, fmt: str) -> str:
    """The record as text in ``fmt`` (md, html or json)."""
    if fmt == "md":
        from .markdown import render_markdown

        return render_markdown(record)
    if fmt == "html":
        from .html import render_html

        return render_html(record)
    if fmt == "json":
        from .jsonfmt import render_json

        return render_json(record)
    raise RecordError(f"unknown record format {fmt!r} (use one of: {', '.join(FORMATS)})")


def write_record(record: Record, fmt: str, path: Path) -> Path:
    """Write the record to ``path`` atomically (a reader never sees half a file); returns the path."""
    from ..engine.fileio import atomic_write

    text = render(record, fmt)
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise RecordError(f"{path}: cannot write the record: {exc.strerror or exc}") from None
    return path


__all__ = ["FORMATS", "Record", "RecordError", "build_record", "record_from_document", "render", "write_record"]
