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
MAX_NUMBER_CHARS = 100  # longer numbers are not runbook values; Python will not even print some of them

Loc = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
# Core-schema tags a runbook may carry (implicitly resolved or written out); any other tag is refused.
_ALLOWED_TAGS = frozenset(_CORE + kind for kind in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp"))
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
    value_positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    fast: bool = False  # composed by libyaml: fine for good documents; a problem is re-located by the pure parser

    def where(self, loc: Loc) -> tuple[int, int]:
        """The position of the deepest existing prefix of ``loc`` (1-based line, column)."""
        for end in range(len(loc), -1, -1):
            pos = self.positions.get(loc[:end])
            if pos is not None:
                return pos
        return (1, 1)

    def where_in(self, loc: Loc, offset: int) -> tuple[int, int]:
        """The position of character ``offset`` inside the text scalar at ``loc``.

        Walks the source from the scalar's start counting non-blank characters, which every scalar style keeps in
        order (indentation, folding and line breaks only change blanks); quoted styles' escapes are decoded on the way.
        """
        value = self.raw.get(loc)
        start = self.value_positions.get(loc)
        if value is None or start is None:
            return self.where(loc)
        style = self.styles.get(loc)
        line, col = start
        if style in ("|", ">"):
            row, column = line, 0  # content starts on the line after the block header
        elif style in ("'", '"'):
            row, column = line - 1, col  # just after the opening quote
        else:
            row, column = line - 1, col - 1
        wanted = sum(1 for ch in value[:offset] if not ch.isspace())
        seen = 0
        while row < len(self.lines):
            text = self.lines[row]
            while column < len(text):
                ch = text[column]
                if ch.isspace():
                    column += 1
                    continue
                if seen == wanted:
                    return row + 1, column + 1
                width, produced = 1, ch
                if style == '"' and ch == "\\":
                    width, produced = _escape_width(text, column)
                elif style == "'" and text.startswith("''", column):
                    width = 2
                seen += sum(1 for c in produced if not c.isspace())
                column += width
            row, column = row + 1, 0
        return self.where(loc)


_ESCAPES = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _escape_width(text: str, column: int) -> tuple[int, str]:
    """Source width of the double-quoted escape at ``column`` and the text it stands for."""
    if column + 1 >= len(text):
        return 1, ""  # an escaped line break joins the lines
    kind = text[column + 1]
    digits = _HEX_ESCAPES.get(kind)
    if digits is None:
        return 2, _ESCAPES.get(kind, kind)
    try:
        return 2 + digits, chr(int(text[column + 2 : column + 2 + digits], 16))
    except (ValueError, OverflowError):
        return 2, kind


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
        if tag not in _ALLOWED_TAGS:
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
        self.located.value_positions[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.style:  # quoted, literal or folded: always text (plain is None, or "" from the C parser)
            return text
        kind = node.tag[len(_CORE) :] if node.tag.startswith(_CORE) else "str"
        if kind in {"int", "float", "bool", "null"}:
            try:
                if len(text) > MAX_NUMBER_CHARS:
                    raise ValueError(text)
                return plain_scalar(text)
            except ValueError:
                self.fail(node, loc, f"number of {len(text):,} characters is too long (quote it if it is text)")
                return None
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


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _position_of(exc: Exception, text: str) -> tuple[int, int]:
    """1-based line and column of an unmarked YAML error that knows its character offset (a reader error)."""
    position = getattr(exc, "position", None)
    if not isinstance(position, int) or not 0 <= position <= len(text):
        return 1, 1
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


def _syntax_problems(exc: Any, yaml: Any, text: str, filename: str) -> list[Problem]:
    """A YAML syntax error where it was found, naming where the construct it broke began; plus a likely cause."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    context = exc.context or ""
    if context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
        context += f" (from line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    what = _one_line(" ".join(part for part in (context, exc.problem) if part)) or "invalid YAML"
    if "'\\t'" in what:
        what += " (indent with spaces: YAML does not allow tabs there)"
    problems = [Problem(filename, line, col, "", f"YAML syntax: {what}")]
    if mark is not None:
        runaway = _runaway_quote(yaml, text, mark.line)
        if runaway is not None:
            start, end = runaway.start_mark, runaway.end_mark
            problems.append(
                Problem(
                    filename,
                    start.line + 1,
                    start.column + 1,
                    "",
                    f"quoted text runs from here to line {end.line + 1}; is a closing quote missing?",
                )
            )
    return problems


def _runaway_quote(yaml: Any, text: str, problem_line: int) -> Any:
    """A quoted scalar spanning lines that ends on the line of a syntax error: the usual sign of a missing quote."""
    from ruamel.yaml.tokens import ScalarToken

    found = None
    try:
        for token in yaml.scan(text):
            if token.start_mark.line > problem_line:
                break
            if (
                isinstance(token, ScalarToken)
                and token.style in ("'", '"')
                and token.start_mark.line < token.end_mark.line == problem_line
            ):
                found = token
    except Exception:  # the scanner stops at the same error; what it read so far is enough
        pass
    return found


def _compose_fast(text: str) -> Any:
    """Compose with libyaml's parser when ruamel.yaml.clib is installed (about 9x faster; same node marks).

    Raises on any problem, including "no C parser here": the caller then uses the pure parser, whose messages and
    positions are the ones the person sees.
    """
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    if "CParser" not in str(getattr(yaml, "Parser", "")):
        raise LookupError("ruamel.yaml.clib is not installed")
    if text.strip() == "":
        raise ValueError("empty document")  # the pure path reports it
    return yaml.compose(text)


def _nesting_problem(text: str, filename: str) -> Problem | None:
    """The first collection nested deeper than ``MAX_DEPTH``, found from the parser's event stream.

    Both composers (libyaml's and ruamel's pure one) build nodes recursively: libyaml's overflows the C stack and
    kills the process (about 30,000 nested ``[``), the pure one raises ``RecursionError`` with no position. The
    parsers themselves keep an explicit stack, so counting start and end events is safe at any depth and stops at
    the first level too many. Syntax errors are left to the composer, which stops at the same place.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

    depth = 0
    try:
        for event in YAML(typ="safe").parse(text):  # libyaml's parser when installed, else the pure one
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    # The mark's index counts characters; lines are counted here by "\n" only, as editors do
                    # (libyaml also breaks lines at U+2028, which would put the position past the last line).
                    line, col = _line_col(text, event.start_mark.index)
                    return Problem(filename, line, col, "", f"YAML nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except Exception:  # a syntax error: reported (and located) by the composer below
        return None
    return None


def _line_col(text: str, index: int) -> tuple[int, int]:
    index = max(0, min(index, len(text)))
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def read_yaml_text(text: str, filename: str, *, fast: bool = True) -> Located:
    """Parse ``text`` into :class:`Located` data or raise :class:`RunbookError`.

    With ``fast``, libyaml composes the document when it can. Its marks agree with the pure parser's on ordinary
    documents but not on every odd one, so any problem is reported from a second, pure parse: every line and
    column a person sees comes from the pure parser.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise RunbookError([Problem(filename, 1, 1, "", f"file is {size:,} bytes; the limit is {MAX_BYTES:,}")])
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise RunbookError([Problem(filename, line, 1, "", "file contains a NUL byte; is it text?")])
    too_deep = _nesting_problem(text, filename)
    if too_deep is not None:
        raise RunbookError([too_deep])
    root = None
    if fast:
        try:
            root = _compose_fast(text)
        except Exception:  # the pure parser below words (and locates) every problem; the fast one is only for speed
            root = None
    used_fast = root is not None
    yaml = YAML(typ="safe", pure=True)
    try:
        if root is None:
            root = yaml.compose(text)
    except MarkedYAMLError as exc:
        raise RunbookError(_syntax_problems(exc, yaml, text, filename)) from None
    except RecursionError:
        raise RunbookError([Problem(filename, 1, 1, "", "YAML nested too deeply")]) from None
    except YAMLError as exc:
        line, col = _position_of(exc, text)
        message = _one_line(str(exc).split("\n  in ", 1)[0])  # drop the reader's "in <stream>, position N" line
        raise RunbookError([Problem(filename, line, col, "", f"YAML: {message}")]) from None
    except Exception as exc:  # ruamel raises assorted errors on hostile input; never show a traceback
        message = _one_line(f"unreadable YAML ({type(exc).__name__}: {exc})")
        raise RunbookError([Problem(filename, 1, 1, "", message)]) from None
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
        if used_fast:
            return read_yaml_text(text, filename, fast=False)
        raise RunbookError(builder.problems)
    builder.located.fast = used_fast
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
