"""Reading C, C++ and CUDA source the way a compiler would, enough to find a function's definition.

The text is first *masked*: comments and the insides of string and character literals become spaces (newlines are
kept, so offsets and line numbers stay valid), and preprocessor lines are blanked. Searching and brace matching then
happen on the masked text, where a ``{`` inside a string or a function name inside a comment can no longer mislead.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cached_property

# One alternation, scanned left to right: whatever starts first wins, so a "//" inside a string stays string and a
# quote inside a comment stays comment.
_LEXEME_RE = re.compile(
    r"""
      (?P<directive>^[ \t]*\#(?:\\\r?\n|[^\n])*)
    | (?P<line_comment>//(?:\\\r?\n|[^\n])*)
    | (?P<block_comment>/\*[\s\S]*?(?:\*/|\Z))
    | (?P<raw_string>(?<![A-Za-z0-9_])(?:u8|u|U|L)?R"(?P<delim>[^()\\\s"]{0,16})\([\s\S]*?(?:\)(?P=delim)"|\Z))
    | (?P<string>(?<![A-Za-z0-9_])(?:u8|u|U|L)?"(?:\\[\s\S]|[^"\\\n])*"?)
    | (?P<char>(?<![A-Za-z0-9_])(?:u8|u|U|L)?'(?:\\[\s\S]|[^'\\\n])*'?)
    """,
    re.MULTILINE | re.VERBOSE,
)
_DIRECTIVE_RE = re.compile(r"^[ \t]*#[ \t]*([A-Za-z_]*)[ \t]*(.*)", re.DOTALL)
_NOT_NEWLINE_RE = re.compile(r"[^\n]")

_OPENERS = {"{": "}", "(": ")", "[": "]"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}


@dataclass(frozen=True, slots=True)
class Directive:
    """One preprocessor line (continuations included)."""

    line: int  # 1-based
    start: int
    end: int  # offset of the newline that ends it (or the end of the text)
    keyword: str  # "ifdef", "endif", "define", ...
    argument: str  # the rest of the line, comments and continuations removed, whitespace collapsed


@dataclass(frozen=True, slots=True)
class FunctionSpan:
    """Where a function's definition is: 1-based lines (signature to closing brace) and character offsets."""

    name: str
    start_line: int
    end_line: int
    start: int  # offset of the first character of the declaration (return type, specifiers, ...)
    body_start: int  # offset of the opening "{"
    body_end: int  # offset just past the closing "}"
    signature: str  # the declaration up to the "{", on one line

    @property
    def lines(self) -> str:
        """``"412-433"``, the way people write line ranges."""
        return f"{self.start_line}-{self.end_line}"


@dataclass(frozen=True, slots=True)
class BalanceProblem:
    """The first bracket that does not pair up, reported the way a compiler would."""

    line: int
    column: int
    message: str


class ScannedSource:
    """A source text with its masked twin, line table and preprocessor lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._line_starts = [0, *(m.end() for m in re.finditer(r"\n", text))]
        pieces: list[str] = []
        directives: list[Directive] = []
        pos = 0
        for m in _LEXEME_RE.finditer(text):
            kind = m.lastgroup
            pieces.append(text[pos : m.start()])
            lexeme = m.group()
            if m.group("directive") is not None:
                directives.append(self._directive(m.start(), m.end(), lexeme))
                pieces.append(_NOT_NEWLINE_RE.sub(" ", lexeme))
            elif kind in ("line_comment", "block_comment"):
                pieces.append(_NOT_NEWLINE_RE.sub(" ", lexeme))
            else:
                pieces.append(_mask_literal(lexeme))
            pos = m.end()
        pieces.append(text[pos:])
        self.masked = "".join(pieces)
        self.directives = directives

    def _directive(self, start: int, end: int, lexeme: str) -> Directive:
        joined = re.sub(r"\\\r?\n", " ", lexeme)
        joined = re.sub(r"/\*.*?\*/", " ", joined)
        joined = re.sub(r"//.*", "", joined)
        m = _DIRECTIVE_RE.match(joined)
        keyword, argument = (m.group(1), " ".join(m.group(2).split())) if m else ("", "")
        return Directive(self.line_of(start), start, end, keyword, argument)

    def line_of(self, offset: int) -> int:
        """1-based line number of a character offset."""
        return bisect.bisect_right(self._line_starts, offset)

    def column_of(self, offset: int) -> int:
        """1-based column of a character offset."""
        return offset - self._line_starts[self.line_of(offset) - 1] + 1

    def line_start(self, line: int) -> int:
        """Offset of the first character of a 1-based line."""
        return self._line_starts[line - 1]

    def in_code(self, offset: int) -> bool:
        """True when the character at ``offset`` is code (not in a comment, literal or preprocessor line)."""
        return offset < len(self.text) and (self.masked[offset] == self.text[offset] or self.text[offset] in "\"'")

    @cached_property
    def brace_masked(self) -> str:
        """The masked text with ``#if 0`` bodies and ``#else``/``#elif`` branches blanked too.

        Keeping only the first branch of each conditional is what lets braces pair up when both branches open a
        block (``#ifdef X`` ``if (a) {`` ``#else`` ``if (b) {`` ``#endif``).
        """
        return self._blank_conditionals(alternatives=True)

    @cached_property
    def live_masked(self) -> str:
        """The masked text with only ``#if 0`` bodies blanked: every branch that could ever compile is kept."""
        return self._blank_conditionals(alternatives=False)

    def _blank_conditionals(self, alternatives: bool) -> str:
        chars = list(self.masked)
        # Per open conditional: where the part being blanked started (None: not blanking), and whether a branch
        # has been kept already.
        stack: list[list[int | bool | None]] = []
        for directive in self.directives:
            kw = directive.keyword
            if kw in ("if", "ifdef", "ifndef"):
                dead = kw == "if" and directive.argument in ("0", "(0)")
                stack.append([directive.end if dead else None, not dead])
            elif kw in ("elif", "else", "elifdef", "elifndef") and stack:
                hiding_from, kept = stack[-1]
                if isinstance(hiding_from, int):
                    self._blank(chars, hiding_from, directive.start)
                    stack[-1][0] = None
                    if alternatives and kept:
                        stack[-1][0] = directive.end
                    stack[-1][1] = True
                elif alternatives:
                    stack[-1][0] = directive.end
            elif kw == "endif" and stack:
                hiding_from, _ = stack.pop()
                if isinstance(hiding_from, int):
                    self._blank(chars, hiding_from, directive.start)
        return "".join(chars)

    @staticmethod
    def _blank(chars: list[str], start: int, end: int) -> None:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "

    @cached_property
    def _brace_pairs(self) -> dict[int, int]:
        return _pair_braces(self.brace_masked)

    @cached_property
    def _live_brace_pairs(self) -> dict[int, int]:
        return _pair_braces(self.live_masked)


def _mask_literal(lexeme: str) -> str:
    """Keep a literal's quotes and prefix, blank its contents (newlines kept)."""
    first = min(i for i in (lexeme.find('"'), lexeme.find("'")) if i >= 0)
    quote = lexeme[first]
    last = lexeme.rfind(quote)
    if last <= first:
        last = len(lexeme)
    inner = _NOT_NEWLINE_RE.sub(" ", lexeme[first + 1 : last])
    return lexeme[: first + 1] + inner + lexeme[last:]


def _pair_braces(masked: str) -> dict[int, int]:
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for m in re.finditer(r"[{}]", masked):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


def scan(text: str) -> ScannedSource:
    """Mask ``text`` and index it (see :class:`ScannedSource`)."""
    return ScannedSource(text)


# --- finding definitions --------------------------------------------------------------------------------------

_KEYWORDS = frozenset(
    {
        "if",
        "for",
        "while",
        "switch",
        "return",
        "sizeof",
        "catch",
        "do",
        "else",
        "case",
        "new",
        "delete",
        "throw",
        "decltype",
        "alignof",
        "static_assert",
        "defined",
    }
)
_TRAILER_RE = re.compile(
    r"""\s*(?:
          const\b | volatile\b | override\b | final\b | mutable\b
        | noexcept\b(?:\s*\([^()]*\))?
        | throw\s*\([^()]*\)
        | &&?
        | ->\s*[^{;=()]+?(?=\s*\{)
        | __attribute__\s*\(\(.*?\)\)
        | __declspec\s*\([^()]*\)
        | [A-Z_][A-Z0-9_]*\b(?:\s*\([^()]*\))?
        | :(?!:)[^;{}]*?(?=\{)
    )""",
    re.VERBOSE | re.DOTALL,
)
_SCOPE_OPENER_RE = re.compile(
    r"""(?:\bextern\s*"\s*[^"]*"\s*|\bnamespace\b[\w\s:]*|\b(?:class|struct|union)\b[^;{}]*|\binline\s+namespace\b[\w\s]*)$"""
)


def _matching_paren(masked: str, open_at: int) -> int | None:
    depth = 0
    for i in range(open_at, len(masked)):
        c = masked[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        elif c in "{};":
            # A brace or a semicolon inside the parentheses means they were not a parameter list.
            return None
    return None


def _declaration_start(src: ScannedSource, name_at: int) -> int:
    """The offset where the declaration that names the function at ``name_at`` begins."""
    masked = src.masked
    i = name_at - 1
    while i >= 0:
        c = masked[i]
        if c in ";{}":
            break
        if c == ":" and not (i > 0 and masked[i - 1] == ":") and not (i + 1 < len(masked) and masked[i + 1] == ":"):
            break  # "public:" and friends
        i -= 1
    j = i + 1
    while j < name_at and masked[j].isspace():
        j += 1
    return j


def _enclosing_scopes_ok(src: ScannedSource, pairs: dict[int, int], name_at: int) -> bool:
    """A definition stands at file scope, or inside ``extern "C" {}``, a namespace, or a class body."""
    masked = src.masked
    for opener, closer in pairs.items():
        if opener < name_at < closer:
            before = masked[max(0, opener - 200) : opener].rstrip()
            head = re.split(r"[;{}]", before)[-1].strip()
            if not _SCOPE_OPENER_RE.search(head):
                return False
    return True


def locate_all(text: str, name: str, scanned: ScannedSource | None = None) -> list[FunctionSpan]:
    """Every definition of function ``name`` in ``text`` (C, C++ or CUDA), in file order.

    Declarations (``...);``), calls, mentions in comments or strings and macros are not definitions.
    """
    src = scanned or scan(text)
    spans: list[FunctionSpan] = []
    seen: set[int] = set()
    name_re = re.compile(r"(?<![\w.])(?<!->)((?:\w+\s*::\s*)*" + re.escape(name) + r")\s*(?:<[^;{}()]*>)?\s*\(")
    for masked, pairs in ((src.brace_masked, src._brace_pairs), (src.live_masked, src._live_brace_pairs)):
        for m in name_re.finditer(masked):
            name_at = m.start(1)
            if name_at in seen:
                continue
            prev = masked[max(0, name_at - 200) : name_at].rstrip()  # bounded: this runs for every call site too
            prev_word = re.search(r"(\w+)$", prev)
            if prev_word and prev_word.group(1) in _KEYWORDS:
                continue
            if prev.endswith(("=", ",", "(", "?", "!", "|", "+", "-", "/", "%")):
                continue  # an operand in an expression
            close = _matching_paren(masked, m.end() - 1)
            if close is None:
                continue
            pos = close + 1
            while True:
                t = _TRAILER_RE.match(masked, pos)
                if not t or t.end() == pos:
                    break
                pos = t.end()
            while pos < len(masked) and masked[pos].isspace():
                pos += 1
            if pos >= len(masked) or masked[pos] != "{" or pos not in pairs:
                continue
            if not _enclosing_scopes_ok(src, pairs, name_at):
                continue
            seen.add(name_at)
            start = _declaration_start(src, name_at)
            body_end = pairs[pos] + 1
            signature = " ".join(text[start:pos].split())
            spans.append(
                FunctionSpan(name, src.line_of(start), src.line_of(body_end - 1), start, pos, body_end, signature)
            )
        if spans:
            break
    spans.sort(key=lambda s: s.start)
    return spans


def locate_function(text: str, name: str, scanned: ScannedSource | None = None) -> FunctionSpan | None:
    """The first definition of function ``name`` in ``text``, or ``None`` when there is none."""
    spans = locate_all(text, name, scanned)
    return spans[0] if spans else None


_CALLED_NAME_RE = re.compile(r"((?:\w+\s*::\s*)*(?<![\w.])[A-Za-z_]\w*)\s*(?:<[^;{}()]*>)?\s*\(")


def enclosing_function(text: str, offset: int, scanned: ScannedSource | None = None) -> FunctionSpan | None:
    """The function definition whose body holds ``offset`` (the outermost one: a lambda is not a function here),
    or ``None`` when ``offset`` is outside every function body. This is how a function is found by what it does
    (a statement in it) rather than by its name, which forks rename."""
    src = scanned or scan(text)
    masked = src.brace_masked
    pairs = src._brace_pairs
    for opener in sorted(o for o, c in pairs.items() if o < offset < c):
        header_start = max(masked.rfind(";", 0, opener), masked.rfind("{", 0, opener), masked.rfind("}", 0, opener))
        header = masked[header_start + 1 : opener]
        for m in _CALLED_NAME_RE.finditer(header):
            name = re.sub(r"\s+", "", m.group(1)).rpartition("::")[2]
            if name in _KEYWORDS:
                continue
            for span in locate_all(text, name, src):
                if span.body_start == opener:
                    return span
    return None


# --- bracket balance ------------------------------------------------------------------------------------------


def check_balance(text: str, scanned: ScannedSource | None = None) -> BalanceProblem | None:
    """The first unpaired ``{}``, ``()`` or ``[]`` in code, as a compiler would complain about it; ``None`` if all pair.

    Only the first branch of each ``#if`` is read, as :attr:`ScannedSource.brace_masked` explains.
    """
    src = scanned or scan(text)
    masked = src.brace_masked
    stack: list[tuple[str, int]] = []
    for m in re.finditer(r"[{}()\[\]]", masked):
        c, at = m.group(), m.start()
        if c in _OPENERS:
            stack.append((c, at))
            continue
        if not stack:
            token = c
            what = "declaration" if c == "}" else "unqualified-id"
            return BalanceProblem(src.line_of(at), src.column_of(at), f"expected {what} before '{token}' token")
        opener, opened_at = stack.pop()
        if _OPENERS[opener] != c:
            return BalanceProblem(
                src.line_of(at),
                src.column_of(at),
                f"expected '{_OPENERS[opener]}' before '{c}' token (to match '{opener}' at line "
                f"{src.line_of(opened_at)})",
            )
    if stack:
        opener, opened_at = stack[-1]
        end = len(text.rstrip())  # a compiler points just past the last thing it read
        return BalanceProblem(
            src.line_of(end),
            src.column_of(end),
            f"expected '{_OPENERS[opener]}' at end of input (to match '{opener}' at line {src.line_of(opened_at)})",
        )
    return None
