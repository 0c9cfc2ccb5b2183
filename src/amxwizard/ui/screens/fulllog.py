"""A run's whole log, from disk, opened lazily; follows it while the run is still writing."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..widgets.logview import LogView
from .dialogs import NoteScreen


class FullLogScreen(Screen[None]):
    TITLE = "Full log"
    BINDINGS = [
        Binding("escape,q", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("n", "search_next", "Next match"),
    ]

    def __init__(self, path: Path, *, start_line: int | None = None) -> None:
        super().__init__()
        self.path = path
        self.start_line = start_line
        self.needle = ""

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("Full log ", "bold"), (str(self.path), "dim")), id="log-title")
        yield LogView(self.path, start_line=self.start_line, id="logview")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LogView).focus()

    @on(LogView.Indexed)
    def _indexed(self, event: LogView.Indexed) -> None:
        self.query_one("#log-title", Static).update(
            Text.assemble(("Full log ", "bold"), (f"{event.lines:,} lines  ", "cyan"), (str(self.path), "dim"))
        )

    def action_search(self) -> None:
        def found(text: str | None) -> None:
            if text:
                self.needle = text
                self.action_search_next()

        self.app.push_screen(NoteScreen("Search the log for", value=self.needle), found)

    def action_search_next(self) -> None:
        if self.needle and self.query_one(LogView).find(self.needle) is None:
            self.notify(f"{self.needle!r} not found below")

    def action_back(self) -> None:
        self.dismiss(None)
