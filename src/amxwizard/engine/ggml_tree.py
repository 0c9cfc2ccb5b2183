"""What a ggml source tree says about the runbook's crash, read from the code itself.

Two facts decide whether a checkout can crash the way the runbook describes (weights copied out of an AMX buffer
to the GPU during a large prompt batch):

- **the scheduler's op-offload decision**: where the scheduler picks a backend for an op whose source is a weight,
  it may hand the op to a higher-priority backend (the GPU) that "wants" it (``offload_op``), which copies the
  weight there. Mainline llama.cpp only does so when the weight sits in a host buffer
  (``ggml_backend_buffer_is_host(src->buffer)``); ik_llama.cpp's ``ggml_backend_sched_backend_id_from_cur`` has no
  such guard. The function is found by what it does — a loop over the op's sources that checks
  ``GGML_BACKEND_BUFFER_USAGE_WEIGHTS`` and calls ``offload_op`` — because forks rename functions;
- **an AMX buffer type**: a buffer the GPU cannot read back. Without one, the guard makes no difference.

Everything here is pure text analysis over :mod:`amxwizard.engine.source`'s masked text (comments and strings
cannot mislead it); nothing is compiled or run.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .source import FunctionSpan, ScannedSource, enclosing_function, locate_all, scan

WEIGHTS_USAGE = "GGML_BACKEND_BUFFER_USAGE_WEIGHTS"
HOST_GUARD = "ggml_backend_buffer_is_host(src->buffer)"
C_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".h", ".hpp")

_OFFLOAD_CALL_RE = re.compile(r"\b\w*offload_op\s*\(")
_SUPPORTS_CALL_RE = re.compile(r"\b\w*supports_op\s*\(")
_FOR_RE = re.compile(r"\bfor\s*\(")
_IF_RE = re.compile(r"\bif\s*\(")
_SRC_VAR_RE = re.compile(
    r"(?:const\s+)?(?:struct\s+)?ggml_tensor\s*\*\s*(?:const\s+)?(\w+)\s*=\s*[\w>.-]+\s*->\s*src\s*\["
)
_AMX_BUFT_RE = re.compile(r"\b(\w*amx\w*_(?:buffer_type|buft)\w*)\s*\(", re.IGNORECASE)
_AMX_NAME_RE = re.compile(r"\breturn\s+\"AMX\"\s*;")
_AMX_QUICK_RE = re.compile(r"amx\w*_(?:buffer_type|buft)|\"AMX\"", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One line of a source file, as evidence: ``path:line: text``."""

    path: Path
    line: int
    text: str
    name: str = ""  # the function defined there, if that is what the line is

    def where(self, root: Path | None = None) -> str:
        """``path:line``, the path relative to ``root`` where it is inside it."""
        path = self.path
        if root is not None:
            with contextlib.suppress(ValueError):
                path = self.path.relative_to(root)
        return f"{path}:{self.line}"

    def shown(self, root: Path | None = None) -> str:
        return f"{self.where(root)}: {self.text.strip()}"


@dataclass(frozen=True, slots=True)
class OffloadCondition:
    """The ``if`` that lets a higher-priority backend take an op with a weight, and what it requires."""

    line: int  # the line of the "if ("
    text: str  # the condition, on one line
    start: int  # offsets of the condition inside its parentheses, in the file's text
    end: int
    call_line: int  # the offload_op (or supports_op) call it guards
    guard_line: int | None  # the line whose condition requires a host buffer for the weight; None: no guard
    src_name: str  # the loop variable that holds the op's source ("src")

    @property
    def guarded(self) -> bool:
        return self.guard_line is not None


@dataclass(frozen=True, slots=True)
class WeightPlacement:
    """Where the scheduler picks a backend for an op whose source is a weight."""

    function: FunctionSpan
    loop_line: int  # the loop over the op's sources
    weights_line: int  # the check for GGML_BACKEND_BUFFER_USAGE_WEIGHTS
    offload: OffloadCondition | None  # None: ops with weights always run where their weights are

    def evidence(self, path: Path, text: str) -> list[SourceLine]:
        """The lines that show the decision, in file order."""
        lines = text.splitlines()
        numbers = [self.function.start_line, self.loop_line, self.weights_line]
        if self.offload is not None:
            numbers += [self.offload.line, self.offload.call_line]
            if self.offload.guard_line is not None:
                numbers.append(self.offload.guard_line)
        return [SourceLine(path, n, lines[n - 1]) for n in sorted(set(numbers)) if 0 < n <= len(lines)]


def _matching(masked: str, open_at: int, opener: str = "(", closer: str = ")") -> int | None:
    depth = 0
    for i in range(open_at, len(masked)):
        c = masked[i]
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return i
    return None


@dataclass(frozen=True, slots=True)
class _If:
    start: int  # offset of "if"
    cond_open: int  # offset of "("
    cond_close: int  # offset of ")"
    body_end: int  # offset just past the statement it guards


def _statement_end(masked: str, pairs: dict[int, int], at: int) -> int:
    """Just past the statement starting at ``at``: a braced block, or up to its ``;``."""
    while at < len(masked) and masked[at].isspace():
        at += 1
    if at < len(masked) and masked[at] == "{" and at in pairs:
        return pairs[at] + 1
    semicolon = masked.find(";", at)
    return len(masked) if semicolon < 0 else semicolon + 1


def _ifs(src: ScannedSource, lo: int, hi: int) -> list[_If]:
    masked = src.brace_masked
    pairs = src._brace_pairs
    found = []
    for m in _IF_RE.finditer(masked, lo, hi):
        close = _matching(masked, m.end() - 1)
        if close is None or close >= hi:
            continue
        found.append(_If(m.start(), m.end() - 1, close, _statement_end(masked, pairs, close + 1)))
    return found


def _guard_re(src_name: str) -> re.Pattern[str]:
    """A condition that requires the weight's buffer to be a host buffer (not negated)."""
    name = re.escape(src_name)
    return re.compile(
        r"(?<![!\w])\s*\w*is_host\s*\(\s*(?:"
        rf"{name}\s*->\s*buffer\s*\)"
        rf"|{name}\s*->\s*buffer\s*->\s*buft\s*\)"
        rf"|\w*get_type\s*\(\s*{name}\s*->\s*buffer\s*\)\s*\))"
    )


def read_scheduler(text: str, scanned: ScannedSource | None = None) -> WeightPlacement | None:
    """Find the scheduler's choice of backend for ops with weights in one file's text, or ``None``.

    The function is the one holding a loop over an op's sources (``->src[``, ``GGML_MAX_SRC``) that checks
    ``GGML_BACKEND_BUFFER_USAGE_WEIGHTS``; the offload decision is the ``if`` inside that loop guarding the
    ``offload_op`` call (the innermost one whose own condition does not call it).
    """
    if WEIGHTS_USAGE not in text:
        return None
    src = scanned or scan(text)
    masked = src.brace_masked
    placements: list[WeightPlacement] = []
    for m in re.finditer(rf"\b{WEIGHTS_USAGE}\b", masked):
        function = enclosing_function(text, m.start(), src)
        if function is None:
            continue
        loop = _loop_around(src, function, m.start())
        if loop is None:
            continue
        loop_start, body_lo, body_hi = loop
        body = masked[body_lo:body_hi]
        var = _SRC_VAR_RE.search(body)
        src_name = var.group(1) if var else "src"
        offload = _offload_condition(src, body_lo, body_hi, src_name)
        placements.append(WeightPlacement(function, src.line_of(loop_start), src.line_of(m.start()), offload))
    if not placements:
        return None
    with_offload = [p for p in placements if p.offload is not None]
    return (with_offload or placements)[0]


def _loop_around(src: ScannedSource, function: FunctionSpan, at: int) -> tuple[int, int, int] | None:
    """The innermost ``for`` loop over an op's sources that holds ``at``: (its start, body start, body end)."""
    masked = src.brace_masked
    pairs = src._brace_pairs
    best: tuple[int, int, int] | None = None
    for m in _FOR_RE.finditer(masked, function.body_start, function.body_end):
        close = _matching(masked, m.end() - 1)
        if close is None:
            continue
        body_end = _statement_end(masked, pairs, close + 1)
        if not (close < at < body_end):
            continue
        header = masked[m.end() : close]
        if "GGML_MAX_SRC" not in header and not re.search(r"->\s*src\s*\[", masked[close:body_end]):
            continue
        if best is None or m.start() > best[0]:
            best = (m.start(), close + 1, body_end)
    return best


def _offload_condition(src: ScannedSource, lo: int, hi: int, src_name: str) -> OffloadCondition | None:
    masked = src.brace_masked
    call = _OFFLOAD_CALL_RE.search(masked, lo, hi) or _SUPPORTS_CALL_RE.search(masked, lo, hi)
    if call is None:
        return None
    around = [c for c in _ifs(src, lo, hi) if c.cond_open < call.start() < c.body_end]
    if not around:
        return None
    around.sort(key=lambda c: c.start)  # outermost first

    def calls(c: _If) -> bool:
        condition = masked[c.cond_open : c.cond_close]
        return bool(_OFFLOAD_CALL_RE.search(condition) or _SUPPORTS_CALL_RE.search(condition))

    deciding = [c for c in around if not calls(c)]
    decision = deciding[-1] if deciding else around[-1]
    guard = _guard_re(src_name)
    guard_line = next(
        (src.line_of(c.cond_open) for c in around if guard.search(masked, c.cond_open + 1, c.cond_close)), None
    )
    text = " ".join(src.text[decision.cond_open + 1 : decision.cond_close].split())
    return OffloadCondition(
        src.line_of(decision.start),
        text,
        decision.cond_open + 1,
        decision.cond_close,
        src.line_of(call.start()),
        guard_line,
        src_name,
    )


# --- a whole tree ------------------------------------------------------------------------------------------


def source_files(root: Path) -> Iterator[Path]:
    """C and C++ files under ``root`` (its ``ggml`` folder when it has one), build outputs and .git left out."""
    base = root / "ggml" if (root / "ggml").is_dir() else root
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "build")))
        for name in sorted(files):
            if name.endswith(C_SUFFIXES):
                yield Path(folder) / name


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


@dataclass(frozen=True, slots=True)
class SchedulerFound:
    path: Path
    text: str
    placement: WeightPlacement


def find_scheduler(root: Path) -> SchedulerFound | None:
    """The file and function where the scheduler places ops with weights, anywhere in the tree."""
    fallback: SchedulerFound | None = None
    for path in source_files(root):
        if path.suffix in (".h", ".hpp"):
            continue
        text = _read(path)
        if WEIGHTS_USAGE not in text or ("offload_op" not in text and "supports_op" not in text):
            continue
        placement = read_scheduler(text)
        if placement is None:
            continue
        found = SchedulerFound(path, text, placement)
        if placement.offload is not None:
            return found
        fallback = fallback or found
    return fallback


def find_amx_buffer_types(root: Path) -> list[SourceLine]:
    """Definitions of an AMX buffer type in the tree: a function named like ``..._amx_buffer_type`` or a buffer
    (type) whose name is ``"AMX"``. Empty when there is none (upstream ik_llama.cpp)."""
    found: list[SourceLine] = []
    primary: list[SourceLine] = []  # the buffer type itself (..._buffer_type()), before its parts
    for path in source_files(root):
        text = _read(path)
        if not _AMX_QUICK_RE.search(text):
            continue
        src = scan(text)
        lines = text.splitlines()
        for name in dict.fromkeys(m.group(1) for m in _AMX_BUFT_RE.finditer(src.masked)):
            for span in locate_all(text, name, src):
                line = SourceLine(path, span.start_line, lines[span.start_line - 1], name)
                (primary if name.lower().endswith(("buffer_type", "buft")) else found).append(line)
        for m in _AMX_NAME_RE.finditer(text):
            if src.in_code(m.start()):
                number = src.line_of(m.start())
                found.append(SourceLine(path, number, lines[number - 1]))
    unique = {(s.path, s.line): s for s in [*primary, *found]}
    return sorted(unique.values(), key=lambda s: (s not in primary, str(s.path), s.line))
