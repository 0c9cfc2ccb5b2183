"""Applying a runbook :class:`~amxwizard.runbook.models.Edit` to a file's text.

Planning is pure: :func:`plan_edit` turns (edit, text) into new text plus a note or a problem, and :func:`plan_step`
does that for every file a step touches, with a unified diff to show the person. Nothing is written until
:func:`apply_planned`, which refuses plans with problems and files that changed since they were planned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..runbook.models import Edit, Step
from ..runbook.templates import render_text
from .confine import PathPolicy, confined_root
from .fileio import UnsafePathError, atomic_write, expand_path, read_file, shown_path, unified_diff
from .ggml_tree import WEIGHTS_USAGE, read_scheduler
from .source import Directive, FunctionSpan, ScannedSource, locate_function, scan

C_LANGUAGES = frozenset({"c", "cpp", "cuda"})
ENCODING_ERRORS = "surrogateescape"  # bytes that are not UTF-8 survive a read and a write unchanged

# "// ===== NEW DIAGNOSTIC LOGGING =====" and "// ===== END DIAGNOSTIC LOGGING =====": the runbook's fences.
_MARKER_RE = re.compile(r"^[ \t]*//[ \t]*={3,}.*={3,}[ \t]*\r?\n?$")


class EditError(Exception):
    """Planned edits cannot be written; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class PlannedEdit:
    """One edit planned against one text."""

    new_text: str
    line: int | None  # 1-based line of the change in the new text (or of what was found), if there is one
    note: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """Every edit of a step to one file: the text before and after, the diff, and what was noticed."""

    path: Path
    old: str
    new: str
    diff: str
    notes: tuple[str, ...]
    problems: tuple[str, ...]
    exists: bool = True

    @property
    def changed(self) -> bool:
        return self.old != self.new


@dataclass(frozen=True, slots=True)
class PatternFinding:
    """A ``verify_present`` pattern found nowhere, or a ``verify_absent`` pattern still there."""

    path: Path
    line: int | None
    text: str
    pattern: str
    kind: Literal["missing", "remaining"]

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.path}: {self.pattern!r} is missing"
        return f"{self.path}:{self.line}: {self.pattern!r} remains: {self.text}"


def read_text(path: Path, root: Path | None = None) -> str:
    """A source file's text, byte-exact: newlines untranslated, bytes that are not UTF-8 kept.

    Never through a link: a symlink at ``path`` (or below ``root``) raises
    :class:`~amxwizard.engine.fileio.UnsafePathError` naming it and its target.
    """
    return read_file(path, root=root).decode("utf-8", ENCODING_ERRORS)


# --- one edit -------------------------------------------------------------------------------------------------


def plan_edit(edit: Edit, text: str, path: str | Path = "the file") -> PlannedEdit:
    """Plan ``edit`` against ``text``; ``path`` only names the file in notes and problems."""
    where = str(path)
    if edit.action == "manual":
        return _plan_manual(edit, text, where)
    if edit.action == "insert":
        return _plan_insert(edit, text, where)
    if edit.action == "remove_ifdef":
        return _plan_remove_ifdef(edit, text, where)
    if edit.action == "extend_condition":
        return _plan_extend_condition(edit, text, where)
    return _plan_remove_lines(edit, text, where)


def edit_function(edit: Edit, text: str, src: ScannedSource | None = None) -> FunctionSpan | None:
    """The function an edit works in: by its name, or, for a ``find_by`` edit whose name this checkout does not
    have (a fork renamed it), by what it does. ``None`` when neither finds it. This is also where an editor opens
    for the person to make the change by hand."""
    if not edit.function and edit.find_by is None:
        return None
    if edit.language not in C_LANGUAGES:
        return None
    src = src or scan(text)
    span = locate_function(text, edit.function, src) if edit.function else None
    if span is None and edit.find_by == "op_offload_decision":
        placement = read_scheduler(text, src)
        span = placement.function if placement is not None else None
    return span


def _function_span(edit: Edit, text: str, where: str, src: ScannedSource | None) -> FunctionSpan | str:
    if edit.language not in C_LANGUAGES:
        return f"cannot look for function {edit.function} in a {edit.language} file ({where})"
    span = locate_function(text, edit.function or "", src)
    if span is None:
        return f"function {edit.function} not found in {where}"
    return span


def _plan_manual(edit: Edit, text: str, where: str) -> PlannedEdit:
    span = edit_function(edit, text)
    line = span.start_line if span else None
    what = edit.where or "the change the runbook describes"
    return PlannedEdit(text, line, f"edit by hand in your editor: {what}")


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _line_end(text: str, offset: int) -> int:
    """Offset just past the newline that ends the line holding ``offset`` (or the end of the text)."""
    nl = text.find("\n", offset)
    return len(text) if nl < 0 else nl + 1


def _line_begin(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _line_number(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _plan_insert(edit: Edit, text: str, where: str) -> PlannedEdit:
    anchor = edit.anchor
    assert anchor is not None  # the model guarantees it for inserts
    newline = _newline_of(text)
    block = edit.text_to_insert.replace("\r\n", "\n")
    if not block.endswith("\n"):
        block += "\n"
    block = block.replace("\n", newline)

    core = block.strip("\r\n")
    if core.strip() and core in text:
        return PlannedEdit(text, _line_number(text, text.index(core)), "already applied")

    src = scan(text) if edit.language in C_LANGUAGES else None
    span: FunctionSpan | None = None
    if edit.function:
        found = _function_span(edit, text, where, src)
        if isinstance(found, str):
            return PlannedEdit(text, None, "", found)
        span = found
    inside = f" inside {span.name} (lines {span.lines})" if span else ""

    prefix = ""
    if anchor.at == "end_of_file":
        offset = len(text)
        if text and not text.endswith("\n"):
            prefix = newline
        place = "at the end of the file"
    elif anchor.at == "before_function":
        assert span is not None and src is not None
        offset = _attached_comment_start(src, span)
        if not block.endswith(newline * 2):
            block += newline  # keep a blank line between the new code and the function
        place = f"before {span.name} (line {span.start_line})"
    else:
        pattern = anchor.after if anchor.after is not None else anchor.before
        assert pattern is not None
        try:
            regex = re.compile(pattern, re.MULTILINE)
        except re.error as exc:
            return PlannedEdit(text, None, "", f"anchor /{pattern}/ is not a valid regular expression: {exc}")
        lo, hi = (span.body_start, span.body_end) if span else (0, len(text))
        matches = [m for m in regex.finditer(text, lo, hi) if m.end() > m.start()]
        if src is not None:
            in_code = [m for m in matches if src.in_code(_first_visible(text, m.start(), m.end()))]
            matches = in_code or matches  # an anchor may deliberately name a comment
        if not matches:
            return PlannedEdit(text, None, "", f"anchor /{pattern}/ not found{inside} in {where}")
        match = matches[-1] if anchor.last else matches[0]
        if anchor.after is not None:
            offset = _line_end(text, match.end() - 1)
            if offset == len(text) and text and not text.endswith("\n"):
                prefix = newline
            place = f"after line {_line_number(text, match.end() - 1)}{inside}"
        else:
            offset = _line_begin(text, _first_visible(text, match.start(), match.end()))
            place = f"before line {_line_number(text, offset)}{inside}"

    new_text = text[:offset] + prefix + block + text[offset:]
    first_line = _line_number(new_text, offset + len(prefix))
    count = block.count("\n")
    return PlannedEdit(new_text, first_line, f"inserted {count} line{'s' if count != 1 else ''} {place}")


def _first_visible(text: str, start: int, end: int) -> int:
    """The first non-whitespace character of ``text[start:end]`` (``start`` if there is none)."""
    m = re.compile(r"\S").search(text, start, end)
    return m.start() if m else start


def _attached_comment_start(src: ScannedSource, span: FunctionSpan) -> int:
    """Where a function begins once the comment lines directly above it are counted as its own."""
    line = span.start_line
    while line > 1:
        start = src.line_start(line - 1)
        end = src.line_start(line) - 1
        original, masked = src.text[start:end], src.masked[start:end]
        is_comment = original.strip() != "" and masked.strip() == "" and not original.lstrip().startswith("#")
        if not is_comment:
            break
        line -= 1
    return src.line_start(line)


# --- extending a condition -----------------------------------------------------------------------------------

_TOP_LEVEL_OR_RE = re.compile(r"\|\||\?")


def _depth_zero(masked: str, pattern: re.Pattern[str]) -> bool:
    """Whether ``pattern`` matches ``masked`` outside every parenthesis."""
    depth = 0
    for i, c in enumerate(masked):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and pattern.match(masked, i):
            return True
    return False


def _plan_extend_condition(edit: Edit, text: str, where: str) -> PlannedEdit:
    require = (edit.require or "").strip()
    if edit.language not in C_LANGUAGES:
        return PlannedEdit(text, None, "", f"extend_condition works on C, C++ and CUDA files, not {edit.language}")
    src = scan(text)
    if edit.find_by == "op_offload_decision":
        placement = read_scheduler(text, src)
        if placement is None:
            return PlannedEdit(
                text,
                None,
                "",
                f"no scheduler decision found in {where}: no loop over an op's sources that checks "
                f"{WEIGHTS_USAGE} (is this the file where the scheduler picks backends?)",
            )
        function = placement.function
        renamed = (
            f" (found by what it does; the runbook names {edit.function})"
            if edit.function and edit.function != function.name
            else ""
        )
        inside = f"{function.name} (lines {function.lines}){renamed}"
        decision = placement.offload
        if decision is None:
            return PlannedEdit(
                text,
                placement.weights_line,
                f"nothing to apply: {inside} runs an op with a weight where the weight is "
                f"(line {placement.weights_line}) and never offloads it",
            )
        require = re.sub(r"\bsrc\b", decision.src_name, require)
        if decision.guarded:
            return PlannedEdit(
                text,
                decision.guard_line,
                f"already applied: the op-offload condition in {inside} already requires a host buffer "
                f"(line {decision.guard_line})",
            )
        line, start, end = decision.line, decision.start, decision.end
    else:
        span = locate_function(text, edit.function or "", src)
        if span is None:
            return PlannedEdit(text, None, "", f"function {edit.function} not found in {where}")
        inside = f"{span.name} (lines {span.lines})"
        regex = re.compile(edit.condition or "", re.MULTILINE)
        found = [
            (s, e)
            for s, e in _conditions(src, span.body_start, span.body_end)
            if regex.search(" ".join(text[s:e].split()))
        ]
        if len(found) != 1:
            lines = ", ".join(str(src.line_of(s)) for s, _ in found)
            what = f"{len(found)} conditions (lines {lines})" if found else "no condition"
            return PlannedEdit(text, None, "", f"/{edit.condition}/ matches {what} in {inside} of {where}")
        start, end = found[0]
        line = src.line_of(start)
        if " ".join(require.split()) in " ".join(text[start:end].split()):
            return PlannedEdit(text, line, f"already applied: the condition at line {line} requires {require}")
    old = text[start:end]
    body = old.rstrip()
    tail = old[len(body) :]
    if _depth_zero(src.masked[start : start + len(body)], _TOP_LEVEL_OR_RE):
        body = f"({body})"
    new_condition = f"{body} && {require}{tail}"
    new_text = text[:start] + new_condition + text[end:]
    return PlannedEdit(
        new_text,
        line,
        f"the condition at line {line} in {inside} now also requires {require}: "
        f"if ({' '.join(old.split())}) becomes if ({' '.join(new_condition.split())})",
    )


def _conditions(src: ScannedSource, lo: int, hi: int) -> list[tuple[int, int]]:
    """The conditions of the ``if`` statements between ``lo`` and ``hi``: offsets inside their parentheses."""
    masked = src.masked
    out = []
    for m in re.finditer(r"\bif\s*\(", masked[:hi]):
        if m.start() < lo:
            continue
        depth = 0
        for i in range(m.end() - 1, hi):
            if masked[i] == "(":
                depth += 1
            elif masked[i] == ")":
                depth -= 1
                if depth == 0:
                    out.append((m.end(), i))
                    break
    return out


# --- removing conditionals ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Branch:
    directive: Directive
    header: list[str]  # the directive's physical lines
    body: list[_Item]


@dataclass(slots=True)
class _Conditional:
    branches: list[_Branch]
    endif: list[str]
    line: int


_Item = str | _Conditional
_REMOVED = object()  # stands where a whole conditional was dropped, so its fences can be found


def _parse_conditionals(text: str, src: ScannedSource) -> tuple[list[_Item], str | None]:
    # Split on "\n" only, as ScannedSource numbers lines: str.splitlines also breaks at form feeds and other
    # separators, which would shift every directive onto the wrong line.
    lines = re.findall(r"[^\n]*\n|[^\n]+\Z", text)
    by_line = {d.line: d for d in src.directives}
    root: list[_Item] = []
    stack: list[_Conditional] = []

    def sink() -> list[_Item]:
        return stack[-1].branches[-1].body if stack else root

    i = 0
    while i < len(lines):
        directive = by_line.get(i + 1)
        if directive is None:
            sink().append(lines[i])
            i += 1
            continue
        last = src.line_of(max(directive.end - 1, directive.start))
        physical = lines[i:last]
        i = last
        kw = directive.keyword
        if kw in ("if", "ifdef", "ifndef"):
            cond = _Conditional([_Branch(directive, physical, [])], [], directive.line)
            sink().append(cond)
            stack.append(cond)
        elif kw in ("elif", "elifdef", "elifndef", "else"):
            if not stack:
                return [], f"#{kw} at line {directive.line} has no #if"
            stack[-1].branches.append(_Branch(directive, physical, []))
        elif kw == "endif":
            if not stack:
                return [], f"#endif at line {directive.line} has no #if"
            stack.pop().endif = physical
        else:
            sink().extend(physical)
    if stack:
        return [], f"#{stack[-1].branches[0].directive.keyword} at line {stack[-1].line} is never closed by #endif"
    return root, None


def _branch_value(directive: Directive, macro: str) -> bool | str | None:
    """The branch condition with ``macro`` undefined: True, False, None (does not involve it) or "complex"."""
    kw, arg = directive.keyword, directive.argument
    if kw == "else":
        return True
    if not re.search(rf"\b{re.escape(macro)}\b", arg):
        return None
    if kw in ("ifdef", "elifdef"):
        return False if arg == macro else "complex"
    if kw in ("ifndef", "elifndef"):
        return True if arg == macro else "complex"
    compact = arg.replace(" ", "")
    if compact in (f"defined({macro})", f"defined{macro}"):
        return False
    if compact in (f"!defined({macro})", f"!defined{macro}"):
        return True
    return "complex"


def _as_directive(header: list[str], keyword: str) -> list[str]:
    """``header`` rewritten to use ``keyword`` (``#elif X`` -> ``#if X``), indentation kept."""
    first = re.sub(r"^([ \t]*#[ \t]*)[A-Za-z_]+", lambda m: m.group(1) + keyword, header[0], count=1)
    return [first, *header[1:]]


@dataclass(slots=True)
class _RemovalReport:
    removed_lines: list[int]
    complex_lines: list[int]


def _resolve(items: list[_Item], macro: str, report: _RemovalReport) -> list[object]:
    out: list[object] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
            continue
        values = [_branch_value(b.directive, macro) for b in item.branches]
        if "complex" in values:
            report.complex_lines.append(item.line)
        decides = any(
            v is False or (v is True and b.directive.keyword != "else")
            for v, b in zip(values, item.branches, strict=True)
        )
        if not decides:
            # The macro decides nothing here; keep the conditional, but look inside it.
            for branch in item.branches:
                out.extend(branch.header)
                out.extend(_resolve(branch.body, macro, report))
            out.extend(item.endif)
            continue
        report.removed_lines.append(item.line)
        kept: list[tuple[_Branch, bool | str | None]] = []
        decided: _Branch | None = None
        for branch, value in zip(item.branches, values, strict=True):
            if value is False:
                continue
            if value is True:
                decided = branch
                break
            kept.append((branch, value))
        if not kept:
            if decided is None:
                out.append(_REMOVED)
            else:
                out.extend(_resolve(decided.body, macro, report))
            continue
        for index, (branch, _) in enumerate(kept):
            keyword = branch.directive.keyword
            if index == 0 and keyword.startswith("el"):
                keyword = keyword[2:]  # elif -> if, elifdef -> ifdef
            out.extend(_as_directive(branch.header, keyword) if keyword != branch.directive.keyword else branch.header)
            out.extend(_resolve(branch.body, macro, report))
        if decided is not None:
            out.extend(_as_directive(decided.header, "else") if decided.directive.keyword != "else" else decided.header)
            out.extend(_resolve(decided.body, macro, report))
        out.extend(item.endif)
    return out


def _drop_fences(flat: list[object]) -> list[str]:
    """Remove the marker comments right around each dropped conditional, and the blank line an insert added."""
    lines = list(flat)
    i = 0
    while i < len(lines):
        if lines[i] is not _REMOVED:
            i += 1
            continue
        del lines[i]
        following = lines[i] if i < len(lines) else None
        if isinstance(following, str) and _MARKER_RE.match(following):
            del lines[i]
        preceding = lines[i - 1] if i > 0 else None
        if isinstance(preceding, str) and _MARKER_RE.match(preceding):
            del lines[i - 1]
            i -= 1
        before = lines[i - 1] if i > 0 else None
        after = lines[i] if i < len(lines) else None
        if isinstance(before, str) and isinstance(after, str) and not before.strip() and not after.strip():
            del lines[i - 1]
            i -= 1
    return [line for line in lines if isinstance(line, str)]


def _plan_remove_ifdef(edit: Edit, text: str, where: str) -> PlannedEdit:
    macro = edit.macro or ""
    if edit.language not in C_LANGUAGES:
        return PlannedEdit(
            text, None, "", f"remove_ifdef works on C, C++ and CUDA files, not {edit.language} ({where})"
        )
    src = scan(text)
    items, problem = _parse_conditionals(text, src)
    if problem:
        return PlannedEdit(text, None, "", f"{where}: {problem}")
    report = _RemovalReport([], [])
    new_text = "".join(_drop_fences(_resolve(items, macro, report)))
    complex_note = ""
    if report.complex_lines:
        at = ", ".join(str(n) for n in report.complex_lines)
        complex_note = f"; left conditions that combine {macro} with other things at line(s) {at} for you to decide"
    if not report.removed_lines:
        return PlannedEdit(text, None, f"already applied: no #ifdef {macro} block left{complex_note}")
    at = ", ".join(str(n) for n in report.removed_lines)
    n = len(report.removed_lines)
    return PlannedEdit(
        new_text,
        report.removed_lines[0],
        f"removed {n} {macro} block{'s' if n != 1 else ''} (line{'s' if n != 1 else ''} {at}){complex_note}",
    )


# --- removing lines -------------------------------------------------------------------------------------------


def _plan_remove_lines(edit: Edit, text: str, where: str) -> PlannedEdit:
    wanted = {line.strip() for line in edit.lines}
    kept: list[str] = []
    removed: list[int] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if line.strip() in wanted:
            removed.append(number)
        else:
            kept.append(line)
    if not removed:
        return PlannedEdit(text, None, "already applied: none of the lines is there")
    shown = ", ".join(str(n) for n in removed)
    return PlannedEdit(
        "".join(kept),
        removed[0],
        f"removed {len(removed)} line{'s' if len(removed) != 1 else ''} (line"
        f"{'s' if len(removed) != 1 else ''} {shown})",
    )


# --- a whole step ---------------------------------------------------------------------------------------------


def step_files(step: Step, values: Mapping[str, str], workdir: str | Path | None = None) -> list[Path]:
    """The files a step edits, rendered, each once, in order."""
    paths: list[Path] = []
    for edit in getattr(step, "edits", []):
        path = _render_path(edit.file, values, workdir)
        if path not in paths:
            paths.append(path)
    return paths


def _render_path(template: str, values: Mapping[str, str], workdir: str | Path | None) -> Path:
    path = expand_path(render_text(template, values))
    if not path.is_absolute() and workdir:
        path = Path(workdir) / path
    return path


def plan_step(
    step: Step, values: Mapping[str, str], *, workdir: str | Path | None = None, texts: Mapping[Path, str] | None = None
) -> list[PlannedFile]:
    """Plan every edit of a code_change, cmake_edit or approach step, one :class:`PlannedFile` per file.

    Edits to the same file apply one after another, each to the text the previous one left. ``texts`` gives
    file contents to plan against instead of reading them (keyed by rendered path).
    """
    edits: list[tuple[Path, Edit]] = [(_render_path(e.file, values, workdir), e) for e in getattr(step, "edits", [])]
    planned: list[PlannedFile] = []
    for path in step_files(step, values, workdir):
        display = shown_path(path, workdir)
        exists = True
        if texts is not None and path in texts:
            old = texts[path]
        else:
            try:
                old = read_text(path)
            except FileNotFoundError:
                planned.append(PlannedFile(path, "", "", "", (), (f"{path}: file not found",), exists=False))
                continue
            except OSError as exc:
                planned.append(
                    PlannedFile(path, "", "", "", (), (f"{path}: cannot read: {exc.strerror}",), exists=False)
                )
                continue
        text = old
        notes: list[str] = []
        problems: list[str] = []
        for edit_path, edit in edits:
            if edit_path != path:
                continue
            result = plan_edit(edit, text, display)
            if result.problem:
                problems.append(result.problem)
                continue
            text = result.new_text
            label = f"{edit.where}: " if edit.where else ""
            notes.append(f"{display}: {label}{result.note}")
        diff = unified_diff(old, text, f"a/{display}", f"b/{display}")
        planned.append(PlannedFile(path, old, text, diff, tuple(notes), tuple(problems), exists))
    return planned


def apply_planned(planned: Sequence[PlannedFile], *, policy: PathPolicy | None = None) -> list[Path]:
    """Write every changed file atomically; returns the paths written.

    Nothing is written when any plan has a problem, when a file no longer holds the text it was planned against
    (someone edited it in between: plan again), or when a file is not where it may be written: with ``policy``
    each must lie in the repository (or a declared root) with no link below it; with or without, a symlink at
    the file is refused, naming its target.
    """
    for plan in planned:
        if plan.problems:
            raise EditError(plan.problems[0])
    roots: dict[Path, Path | None] = {}
    for plan in planned:
        if not plan.changed:
            continue
        try:
            roots[plan.path] = root = confined_root(policy, plan.path, "a file to edit")
            current = read_text(plan.path, root)
        except UnsafePathError as exc:
            raise EditError(f"not editing {exc}") from None
        except OSError as exc:
            raise EditError(f"{plan.path}: cannot read: {exc.strerror}") from None
        if current != plan.old:
            raise EditError(f"{plan.path} changed since the edit was planned; plan it again")
    written: list[Path] = []
    for plan in planned:
        if plan.changed:
            atomic_write(plan.path, plan.new.encode("utf-8", ENCODING_ERRORS), root=roots[plan.path])
            written.append(plan.path)
    return written


# --- verifying ------------------------------------------------------------------------------------------------


def verify_patterns(
    step: Step, values: Mapping[str, str], *, workdir: str | Path | None = None, texts: Mapping[Path, str] | None = None
) -> list[PatternFinding]:
    """Check a step's ``verify_present`` / ``verify_absent`` patterns (plain text) across the files it edits.

    A present-pattern found in none of the files is ``missing`` (one finding per file); every line that still
    holds an absent-pattern is ``remaining``, with its line number.
    """
    files = step_files(step, values, workdir)
    contents: dict[Path, str | None] = {}
    for path in files:
        if texts is not None and path in texts:
            contents[path] = texts[path]
            continue
        try:
            contents[path] = read_text(path)
        except OSError:
            contents[path] = None
    findings: list[PatternFinding] = []
    for pattern in getattr(step, "verify_present", []):
        if not any(text is not None and pattern in text for text in contents.values()):
            findings.extend(PatternFinding(path, None, "", pattern, "missing") for path in files)
    for pattern in getattr(step, "verify_absent", []):
        for path, text in contents.items():
            if text is None:
                continue
            for number, line in _lines_with(text, pattern):
                findings.append(PatternFinding(path, number, line.strip(), pattern, "remaining"))
    return findings


def _lines_with(text: str, pattern: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern in line:
            yield number, line
