"""``?``: the keys of the screen underneath, and how the wizard works."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

ABOUT = """\
The outline on the left is the runbook: the pre-implementation checklist, then each phase and its steps.
The pane on the right shows the selected step: what it does, the files and functions it touches (with the line
numbers found today beside the ones the runbook claims), and its commands exactly as they will run.

Everything you do is written to the session's log before it is shown as done. Close the wizard at any time
(even mid-command: the command keeps running, and the next start follows it again). Commands run in their own
process group at a lower priority; cancelling stops the whole group and nothing else.

ctrl+p opens the command palette (jump to a step, open a screen). q quits."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        seen: set[str] = set()
        for source in (self.for_screen, self.app):
            for binding in getattr(source, "BINDINGS", []):
                if not isinstance(binding, Binding) or not binding.description or binding.key in seen:
                    continue
                seen.add(binding.key)
                keys = binding.key.replace("question_mark", "?").replace(",", " / ")
                table.add_row(keys, binding.description)
        with Vertical(classes="dialog wide"):
            yield Static(
                Text(f"Keys — {getattr(self.for_screen, 'TITLE', None) or 'this screen'}", style="bold"),
                classes="dialog-title",
            )
            with VerticalScroll():
                yield Static(table)
                yield Static(Text("\n" + ABOUT, style="dim"))
        yield Footer()
