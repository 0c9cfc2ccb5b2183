"""The record as JSON (the whole event chain included), and reading one back with clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .build import RecordError
from .model import Record


def render_json(record: Record) -> str:
    """The JSON record, indented for people and diff tools."""
    return json.dumps(record.to_document(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def read_document(path: Path) -> dict[str, Any]:
    """A JSON record as a dict; :class:`RecordError` naming the file (and line and column) when it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecordError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RecordError(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise RecordError(f"{path}: not an amxwizard record (the top level is not an object)")
    return doc
