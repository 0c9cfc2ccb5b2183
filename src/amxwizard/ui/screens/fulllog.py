"""A run's whole log, from disk, opened lazily; follows it while the run is still writing."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..clipboard import copy_text
from ..widgets.logview import LogView
from .dialogs import NoteScreen


class FullLogScreen(Screen[None]):
    TITLE = "Full log"
    BINDINGS = [
        Binding("escape,q", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("n", "search_next", "Next match"),
        Binding("y", "copy", "Copy lines", show=False),  # in help (f1); the 80-column footer keeps esc and f1
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

    def action_copy(self) -> None:
        """Ask for a line range (the lines on screen offered) and copy those lines to the local clipboard."""
        view = self.query_one(LogView)
        total = view.line_count
        if total == 0:
            self.notify("the log is empty", severity="warning")
            return
        first = min(view.scroll_offset.y, total - 1) + 1
        last = min(first + max(view.size.height, 1) - 1, total)

        def chosen(text: str | None) -> None:
            if not text:
                return
            picked = parse_range(text, total)
            if isinstance(picked, str):
                self.notify(picked, severity="error")
                return
            lines = view.lines(picked[0] - 1, picked[1])
            copy_text(self.app, "".join(line + "\n" for line in lines), f"lines {picked[0]}-{picked[1]} of the log")

        self.app.push_screen(NoteScreen(f"Copy lines (1-{total})", value=f"{first}-{last}"), chosen)

    def action_back(self) -> None:
        self.dismiss(None)


def parse_range(text: str, total: int) -> tuple[int, int] | str:
    """``"120-180"`` or ``"42"`` as 1-based inclusive line numbers within ``total``, or what is wrong with it."""
    first, sep, last = text.strip().partition("-")
    try:
        lo = int(first)
        hi = int(last) if sep else lo
    except ValueError:
        return f"{text!r} is not a line range (like 120-180)"
    if not 1 <= lo <= hi <= total:
        return f"lines {lo}-{hi} are not within 1-{total}"
    return lo, hi
