"""The one place where ``{{ name }}`` placeholders are replaced.

Text templates (paths, messages, documents) get values as they are. Shell templates get each value escaped for
the quoting context the placeholder sits in, found by scanning the command the way bash would read it:

- bare word, or a quoted here-document (a script written to disk): ``shlex.quote``; ANSI-C ``$'...'`` when the
  value holds control characters, so a newline can never end a here-document or start a command;
- inside ``"..."``: backslash-escape ``\\ $ ` "``;
- inside ``'...'``: close, escape and reopen the quote;
- an unquoted here-document (text): backslash-escape ``\\ $ `` and refuse a value that would end it;
- a ``#`` comment: newlines shown as ``\\n``.

Placeholders in backticks, ``${...}``, ``$'...'`` (whose backslash escapes would change the value) or command
substitution inside a here-document are refused at validate time.
A variable of type ``args`` (a list of flags such as ``-fa on``) is split like a shell would and each word quoted;
it may only stand where words are read (bare, or in a quoted here-document).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from .shell import Context, ShellSyntaxError, lex

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)?)\s*\}\}")


class TemplateError(ValueError):
    """A template cannot be rendered: unknown name, unsafe place, or a value that cannot be quoted there."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


_UNSAFE = {Context.BACKTICK, Context.PARAM, Context.HEREDOC_SUBST, Context.ANSI_C}
_WORD_CONTEXTS = {Context.BARE, Context.SCRIPT_HEREDOC}


@dataclass(frozen=True, slots=True)
class Slot:
    """A placeholder in a shell template and how bash will read what replaces it."""

    name: str
    start: int
    end: int
    context: Context
    delimiter: str | None = None  # here-document delimiter, if inside one


def placeholders(template: str) -> list[str]:
    """Names used in ``template``, in order of appearance (repeats kept)."""
    return [m.group(1) for m in PLACEHOLDER_RE.finditer(template)]


def render_text(template: str, values: Mapping[str, str]) -> str:
    """Replace placeholders with values as they are (for paths, messages, documents)."""

    def sub(m: re.Match[str]) -> str:
        try:
            return values[m.group(1)]
        except KeyError:
            raise TemplateError(f"undefined variable {m.group(1)!r}", m.start()) from None

    return PLACEHOLDER_RE.sub(sub, template)


_SHELL_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def render_path(template: str, values: Mapping[str, str], env: Mapping[str, str]) -> str:
    """A path template: placeholders from ``values``, then ``$NAME`` / ``${NAME}`` from ``env`` (exported by steps).

    Raises :class:`TemplateError` naming a shell variable no step has exported yet.
    """

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in env:
            raise TemplateError(f"${name} is not set yet (an earlier step exports it)", m.start())
        return env[name]

    return _SHELL_VAR_RE.sub(sub, render_text(template, values))


def render_shell(template: str, values: Mapping[str, str], args_vars: frozenset[str] = frozenset()) -> str:
    """Replace placeholders with values escaped for where they stand; the result is what bash will run."""
    slots = shell_slots(template)
    out: list[str] = []
    pos = 0
    for slot in slots:
        out.append(template[pos : slot.start])
        if slot.name not in values:
            raise TemplateError(f"undefined variable {slot.name!r}", slot.start)
        out.append(_escape(slot, values[slot.name], slot.name in args_vars))
        pos = slot.end
    out.append(template[pos:])
    return "".join(out)


def check_shell_template(template: str, known: Mapping[str, bool]) -> list[TemplateError]:
    """Problems a shell template has before any value is known. ``known`` maps name -> is an ``args`` variable."""
    problems: list[TemplateError] = []
    try:
        slots = shell_slots(template)
    except TemplateError as exc:
        return [exc]
    for slot in slots:
        if slot.name not in known:
            problems.append(TemplateError(f"undefined variable {slot.name!r}", slot.start))
        elif slot.context in _UNSAFE:
            problems.append(
                TemplateError(f"{{{{{slot.name}}}}} cannot be quoted safely inside {slot.context}", slot.start)
            )
        elif known[slot.name] and slot.context not in _WORD_CONTEXTS:
            problems.append(
                TemplateError(
                    f"{{{{{slot.name}}}}} is a list of arguments; write it as bare words, not inside {slot.context}",
                    slot.start,
                )
            )
    return problems


def quote_word(value: str) -> str:
    """Quote one shell word; ANSI-C quoting when it holds control characters (newline, tab, ...)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        body = "".join(
            _ANSI_C.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 32 or ord(ch) == 127 else ch) for ch in value
        )
        return f"$'{body}'"
    return shlex.quote(value)


_ANSI_C = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def split_args(value: str) -> list[str]:
    """Split an ``args`` value into words the way a shell would, or raise :class:`TemplateError`."""
    try:
        return shlex.split(value, comments=False, posix=True)
    except ValueError as exc:
        raise TemplateError(f"cannot split {value!r} into arguments: {exc}") from None


def _escape(slot: Slot, value: str, is_args: bool) -> str:
    if "\x00" in value:
        raise TemplateError(f"{slot.name}: value contains a NUL byte", slot.start)
    ctx = slot.context
    if ctx in _UNSAFE:
        raise TemplateError(f"{{{{{slot.name}}}}} cannot be quoted safely inside {ctx}", slot.start)
    if is_args:
        if ctx not in _WORD_CONTEXTS:
            raise TemplateError(f"{{{{{slot.name}}}}} is a list of arguments; it cannot stand inside {ctx}", slot.start)
        return " ".join(quote_word(word) for word in split_args(value))
    if ctx in _WORD_CONTEXTS:
        return quote_word(value)
    if ctx is Context.DOUBLE:
        return re.sub(r'([\\$`"])', r"\\\1", value)
    if ctx is Context.SINGLE:
        return value.replace("'", "'\\''")
    if ctx is Context.TEXT_HEREDOC:
        escaped = re.sub(r"([\\$`])", r"\\\1", value)
        delimiter = slot.delimiter or ""
        if any(line.lstrip("\t") == delimiter for line in escaped.split("\n")[1:]):
            raise TemplateError(f"{slot.name}: a line of the value would end the here-document", slot.start)
        return escaped
    # comment
    return value.replace("\r", "\\r").replace("\n", "\\n")


# --- the scanner -------------------------------------------------------------------------------------------


def shell_slots(template: str) -> list[Slot]:
    """Find every placeholder in a shell template with its quoting context (read by :mod:`.shell`, the same
    reader preflight uses to find the programs a command runs).

    Raises :class:`TemplateError` for an unterminated quote or here-document.
    """
    spans = {m.start(): m.end() for m in PLACEHOLDER_RE.finditer(template)}
    try:
        lexed = lex(template, opaque=spans, strict=True)
    except ShellSyntaxError as exc:
        raise TemplateError(str(exc), exc.offset) from None
    names = {m.start(): m.group(1) for m in PLACEHOLDER_RE.finditer(template)}
    return [Slot(names[s.start], s.start, s.end, s.context, s.delimiter) for s in lexed.spans]
