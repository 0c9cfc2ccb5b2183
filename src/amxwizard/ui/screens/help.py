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

from ..keys import key_label
from ..tones import tone

ABOUT = """\
The outline on the left is the runbook: the pre-implementation checklist, then each phase and its steps.
The pane on the right shows the selected step: what it does, the files and functions it touches (with the line
numbers found today beside the ones the runbook claims), and its commands exactly as they will run.

Everything you do is written to the session's log before it is shown as done. Close the wizard at any time
(even mid-command: the command keeps running, and the next start follows it again). Commands run in their own
process group at a lower priority; cancelling stops the whole group and nothing else.

ctrl+p opens the command palette: type a step id and enter to go there, or the name of a screen or an action
(run, skip, full log, criteria, record, variables, finish). ctrl+q quits from anywhere (q on the main screen).
On the main screen left and right scroll the selected step's code sideways, page up and page down its detail."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=False)
        table.add_column(style=tone("accent", bold=True), no_wrap=True)
        table.add_column()
        # The screen's bindings as it has them (a dialog binds its choices when it is made), then the app's; one
        # row per action, with every key that does it.
        rows: dict[str, tuple[list[str], str]] = {}
        bound: set[str] = set()
        screen_bindings = [binding for _, binding in self.for_screen._bindings]
        app_bindings = [b for _, b in self.app._bindings]
        for binding in [*screen_bindings, *app_bindings]:
            if not binding.description or binding.key in bound:
                continue
            bound.add(binding.key)
            action = binding.action.removeprefix("app.")
            keys, _ = rows.setdefault(action, ([], binding.description))
            keys.append(key_label(binding.key))
        for keys, description in rows.values():
            table.add_row(", ".join(keys), description)
        with Vertical(classes="dialog wide"):
            yield Static(
                Text(f"Keys — {getattr(self.for_screen, 'TITLE', None) or 'this screen'}", style="bold"),
                classes="dialog-title",
            )
            with VerticalScroll():
                yield Static(table)
                yield Static(Text("\n" + ABOUT, style="dim"))
        yield Footer()
