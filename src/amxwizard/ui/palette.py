"""The command palette (ctrl+p): every screen and action by name, and a step by its id.

Textual's palette gathers its matches in a worker and ignores Enter until the first batch is on screen, so a step
id typed quickly and entered did nothing. Here Enter on a typed step id (``test-3``, ``go to 2.A``) goes there at
once; anything else is the palette's usual choice.
"""

from __future__ import annotations

import re

from textual.binding import Binding
from textual.command import CommandInput, CommandList, CommandPalette

from .host import WizardHost


class WizardPalette(CommandPalette):
    BINDINGS = [Binding("enter", "enter", "Go", show=False, priority=True)]

    app: WizardHost

    async def action_enter(self) -> None:
        typed = self.query_one(CommandInput).value
        chosen = self.query_one(CommandList).highlighted is not None  # the person picked a match: that one
        target = None if chosen else self.app.palette_shortcut(typed)
        if target is not None:
            self.dismiss()
            self.app.call_later(target)
            return
        # Not a step id: the palette's own Enter (choose the highlighted match, or the first).
        await self.query_one(CommandInput).action_submit()


def typed_step(typed: str, step_ids: list[str]) -> str | None:
    """The step a palette query names outright: its id, optionally after "go to" (any case)."""
    text = re.sub(r"^\s*(?:go\s+to\s+)?", "", typed, flags=re.IGNORECASE).strip().lower()
    return next((s for s in step_ids if s.lower() == text), None) if text else None
