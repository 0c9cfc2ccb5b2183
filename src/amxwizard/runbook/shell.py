"""The one reader of bash in amxwizard: words, operators, redirections and here-documents, with quoting contexts.

Two readers need the same reading of a command: :mod:`amxwizard.runbook.templates` asks in which quoting context
each ``{{ name }}`` placeholder stands (to escape a value for exactly that place), and preflight asks which
programs a command runs, with which arguments (to check them against the machine). Both read it here, so they
can never disagree about where a quote ends or where a here-document's body is.

What is read, the way bash reads it:

- words, with quotes removed (``'...'``, ``"..."``, ``$'...'`` decoded, backslashes), marked *expanded* when they
  hold a ``$VAR``, ``${...}``, ``$(...)`` or backticks the shell fills in at run time;
- the scripts of ``$(...)`` inside words (``$((...))`` arithmetic runs nothing and is not one);
- operators (``;``, ``&&``, ``|``, ``(``, a newline, ...), which end a simple command;
- redirections with their target word, and here-documents with their bodies (read after the line that opens them);
- ``#`` comments where a word would start.

Template placeholders are *opaque spans*: read as literal text, each reported with the context it stands in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ShellSyntaxError(ValueError):
    """Bash would refuse the text: an unterminated quote, substitution or here-document (``offset`` points at it)."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


class Context(StrEnum):
    """Where a piece of text stands, as bash will read it."""

    BARE = "bare"
    DOUBLE = "double-quoted"
    SINGLE = "single-quoted"
    ANSI_C = "$'...'"
    SCRIPT_HEREDOC = "quoted here-document"
    TEXT_HEREDOC = "here-document"
    COMMENT = "comment"
    BACKTICK = "backticks"
    PARAM = "${...}"
    HEREDOC_SUBST = "command substitution in a here-document"


@dataclass(slots=True)
class Word:
    """One shell word: its text with quotes removed, where it stands, and what the shell still fills in."""

    text: str
    start: int = 0
    end: int = 0
    expanded: bool = False  # holds a $VAR, ${...}, $(...) or `...` the shell fills in at run time
    quoted: bool = False  # used quotes or a backslash (a quoted here-document delimiter)
    substitutions: list[str] = field(default_factory=list)  # the scripts of the $(...) in it


@dataclass(slots=True)
class Heredoc:
    """A here-document: its delimiter, whether it was quoted (no expansion in the body), and its body."""

    delimiter: str
    quoted: bool
    strip_tabs: bool
    start: int  # offset of the << operator
    body: str = ""
    closed: bool = False


@dataclass(slots=True)
class Redirect:
    """A redirection: ``>``, ``>>``, ``&>``, ``<``, ``<<`` ...; its target word, or its here-document."""

    op: str
    target: Word | None = None
    heredoc: Heredoc | None = None

    @property
    def writes(self) -> bool:
        """True when the target is a file the command writes (``>``, ``>>``, ``&>``, ``>|``, ``<>``)."""
        return self.target is not None and ">" in self.op


@dataclass(frozen=True, slots=True)
class Operator:
    """A control operator: ``;``, ``&``, ``&&``, ``|``, ``||``, ``(``, ``)``, ``;;`` or a newline."""

    text: str
    start: int


Token = Word | Redirect | Operator


@dataclass(frozen=True, slots=True)
class Span:
    """An opaque span (a template placeholder) and the context it stands in."""

    start: int
    end: int
    context: Context
    delimiter: str | None = None  # the here-document's delimiter, when inside one


@dataclass(slots=True)
class Command:
    """One simple command: its words and redirections, in order, and the here-documents it opens."""

    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)

    @property
    def heredocs(self) -> list[Heredoc]:
        return [r.heredoc for r in self.redirects if r.heredoc is not None]


@dataclass(slots=True)
class Lexed:
    """The result of :func:`lex`: tokens in order, and the context of every opaque span."""

    tokens: list[Token]
    spans: list[Span]

    def commands(self) -> list[Command]:
        """The tokens grouped into simple commands (every operator ends one; empty ones are dropped)."""
        out: list[Command] = []
        current = Command()
        for token in self.tokens:
            if isinstance(token, Operator):
                if current.words or current.redirects:
                    out.append(current)
                current = Command()
            elif isinstance(token, Redirect):
                current.redirects.append(token)
            else:
                current.words.append(token)
        if current.words or current.redirects:
            out.append(current)
        return out


def lex(script: str, *, opaque: Mapping[int, int] | None = None, strict: bool = False) -> Lexed:
    """Read ``script`` as bash would. ``opaque`` maps start -> end of spans read as literal text whose context is
    reported (template placeholders). ``strict``: raise :class:`ShellSyntaxError` where bash would refuse the text
    (else an unterminated quote or here-document simply runs to the end)."""
    lexer = _Lexer(script, dict(opaque or {}), strict)
    lexer.script_at(0, lexer.tokens)
    return Lexed(lexer.tokens, sorted(lexer.spans, key=lambda s: s.start))


# --- the lexer -----------------------------------------------------------------------------------------------

_REDIRECT_RE = re.compile(r"<<<|<<-|<<|<>|<&|>>|>&|>\||<|>")
_FD_RE = re.compile(r"[ \t]*(\d+|-)")
_PARAMETER_RE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9#?$!@*-])")
_HEX_RE = re.compile(r"[0-9a-fA-F]{1,2}")
_ANSI_C = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "e": "\x1b"}
_OPERATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")")


@dataclass(slots=True)
class _WordBuilder:
    chars: list[str] = field(default_factory=list)
    start: int = -1
    expanded: bool = False
    quoted: bool = False
    substitutions: list[str] = field(default_factory=list)

    @property
    def started(self) -> bool:
        return self.start >= 0

    def add(self, text: str, at: int) -> None:
        if self.start < 0:
            self.start = at
        self.chars.append(text)


class _Lexer:
    def __init__(self, script: str, opaque: dict[int, int], strict: bool) -> None:
        self.s = script
        self.n = len(script)
        self.opaque = opaque
        self.strict = strict
        self.tokens: list[Token] = []
        self.spans: list[Span] = []

    def fail(self, message: str, offset: int) -> None:
        if self.strict:
            raise ShellSyntaxError(message, offset)

    def opaque_at(self, i: int, context: Context, delimiter: str | None = None) -> int | None:
        end = self.opaque.get(i)
        if end is None:
            return None
        self.spans.append(Span(i, end, context, delimiter))
        return end

    # -- bare text: a script, or the inside of $( ) ---------------------------------------------------------------

    def script_at(self, i: int, tokens: list[Token], closer: bool = False) -> int:
        """Read commands from ``i``; with ``closer``, up to the ``)`` that ends a ``$(``. Returns the index after
        what was read (after the ``)``), or ``-1`` when a ``$(`` is never closed."""
        s, n = self.s, self.n
        word = _WordBuilder()
        pending_op: tuple[str, int] | None = None  # a redirection waiting for its target word
        heredocs: list[Heredoc] = []  # opened on this line, bodies after the newline
        depth = 0

        def end_word() -> None:
            nonlocal word, pending_op
            if not word.started:
                return
            built = Word("".join(word.chars), word.start, i, word.expanded, word.quoted, list(word.substitutions))
            word = _WordBuilder()
            if pending_op is None:
                tokens.append(built)
                return
            op, at = pending_op
            pending_op = None
            if op in ("<<", "<<-"):
                doc = Heredoc(built.text, built.quoted, op == "<<-", at)
                heredocs.append(doc)
                tokens.append(Redirect(op, None, doc))
            else:
                tokens.append(Redirect(op, built))

        while i < n:
            end = self.opaque_at(i, Context.BARE)
            if end is not None:
                word.add(s[i:end], i)
                i = end
                continue
            c = s[i]
            if c == "\\":
                if i + 1 < n and s[i + 1] == "\n":
                    i += 2  # a line continuation
                    continue
                word.add(s[i + 1] if i + 1 < n else "", i)
                word.quoted = True
                i += 2
            elif c == "'":
                i = self.single_at(i, word)
            elif s.startswith("$'", i):
                i = self.ansi_c_at(i, word)
            elif c == '"':
                i = self.double_at(i, word)
            elif s.startswith("$(", i):
                i = self.substitution_at(i, word)
            elif s.startswith("${", i):
                i = self.param_at(i, word)
            elif c == "$":
                m = _PARAMETER_RE.match(s, i)
                token = m.group() if m else "$"
                word.add(token, i)
                word.expanded |= m is not None
                i += len(token)
            elif c == "`":
                i = self.backtick_at(i, word)
            elif c == "#" and not word.started:
                i = self.comment_at(i)
            elif c in " \t":
                end_word()
                i += 1
            elif c == "\n":
                end_word()
                tokens.append(Operator("\n", i))
                i += 1
                if heredocs:
                    i = self.heredoc_bodies_at(i, heredocs)
                    heredocs = []
            elif c in ";&|()":
                if s.startswith("&>", i):
                    end_word()
                    op = "&>>" if s.startswith("&>>", i) else "&>"
                    pending_op = (op, i)
                    i += len(op)
                    continue
                end_word()
                if closer and c == "(":
                    depth += 1
                elif closer and c == ")":
                    if depth == 0:
                        self.unfinished(heredocs)
                        return i + 1
                    depth -= 1
                op = next(o for o in _OPERATORS if s.startswith(o, i))
                tokens.append(Operator(op, i))
                i += len(op)
            elif c in "<>":
                text = "".join(word.chars)
                if word.started and text.isdigit() and not word.quoted and not word.expanded:
                    word = _WordBuilder()  # the fd number of 2> and friends
                else:
                    end_word()
                m = _REDIRECT_RE.match(s, i)
                assert m is not None
                op, at = m.group(), i
                i = m.end()
                if op.endswith("&"):
                    fd = _FD_RE.match(s, i)
                    if fd:
                        i = fd.end()
                    tokens.append(Redirect(op))
                else:
                    pending_op = (op, at)
            else:
                word.add(c, i)
                i += 1
        end_word()
        self.unfinished(heredocs)
        return -1 if closer else n

    def unfinished(self, heredocs: list[Heredoc]) -> None:
        if heredocs:
            self.fail(f"here-document {heredocs[0].delimiter!r} is never closed", heredocs[0].start)

    # -- quotes ------------------------------------------------------------------------------------------------

    def single_at(self, i: int, word: _WordBuilder) -> int:
        start = i
        word.add("", i)
        word.quoted = True
        i += 1
        while i < self.n and self.s[i] != "'":
            end = self.opaque_at(i, Context.SINGLE)
            if end is not None:
                word.add(self.s[i:end], i)
                i = end
                continue
            word.add(self.s[i], i)
            i += 1
        if i >= self.n:
            self.fail(f"unterminated {Context.SINGLE} (bash would refuse this command)", start)
        return min(i + 1, self.n)

    def ansi_c_at(self, i: int, word: _WordBuilder) -> int:
        start = i
        word.add("", i)
        word.quoted = True
        i += 2
        s, n = self.s, self.n
        while i < n and s[i] != "'":
            end = self.opaque_at(i, Context.ANSI_C)
            if end is not None:
                word.add(s[i:end], i)
                i = end
                continue
            if s[i] == "\\" and i + 1 < n:
                nxt = s[i + 1]
                if nxt == "x":
                    m = _HEX_RE.match(s, i + 2)
                    if m:
                        word.add(chr(int(m.group(), 16)), i)
                        i = m.end()
                        continue
                word.add(_ANSI_C.get(nxt, "\\" + nxt), i)
                i += 2
            else:
                word.add(s[i], i)
                i += 1
        if i >= n:
            self.fail(f"unterminated {Context.ANSI_C} (bash would refuse this command)", start)
        return min(i + 1, n)

    def double_at(self, i: int, word: _WordBuilder) -> int:
        start = i
        word.add("", i)
        word.quoted = True
        i += 1
        s, n = self.s, self.n
        while i < n and s[i] != '"':
            end = self.opaque_at(i, Context.DOUBLE)
            if end is not None:
                word.add(s[i:end], i)
                i = end
                continue
            c = s[i]
            if c == "\\" and i + 1 < n and s[i + 1] in '$`"\\\n':
                if s[i + 1] != "\n":
                    word.add(s[i + 1], i)
                i += 2
            elif s.startswith("$(", i):
                i = self.substitution_at(i, word)
            elif s.startswith("${", i):
                i = self.param_at(i, word)
            elif c == "`":
                i = self.backtick_at(i, word)
            elif c == "$":
                word.add(c, i)
                word.expanded = True
                i += 1
            else:
                word.add(c, i)
                i += 1
        if i >= n:
            self.fail(f"unterminated {Context.DOUBLE} (bash would refuse this command)", start)
        return min(i + 1, n)

    # -- what the shell fills in -------------------------------------------------------------------------------

    def substitution_at(self, i: int, word: _WordBuilder) -> int:
        """``$( ... )``: its inside is a script of its own (``$(( ))`` arithmetic runs nothing)."""
        end = self.script_at(i + 2, [], closer=True)
        if end < 0:
            self.fail("unterminated $( ) (bash would refuse this command)", i)
            end = self.n
        inner = self.s[i + 2 : max(end - 1, i + 2)]
        word.add(self.s[i:end], i)
        word.expanded = True
        if not inner.startswith("("):
            word.substitutions.append(inner)
        return end

    def param_at(self, i: int, word: _WordBuilder) -> int:
        start = i
        i += 2
        s, n = self.s, self.n
        while i < n and s[i] != "}":
            end = self.opaque_at(i, Context.PARAM)
            if end is not None:
                i = end
            elif s[i] == "\\":
                i += 2
            elif s.startswith("$(", i):
                i = self.substitution_at(i, _WordBuilder())
            else:
                i += 1
        if i >= n:
            self.fail(f"unterminated {Context.PARAM} (bash would refuse this command)", start)
        end = min(i + 1, n)
        word.add(s[start:end], start)
        word.expanded = True
        return end

    def backtick_at(self, i: int, word: _WordBuilder) -> int:
        start = i
        i += 1
        s, n = self.s, self.n
        while i < n and s[i] != "`":
            end = self.opaque_at(i, Context.BACKTICK)
            if end is not None:
                i = end
            elif s[i] == "\\":
                i += 2
            else:
                i += 1
        if i >= n:
            self.fail(f"unterminated {Context.BACKTICK} (bash would refuse this command)", start)
        end = min(i + 1, n)
        word.add(s[start:end], start)
        word.expanded = True
        return end

    def comment_at(self, i: int) -> int:
        end = self.s.find("\n", i)
        end = self.n if end < 0 else end
        while i < end:
            stop = self.opaque_at(i, Context.COMMENT)
            i = stop if stop is not None else i + 1
        return end

    # -- here-documents ------------------------------------------------------------------------------------

    def heredoc_bodies_at(self, i: int, heredocs: list[Heredoc]) -> int:
        """Read the bodies of ``heredocs`` from ``i`` (the line after the one that opened them)."""
        s, n = self.s, self.n
        for doc in heredocs:
            lines: list[str] = []
            while i < n:
                end = s.find("\n", i)
                end = n if end < 0 else end
                line = s[i:end]
                if (line.lstrip("\t") if doc.strip_tabs else line) == doc.delimiter:
                    i = end + 1
                    doc.closed = True
                    break
                self.heredoc_line(i, end, doc)
                lines.append(line)
                i = end + 1
            doc.body = "\n".join(lines)
            if not doc.closed:
                self.fail(f"here-document {doc.delimiter!r} is never closed", heredocs[0].start)
        return min(i, n)

    def heredoc_line(self, i: int, end: int, doc: Heredoc) -> None:
        """Report the opaque spans of one body line: in an unquoted body, ``$( )`` and backticks still run."""
        context = Context.SCRIPT_HEREDOC if doc.quoted else Context.TEXT_HEREDOC
        s = self.s
        depth, in_backtick = 0, False
        while i < end:
            inside = (depth or in_backtick) and not doc.quoted
            stop = self.opaque_at(i, Context.HEREDOC_SUBST if inside else context, doc.delimiter)
            if stop is not None:
                i = stop
                continue
            if not doc.quoted:
                if s.startswith("$(", i):
                    depth += 1
                elif s[i] == "`":
                    in_backtick = not in_backtick
                elif s[i] == ")" and depth:
                    depth -= 1
                elif s[i] == "\\":
                    i += 1
            i += 1
