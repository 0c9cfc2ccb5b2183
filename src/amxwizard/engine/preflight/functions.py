"""The files the runbook edits and the functions it names: there, and where the runbook says they are."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...runbook.models import ApproachStep, Edit, Runbook
from ...runbook.templates import render_text
from ..edits import C_LANGUAGES, edit_function, read_text
from ..fileio import expand_path, shown_path
from ..source import locate_function
from .checks import Check, Status


@dataclass(slots=True)
class _Claims:
    file: Path
    function: str
    edit: Edit  # the first edit naming it (how to find it where the name is not there)
    claims: list[tuple[str, Edit]] = field(default_factory=list)  # (step, an edit that claims lines)
    optional: bool = True  # only approach steps need it


def function_checks(runbook: Runbook, values: Mapping[str, str], repo_root: Path) -> tuple[list[Check], list[Check]]:
    """Each file the runbook edits exists; each function it names is there, at the lines it claims."""
    files: dict[Path, bool] = {}  # path -> needed by a non-approach step
    claims: dict[tuple[Path, str], _Claims] = {}
    for step, edit in runbook.edits():
        path = expand_path(render_text(edit.file, values))
        required = not isinstance(step, ApproachStep)
        files[path] = files.get(path, False) or required
        if edit.function and edit.language in C_LANGUAGES:
            entry = claims.setdefault((path, edit.function), _Claims(path, edit.function, edit))
            entry.optional = entry.optional and not required
            if edit.claimed_lines:
                entry.claims.append((step.id, edit))
    file_checks: list[Check] = []
    texts: dict[Path, str] = {}
    for path, required in files.items():
        shown = shown_path(path, repo_root)
        try:
            texts[path] = read_text(path)
        except FileNotFoundError:
            status: Status = "fail" if required else "warn"
            tail = "" if required else " (only an optional approach edits it)"
            file_checks.append(Check(f"file {shown}", status, f"missing: {path}{tail}"))
            continue
        except OSError as exc:
            file_checks.append(Check(f"file {shown}", "fail", f"cannot read {path}: {exc.strerror}"))
            continue
        lines = texts[path].count("\n") + (0 if texts[path].endswith("\n") or not texts[path] else 1)
        file_checks.append(Check(f"file {shown}", "ok", f"exists ({lines} lines)"))

    function_checks: list[Check] = []
    for (path, function), entry in claims.items():
        name = f"function {function}"
        shown = shown_path(path, repo_root)
        if path not in texts:
            function_checks.append(Check(name, "warn", f"not looked for: {shown} is missing"))
            continue
        span = locate_function(texts[path], function)
        found_by = ""
        if span is None and entry.edit.find_by is not None:
            span = edit_function(entry.edit, texts[path])
            if span is not None:
                found_by = f" (found by what it does: this checkout calls it {span.name})"
        if span is None:
            status = "warn" if entry.optional else "fail"
            tail = " (only an optional approach needs it)" if entry.optional else ""
            function_checks.append(Check(name, status, f"missing: no definition of {function} in {shown}{tail}"))
            continue
        said = "; ".join(f"{edit.claimed_lines} ({step})" for step, edit in entry.claims)
        moved = [(step, edit) for step, edit in entry.claims if not edit.claim_holds(span.start_line, span.end_line)]
        where = f"found in {shown} at lines {span.lines}{found_by}"
        if moved:
            function_checks.append(Check(name, "warn", f"moved: {where}; the runbook says {said}"))
        elif said:
            function_checks.append(Check(name, "ok", f"{where}, as the runbook says ({said})"))
        else:
            function_checks.append(Check(name, "ok", where))
    return file_checks, function_checks
