"""A run's whole log, from disk, opened lazily; follows it while the run is still writing.

Line numbers in a gutter; ``/`` searches (the text typed shows in a bar at the bottom), ``n`` and ``N`` go to the
next and previous match, wrapping round at either end (and saying so); ``:`` jumps to a line. The line a form links
to ("log line 812; ctrl+l opens it there") is marked when the log opens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from ..clipboard import copy_text
from ..keys import GLOBAL_KEYS
from ..tones import tone
from ..widgets.logview import LogView
from .dialogs import NoteScreen


class FullLogScreen(Screen[None]):
    TITLE = "Full log"
    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("escape", "back", "Back"),
        Binding("slash", "search", "Search"),
        Binding("n", "search_next", "Next"),
        Binding("N", "search_previous", "Previous"),
        Binding("colon", "goto", "Go to line"),
        Binding("q", "back", "Back", show=False),
        Binding("y", "copy", "Copy lines", show=False),  # in help (f1); the 80-column footer keeps esc and f1
    ]

    def __init__(self, path: Path, *, start_line: int | None = None) -> None:
        super().__init__()
        self.path = path
        self.start_line = start_line
        self.needle = ""
        self.mode: Literal["search", "goto"] = "search"

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("Full log ", "bold"), (str(self.path), "dim")), id="log-title")
        yield LogView(self.path, start_line=self.start_line, id="logview")
        with Horizontal(id="log-bar", classes="hidden"):
            yield Static("/", id="log-bar-label")
            yield Input(id="log-input", select_on_focus=False)
        yield Static(id="log-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LogView).focus()
        if self.start_line is not None:
            self._status(f"line {self.start_line + 1} is marked (›)")

    @on(LogView.Indexed)
    def _indexed(self, event: LogView.Indexed) -> None:
        self.query_one("#log-title", Static).update(
            Text.assemble(("Full log ", "bold"), (f"{event.lines:,} lines  ", tone("accent")), (str(self.path), "dim"))
        )

    def _status(self, text: str, style: Style | str = "dim") -> None:
        self.query_one("#log-status", Static).update(Text(text, style=style))

    def _open_bar(self, mode: Literal["search", "goto"]) -> None:
        self.mode = mode
        bar = self.query_one("#log-bar")
        bar.remove_class("hidden")
        self.query_one("#log-bar-label", Static).update(
            Text("search: " if mode == "search" else "go to line: ", style="bold")
        )
        field = self.query_one("#log-input", Input)
        field.value = self.needle if mode == "search" else ""
        field.placeholder = "text to find (enter; n next, N previous)" if mode == "search" else "a line number"
        field.focus()
        self._status("enter to " + ("search" if mode == "search" else "go") + " · esc to close this bar")

    def _close_bar(self) -> None:
        self.query_one("#log-bar").add_class("hidden")
        self.query_one(LogView).focus()

    def action_search(self) -> None:
        self._open_bar("search")

    def action_goto(self) -> None:
        self._open_bar("goto")

    @on(Input.Submitted, "#log-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self._close_bar()
        if self.mode == "goto":
            self._go_to(text)
        elif text:
            self.needle = text
            self._find(backwards=False)

    def _go_to(self, text: str) -> None:
        view = self.query_one(LogView)
        if not text.isdigit() or not 1 <= int(text) <= max(view.line_count, 1):
            self._status(f"no line {text!r}: lines run from 1 to {view.line_count:,}", tone("error", bold=True))
            return
        view.goto(int(text) - 1)
        self._status(f"line {text}")

    def _find(self, *, backwards: bool) -> None:
        view = self.query_one(LogView)
        found = view.find(self.needle, backwards=backwards)
        if found is None:
            self._status(f"{self.needle!r} is not in the log", tone("error", bold=True))
            return
        line, wrapped = found
        where = (" (from the end: nothing above)" if backwards else " (from the top: nothing below)") if wrapped else ""
        self._status(f"{self.needle!r} at line {line + 1}{where} · n next · N previous")

    def action_search_next(self) -> None:
        if self.needle:
            self._find(backwards=False)
        else:
            self.action_search()

    def action_search_previous(self) -> None:
        if self.needle:
            self._find(backwards=True)
        else:
            self.action_search()

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
        if not self.query_one("#log-bar").has_class("hidden"):
            self._close_bar()
            self._status("")
            return
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
