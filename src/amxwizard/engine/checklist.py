"""The pre-implementation checklist as part of the session: each item confirmed by a person or verified by its check.

An item with a check (``head_commit``, ``clean_tree``, ``writable``) is verified against the machine when it is
ticked, and the event records what the check found. When the check passes, the check decided it (``auto``). When it
does not, a person may still confirm the item, but only with a note saying why; the event keeps the check's finding
and status beside the note, so the record shows both. Unticking always works and is recorded too.

The item's text is a template: it is shown rendered with the session's variables, so it names the commit and the
folder the session actually checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..runbook import models as m
from .events import ChecklistTicked

if TYPE_CHECKING:
    from .session import Session
    from .state import SessionState


class ChecklistError(Exception):
    """The item cannot be ticked as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class TickOutcome:
    """What ticking did: the item, whether it is now confirmed, and the check's finding (if it has a check)."""

    item: str
    checked: bool
    auto: bool
    check_status: str  # ok | warn | fail for an item with a check; "" for a manual one
    finding: str
    text: str


@dataclass(frozen=True, slots=True)
class ChecklistProgress:
    """How much of the checklist is confirmed: ``confirmed`` of ``total``, and the ids still open."""

    confirmed: int
    total: int
    open: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return self.confirmed == self.total

    def __str__(self) -> str:
        return f"checklist {self.confirmed}/{self.total}"


def item_text(item: m.ChecklistItem, values: Mapping[str, str]) -> str:
    """The item's text with the session's variables filled in (as written where one is missing)."""
    from ..runbook.templates import TemplateError, render_text

    try:
        return render_text(item.text, values)
    except TemplateError:
        return item.text


def find_item(runbook: m.Runbook, item_id: str) -> m.ChecklistItem:
    """The checklist item ``item_id``, or :class:`ChecklistError` naming the items there are."""
    for item in runbook.checklist:
        if item.id == item_id:
            return item
    known = ", ".join(i.id for i in runbook.checklist) or "none"
    raise ChecklistError(f"no checklist item {item_id!r} (items: {known})")


def progress(runbook: m.Runbook, state: SessionState) -> ChecklistProgress:
    """Which of the runbook's items are confirmed in ``state`` (ticked, and not unticked since)."""
    open_items = tuple(i.id for i in runbook.checklist if not ((t := state.checklist.get(i.id)) and t.ticked))
    total = len(runbook.checklist)
    return ChecklistProgress(total - len(open_items), total, open_items)


def tick(
    session: Session, item_id: str, *, untick: bool = False, note: str = "", values: Mapping[str, str] | None = None
) -> TickOutcome:
    """Tick (or untick) ``item_id`` in ``session``, running its check first; records ``checklist_ticked``.

    Raises :class:`ChecklistError` (recording nothing) for an unknown item, or when the check does not pass and no
    note says why the item is confirmed anyway.
    """
    from .preflight import check_checklist_item

    runbook = session.runbook.model
    item = find_item(runbook, item_id)
    values = values if values is not None else session.values()
    text = item_text(item, values)
    note = note.strip()
    if untick:
        session.record(ChecklistTicked(item=item.id, checked=False, note=note, auto=False, check_status=""))
        return TickOutcome(item.id, False, False, "", "", text)
    if item.check.kind == "manual":
        session.record(ChecklistTicked(item=item.id, checked=True, note=note, auto=False, check_status=""))
        return TickOutcome(item.id, True, False, "", "", text)
    check = check_checklist_item(item, values)
    if check.status != "ok" and not note:
        raise ChecklistError(
            f"{item.id}: the {item.check.kind} check says {check.status}: {check.finding}; fix it, or confirm the "
            "item anyway with a note saying why (--note)"
        )
    auto = check.status == "ok"
    session.record(
        ChecklistTicked(
            item=item.id, checked=True, note=note, auto=auto, finding=check.finding, check_status=check.status
        )
    )
    return TickOutcome(item.id, True, auto, check.status, check.finding, text)


__all__ = ["ChecklistError", "ChecklistProgress", "TickOutcome", "find_item", "item_text", "progress", "tick"]
