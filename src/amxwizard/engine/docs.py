"""Step 5.4: the wizard's sections of the target repository's Markdown documents.

The wizard owns only the text between its markers::

    <!-- amxwizard:begin Current Status -->
    ...
    <!-- amxwizard:end Current Status -->

Where the markers exist, only what lies between them is replaced. Where they do not, but a heading with the
section's name does (any level; compared by its words, ignoring case, punctuation and emoji), the marked block is
inserted right under that heading and whatever a person wrote under it stays below, untouched. Otherwise the block
is appended under a new ``## <section>`` heading; a missing file is created with a ``# <file stem>`` title.
Every byte outside the block is kept, line endings included, so running an update twice changes nothing the
second time.

A document is read and written without following a link (issue 17: a symlinked ``AMX_SESSION_CURRENT.md`` made
step 5.4 append to a file outside the repository); below its root (the repository, or a root the runbook
declares) no folder may be a link either. A plan made without a root gets one from the session when applied.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import events as ev
from .confine import PathPolicy
from .fileio import UnsafePathError, atomic_write, is_inside, normal_path, read_file, unified_diff

if TYPE_CHECKING:
    from .session import Session

_MARKER_RE = re.compile(r"<!--\s*amxwizard:")
_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class DocError(Exception):
    """A document cannot be updated safely; the message names the file and what to do."""


def begin_marker(section: str) -> str:
    return f"<!-- amxwizard:begin {section} -->"


def end_marker(section: str) -> str:
    return f"<!-- amxwizard:end {section} -->"


@dataclass(frozen=True, slots=True)
class DocPlan:
    """One document's update: its text before and after, the diff to show, and whether anything changes.

    ``old_text`` is ``""`` and ``existed`` False for a file that does not exist yet.
    """

    path: Path
    section: str
    old_text: str
    new_text: str
    diff: str
    changed: bool
    existed: bool
    root: Path | None = None  # the folder it must stay below; None: worked out from the session when applied


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def _eol_of(line: str) -> str:
    return line[len(_strip_eol(line)) :]


def _find_heading(lines: list[str], section: str) -> int | None:
    """Index of the first Markdown heading named ``section`` outside fenced code, or ``None``."""
    wanted = _words(section)
    fence: str | None = None
    for index, line in enumerate(lines):
        text = _strip_eol(line)
        fence_match = _FENCE_RE.match(text)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is not None:
            continue
        heading = _HEADING_RE.match(text)
        if heading and _words(heading.group(2) or "") == wanted:
            return index
    return None


def _block(section: str, body: str, eol: str) -> str:
    """The marked block, without a line ending after the end marker.

    A code block left open in ``body`` is closed before the end marker, so the marker (and everything a person
    wrote after the section) is never read as code.
    """
    from .mdsafe import close_fences

    body = close_fences(body.replace("\r\n", "\n").replace("\r", "\n").strip("\n"))
    body_lines = body.strip("\n").split("\n")
    return eol.join([begin_marker(section), "", *body_lines, "", end_marker(section)])


def render_content(template: str, values: Mapping[str, str]) -> str:
    """A document section's text from its template and Markdown-safe values.

    ``values`` come from :func:`amxwizard.engine.evidence.context.template_values` with ``markdown=True``: every
    answer and log excerpt in them is inert text, so only the runbook's own template gives the section structure.
    A code block the template leaves open is closed.
    """
    from ..runbook.templates import render_text
    from .mdsafe import close_fences

    return close_fences(render_text(template, values))


def render_update(old: str | None, section: str, body: str, title: str) -> str:
    """The document text after putting ``body`` into ``section`` of ``old`` (``None``: a new document)."""
    if "\n" in section or "\r" in section or "--" in section or not section.strip():
        raise DocError(f"section name {section!r} cannot be used in a marker (one line, no '--')")
    if any(_MARKER_RE.search(line) for line in body.splitlines()):
        raise DocError(f"the text for section {section!r} contains an amxwizard marker; remove it")
    if old is None:
        return "\n".join([f"# {title}", "", f"## {section}", "", _block(section, body, "\n"), ""])
    eol = "\r\n" if "\r\n" in old else "\n"
    block = _block(section, body, eol)
    lines = old.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if _strip_eol(line).strip() == begin_marker(section)]
    ends = [i for i, line in enumerate(lines) if _strip_eol(line).strip() == end_marker(section)]
    if begins or ends:
        if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
            where = ", ".join(f"line {i + 1}" for i in sorted(begins + ends))
            raise DocError(
                f"the markers of section {section!r} are not one begin followed by one end ({where}); fix them by hand"
            )
        first, last = begins[0], ends[0]
        return "".join([*lines[:first], block + _eol_of(lines[last]), *lines[last + 1 :]])
    heading = _find_heading(lines, section)
    if heading is not None:
        head = lines[heading]
        rest = lines[heading + 1 :]
        insert = ("" if _eol_of(head) else eol) + eol + block + eol
        if rest and _strip_eol(rest[0]).strip():
            insert += eol  # keep a blank line between the block and what a person wrote under the heading
        return "".join([*lines[: heading + 1], insert, *rest])
    out = old
    if out and not out.endswith(("\n", "\r")):
        out += eol
    if out.strip() and not out.endswith(eol + eol):
        out += eol
    return out + f"## {section}{eol}{eol}{block}{eol}"


def _read(path: Path, root: Path | None = None) -> str | None:
    try:
        return read_file(path, root=root).decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise DocError(f"{path} is not UTF-8 text; update it by hand") from None
    except IsADirectoryError:
        raise DocError(f"{path} is a folder, not a document") from None
    except UnsafePathError as exc:
        raise DocError(f"cannot update {exc}; nothing was written") from None
    except OSError as exc:
        raise DocError(f"cannot read {path}: {exc.strerror or exc}") from None


def plan_update(path: Path, section: str, body: str, *, root: Path | None = None) -> DocPlan:
    """What putting ``body`` into ``section`` of the document at ``path`` would change (nothing is written).

    ``root``: the folder the document must stay below (from :meth:`PathPolicy.locate`); no link is followed
    below it, and a link at the document itself is refused either way.
    """
    path = Path(path)
    old = _read(path, root)
    new = render_update(old, section, body, path.stem)
    diff = unified_diff(old, new, f"a/{path.name}", f"b/{path.name}")
    return DocPlan(path, section, old or "", new, diff, new != (old or ""), old is not None, root)


def document_roots(session: Session, step_id: str) -> dict[Path, Path]:
    """Each document of docs step ``step_id``, rendered with the session's values, and the root it must stay
    below (the repository unless the runbook declares another). Raises :class:`DocError` for one outside it."""
    from ..runbook.models import DocsStep

    try:
        step = session.runbook.model.step(step_id)
    except KeyError:
        return {}
    if not isinstance(step, DocsStep):
        return {}
    policy = PathPolicy.for_session(session)
    out: dict[Path, Path] = {}
    for doc in step.documents:
        try:
            found = policy.locate(doc.path, "a document to update")
        except UnsafePathError as exc:
            raise DocError(f"cannot update {exc}; nothing was written") from None
        except ValueError:
            continue  # a name without a value yet: the plan for it cannot exist either
        out[found.path] = found.root
    return out


def _root_of(session: Session, plan: DocPlan, known: dict[Path, Path] | None) -> Path:
    """The plan's root; else the one its template names in the step; else the repository (strictest)."""
    if plan.root is not None:
        return plan.root
    try:
        if known is not None and normal_path(plan.path) in known:
            return known[normal_path(plan.path)]
        repo = PathPolicy.for_session(session).repo()
        if not is_inside(plan.path, repo):
            raise UnsafePathError(normal_path(plan.path), f"a document to update must lie inside the repository {repo}")
        return repo
    except UnsafePathError as exc:
        raise DocError(f"cannot update {exc}; nothing was written") from None


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def apply(session: Session, step_id: str, plans: Iterable[DocPlan]) -> list[Path]:
    """Write every changed plan atomically and record ``document_updated``; returns the paths written.

    Refuses (nothing written) if any document changed since its plan was made. A document already up to date is
    recorded once for the session (so the record shows it was checked) and not written.
    """
    plans = list(plans)
    known = document_roots(session, step_id) if any(plan.root is None for plan in plans) else None
    roots = [_root_of(session, plan, known) for plan in plans]
    for plan, root in zip(plans, roots, strict=True):
        now = _read(plan.path, root)
        if (now is not None) != plan.existed or (now or "") != plan.old_text:
            raise DocError(f"{plan.path} changed since its diff was shown; nothing was written, show the diff again")
    written: list[Path] = []
    for plan, root in zip(plans, roots, strict=True):
        after = _sha(plan.new_text)
        if plan.changed:
            try:
                atomic_write(plan.path, plan.new_text, root=root, parents=True)
            except OSError as exc:
                raise DocError(f"cannot write {plan.path}: {exc.strerror or exc}") from None
            written.append(plan.path)
        elif (session.state.documents.get(str(plan.path)) or {}).get("after_sha256") == after:
            continue
        session.record(
            ev.DocumentUpdated(
                step=step_id,
                path=str(plan.path),
                section=plan.section,
                before_sha256=_sha(plan.old_text) if plan.existed else None,
                after_sha256=after,
            )
        )
    return written
