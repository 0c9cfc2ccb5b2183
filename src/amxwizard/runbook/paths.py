"""Where a path the runbook names may lead: the root it is confined to, read from the shape of its template.

Every path the wizard edits, backs up, documents, restores or writes for a form lies below one root:

- the target repository: a template that starts with the repository variable (``{{repo}}/ggml/src/ggml.c``), or
  a relative path (read from the runbook's ``workdir``);
- the session folder: ``{{session_dir}}/...``;
- the backup folder: ``$BACKUP_DIR/...`` (what a backup step exports);
- a root that a path variable declares with ``root:``: ``{{backup_location_file}}`` (``root: /tmp``), or an
  absolute path written inside such a root.

An absolute path outside every declared root, or a ``..`` that climbs out of its root, is a problem ``validate``
reports before anything runs. Values are known only later: the engine renders the template and checks the result
again (:mod:`amxwizard.engine.confine`), so ``repo=/`` or a ``..`` inside a value is refused then.

Pure: no I/O, no engine imports.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from .models import BackupStep, DocsStep, FormStep, Runbook
from .templates import PLACEHOLDER_RE

RootKind = Literal["repo", "session", "backup", "declared"]
SESSION_DIR = "session_dir"
_SHELL_VAR_AT_START_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_MAX_DEFAULT_DEPTH = 16  # defaults referring to defaults; cycles are reported elsewhere


@dataclass(frozen=True, slots=True)
class PathRoot:
    """The folder a path is confined to: ``kind`` and, for ``backup`` and ``declared``, the export or variable."""

    kind: RootKind
    name: str = ""

    def describe(self, runbook: Runbook) -> str:
        if self.kind == "repo":
            return "the repository"
        if self.kind == "session":
            return "the session folder"
        if self.kind == "backup":
            return f"the backup folder (${self.name})"
        declared = runbook.variables[self.name].root
        return f"{declared} (the root variable {self.name!r} declares)"


@dataclass(frozen=True, slots=True)
class PathShape:
    """What a path template's shape says: its root, or the problem with it (and where in the template)."""

    root: PathRoot | None
    problem: str | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class ConfinedField:
    """A path template the wizard reads or writes, where it sits in the runbook, and what it is for."""

    loc: tuple[str | int, ...]
    template: str
    what: str


def repo_variable(runbook: Runbook) -> str | None:
    """The variable that names the target repository (type ``repo``), if the runbook has one."""
    return next((name for name, var in runbook.variables.items() if var.type == "repo"), None)


def backup_exports(runbook: Runbook) -> frozenset[str]:
    """Shell variables a backup step sets to its backup folder (``BACKUP_DIR``)."""
    return frozenset(step.export for _, step in runbook.iter_steps() if isinstance(step, BackupStep))


def _declared_literal_roots(runbook: Runbook) -> list[tuple[str, str]]:
    """(variable, root) for every declared root written without placeholders, longest root first."""
    roots = [(name, var.root) for name, var in runbook.variables.items() if var.root and "{{" not in var.root]
    return sorted(roots, key=lambda item: -len(item[1]))


def _below(path: str, root: str) -> str | None:
    """The part of ``path`` below ``root`` (both normalised as text), or ``None`` if it is not below it."""
    p, r = posixpath.normpath(path), posixpath.normpath(root)
    if p == r:
        return ""
    prefix = r if r.endswith("/") else r + "/"
    return p[len(prefix) :] if p.startswith(prefix) else None


def _depth(rest: str) -> int:
    return sum(1 for part in rest.split("/") if part not in ("", "."))


def _climb(rest: str, depth: int, offset: int) -> tuple[int, int | None]:
    """Walk ``rest`` segment by segment from ``depth``; returns the final depth and the offset (in the whole
    template) of the first ``..`` that leaves the root, if one does. A placeholder counts as one folder."""
    position = offset
    for part in rest.split("/"):
        where, position = position, position + len(part) + 1
        if part in ("", "."):
            continue
        if part == "..":
            depth -= 1
            if depth < 0:
                return depth, where
        else:
            depth += 1
    return depth, None


@dataclass(frozen=True, slots=True)
class _Start:
    """Where a template starts: its root, the folder depth its own text continues from, and how much of the
    template the start took (the rest is walked with :func:`_climb`)."""

    root: PathRoot | None
    depth: int = 0
    consumed: int = 0
    problem: str | None = None


_WORKDIR = "<workdir>"  # marks the workdir as visited (no variable can have this name)


def _start(template: str, runbook: Runbook, seen: frozenset[str]) -> _Start:
    placeholder = PLACEHOLDER_RE.match(template)
    if placeholder is not None:
        name, end = placeholder.group(1), placeholder.end()
        var = runbook.variables.get(name)
        if name == SESSION_DIR:
            return _Start(PathRoot("session"), 0, end)
        if var is not None and var.type == "repo":
            return _Start(PathRoot("repo"), 0, end)
        if var is not None and var.root is not None:
            default = var.default_text
            below = _below(default, var.root) if "{{" not in default + var.root else None
            return _Start(PathRoot("declared", name), _depth(below) if below else 1, end)
        if var is not None and var.type in ("path", "dir", "file") and name not in seen:
            if len(seen) >= _MAX_DEFAULT_DEPTH:
                return _Start(None, problem=f"the default of {name!r} refers to too many other defaults")
            shape, depth = _analyse(var.default_text, runbook, seen | {name})
            if shape.problem is not None:
                return _Start(None, problem=f"the default of {name!r} ({var.default_text!r}): {shape.problem}")
            return _Start(shape.root, depth, end)
        # Any other value (text, a dotted name) is a folder name of a relative path; the engine checks the value.
    shell = _SHELL_VAR_AT_START_RE.match(template)
    if shell is not None and (shell.group(1) or shell.group(2)) in backup_exports(runbook):
        return _Start(PathRoot("backup", shell.group(1) or shell.group(2)), 0, shell.end())
    if template.startswith(("/", "~")):
        for name, root in _declared_literal_roots(runbook):
            below = _below(template, root)
            if below:  # '..' is resolved as text first: '/tmp/../etc/x' is not below /tmp
                return _Start(PathRoot("declared", name), _depth(below), len(template))
        return _Start(
            None,
            problem="an absolute path outside the repository; write it below {{repo}}, or name it with a path "
            "variable that declares its root (root: ...)",
        )
    if runbook.workdir and _WORKDIR not in seen:
        shape, depth = _analyse(runbook.workdir, runbook, seen | {_WORKDIR})
        if shape.problem is not None:
            return _Start(None, problem=f"it is read from the workdir {runbook.workdir!r}, and {shape.problem}")
        return _Start(shape.root, depth, 0)
    return _Start(PathRoot("repo"), 0, 0)


def _analyse(template: str, runbook: Runbook, seen: frozenset[str]) -> tuple[PathShape, int]:
    """The shape of ``template`` and the folder depth it ends at below its root."""
    start = _start(template, runbook, seen)
    if start.root is None:
        return PathShape(None, start.problem or "cannot tell where this path leads"), 0
    rest = template[start.consumed :]
    if start.consumed and rest and not rest.startswith("/"):
        return PathShape(
            None, "text right after the placeholder makes another folder's name; put a '/' after it", start.consumed
        ), 0
    depth, bad = _climb(rest, start.depth, start.consumed)
    if bad is not None:
        return PathShape(None, f"'..' leads out of {start.root.describe(runbook)}", bad), 0
    return PathShape(start.root), depth


def path_shape(template: str, runbook: Runbook) -> PathShape:
    """The root ``template`` is confined to, or why it cannot be (with the offset of the part at fault)."""
    shape, depth = _analyse(template, runbook, frozenset())
    if shape.root is not None and depth < 1:
        return PathShape(None, f"this names {shape.root.describe(runbook)} itself, not a file in it")
    return shape


def confined_fields(runbook: Runbook) -> Iterator[ConfinedField]:
    """Every path the wizard itself edits, backs up, documents, restores or writes, with its place in the runbook."""
    yield ConfinedField(("backup", "location_file"), runbook.backup.location_file, "the backup location file")
    for p, phase in enumerate(runbook.phases):
        for s, step in enumerate(phase.steps):
            loc: tuple[str | int, ...] = ("phases", p, "steps", s)
            if isinstance(step, BackupStep):
                for i, item in enumerate(step.files):
                    yield ConfinedField((*loc, "files", i, "path"), item.path, "a file to back up")
            for i, edit in enumerate(getattr(step, "edits", [])):
                yield ConfinedField((*loc, "edits", i, "file"), edit.file, "a file to edit")
            if isinstance(step, DocsStep):
                for i, doc in enumerate(step.documents):
                    yield ConfinedField((*loc, "documents", i, "path"), doc.path, "a document to update")
            if isinstance(step, FormStep) and step.output is not None:
                yield ConfinedField((*loc, "output", "path"), step.output.path, "the form's output file")


def root_problems(runbook: Runbook) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """What is wrong with the roots path variables declare: where (loc) and what."""
    for name, var in runbook.variables.items():
        if var.root is None:
            continue
        loc: tuple[str | int, ...] = ("variables", name, "root")
        if "{{" in var.root:
            yield loc, "a root is written out in full (no placeholders), so validate can check paths against it"
            continue
        if not var.root.startswith(("/", "~")):
            yield loc, f"the root {var.root!r} must be an absolute path"
            continue
        if posixpath.normpath(var.root) == "/":
            yield loc, "'/' would let this path lead anywhere; declare the folder it belongs in"
            continue
        default = var.default_text
        if "{{" in default:
            continue  # checked when the value is known
        below = _below(default, var.root)
        if not below:
            yield ("variables", name, "default"), f"{default!r} is not inside the root {var.root!r} it declares"
