"""Read YAML into plain Python data plus a map from data paths to source positions.

ruamel.yaml composes the node graph (with marks); the conversion to Python is ours, so we decide:
YAML 1.2 core typing (``no`` stays text), duplicate keys are errors with both places named, tags and merge
keys are refused, and aliases may not expand past a node budget (a "billion laughs" file fails in
milliseconds instead of eating memory).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Problem, RunbookError

MAX_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 64

Loc = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_INT_RE = re.compile(r"[-+]?[0-9]+\Z")
_OCT_RE = re.compile(r"0o[0-7]+\Z")
_HEX_RE = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF_RE = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN_RE = re.compile(r"\.(nan|NaN|NAN)\Z")
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


@dataclass(slots=True)
class Located:
    """Plain data read from YAML, and where each part of it came from."""

    data: Any
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    raw: dict[Loc, str] = field(default_factory=dict)
    styles: dict[Loc, str | None] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def where(self, loc: Loc) -> tuple[int, int]:
        """The position of the deepest existing prefix of ``loc`` (1-based line, column)."""
        for end in range(len(loc), -1, -1):
            pos = self.positions.get(loc[:end])
            if pos is not None:
                return pos
        return (1, 1)

    def where_in(self, loc: Loc, offset: int) -> tuple[int, int]:
        """The position of character ``offset`` inside the text scalar at ``loc``."""
        line, col = self.where(loc)
        value = self.raw.get(loc)
        if value is None:
            return line, col
        before = value[:offset]
        row = before.count("\n")
        style = self.styles.get(loc)
        if style in ("|", ">"):
            indent = 0
            for text in self.lines[line:]:
                if text.strip():
                    indent = len(text) - len(text.lstrip(" "))
                    break
            return line + 1 + row, indent + len(before) - (before.rfind("\n") + 1) + 1
        if row == 0:
            return line, col + len(before) + (1 if style in ("'", '"') else 0)
        return line + row, 1


def plain_scalar(text: str) -> Any:
    """Resolve an untagged plain scalar by the YAML 1.2 core schema."""
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT_RE.match(text):
        return int(text)
    if _OCT_RE.match(text):
        return int(text[2:], 8)
    if _HEX_RE.match(text):
        return int(text[2:], 16)
    if _FLOAT_RE.match(text):
        return float(text)
    if _INF_RE.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN_RE.match(text):
        return math.nan
    return text


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.located = Located(data=None)
        self.nodes = 0
        self.problems: list[Problem] = []

    def fail(self, node: Any, loc: Loc, message: str) -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.filename, mark.line + 1, mark.column + 1, _dotted(loc), message))

    def build(self, node: Any, loc: Loc, depth: int) -> Any:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Abort(node, loc, f"more than {MAX_NODES} nodes (aliases expand too far)")
        if depth > MAX_DEPTH:
            raise _Abort(node, loc, f"nested deeper than {MAX_DEPTH} levels")
        self.located.positions.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
        tag = node.tag or ""
        if tag.startswith("!") or (tag.startswith("tag:") and not tag.startswith(_CORE)):
            self.fail(node, loc, f"YAML tag {tag!r} is not supported")
            return None
        if isinstance(node, ScalarNode):
            return self.scalar(node, loc)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, loc, depth)
        self.fail(node, loc, "unsupported YAML node")
        return None

    def scalar(self, node: Any, loc: Loc) -> Any:
        text: str = node.value
        self.located.raw[loc] = text
        self.located.styles[loc] = node.style
        if node.style is not None:  # quoted, literal or folded: always text
            return text
        kind = node.tag[len(_CORE):] if node.tag.startswith(_CORE) else "str"
        if kind in {"int", "float", "bool", "null"}:
            return plain_scalar(text)
        return text  # str, and 1.2 timestamps etc. stay exactly as written

    def mapping(self, node: Any, loc: Loc, depth: int) -> dict[str, Any]:
        from ruamel.yaml.nodes import ScalarNode

        out: dict[str, Any] = {}
        first_seen: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _CORE + "merge":
                self.fail(key_node, loc, "merge keys ('<<') are not supported")
                continue
            if not isinstance(key_node, ScalarNode):
                self.fail(key_node, loc, "mapping keys must be plain text")
                continue
            key = str(key_node.value)
            if key in first_seen:
                prev = first_seen[key].start_mark
                self.fail(key_node, (*loc, key), f"duplicate key {key!r} (first defined at line {prev.line + 1})")
                continue
            first_seen[key] = key_node
            child: Loc = (*loc, key)
            self.located.positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child, depth + 1)
        return out


class _Abort(Exception):
    def __init__(self, node: Any, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.node, self.loc, self.message = node, loc, message


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def read_yaml_text(text: str, filename: str) -> Located:
    """Parse ``text`` into :class:`Located` data or raise :class:`RunbookError`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise RunbookError([Problem(filename, 1, 1, "", f"file is {size:,} bytes; the limit is {MAX_BYTES:,}")])
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise RunbookError([Problem(filename, line, 1, "", "file contains a NUL byte; is it text?")])
    yaml = YAML(typ="safe", pure=True)
    try:
        root = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise RunbookError([Problem(filename, line, col, "", f"YAML syntax: {what}")]) from None
    except RecursionError:
        raise RunbookError([Problem(filename, 1, 1, "", "YAML nested too deeply")]) from None
    except YAMLError as exc:
        raise RunbookError([Problem(filename, 1, 1, "", f"YAML: {exc}")]) from None
    except Exception as exc:  # ruamel raises assorted errors on hostile input; never show a traceback
        raise RunbookError([Problem(filename, 1, 1, "", f"unreadable YAML ({type(exc).__name__}: {exc})")]) from None
    builder = _Builder(filename)
    builder.located.lines = text.splitlines()
    if root is None:
        raise RunbookError([Problem(filename, 1, 1, "", "the file is empty")])
    try:
        builder.located.data = builder.build(root, (), 0)
    except _Abort as abort:
        builder.fail(abort.node, abort.loc, abort.message)
    except RecursionError:
        raise RunbookError([Problem(filename, 1, 1, "", "YAML nested too deeply")]) from None
    if builder.problems:
        raise RunbookError(builder.problems)
    return builder.located


def read_yaml_file(path: Path, display: str | None = None) -> tuple[Located, bytes]:
    """Read a YAML file (size-checked before reading it whole); returns the data and the file's bytes."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RunbookError([Problem(name, 1, 1, "", f"file is {size:,} bytes; the limit is {MAX_BYTES:,}")])
        raw = path.read_bytes()
    except OSError as exc:
        raise RunbookError([Problem(name, 1, 1, "", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise RunbookError([Problem(name, line, 1, "", "not UTF-8 text")]) from None
    return read_yaml_text(text.removeprefix("\ufeff"), name), raw
