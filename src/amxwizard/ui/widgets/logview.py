"""A full run log, read lazily from disk: index line offsets once, render only the rows on screen.

A 1,000,000-line log opens in about a second (the index is built in a thread; the first frame does not wait for it)
and costs 8 bytes per line of memory, whatever the lines hold.
"""

from __future__ import annotations

import os
import re
from array import array
from pathlib import Path

from rich.segment import Segment
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...engine.runner import display_line

_MAX_LINE_BYTES = 8192


class LineIndex:
    """Byte offsets where lines start in a (possibly growing) file."""

    CHUNK = 4 << 20

    def __init__(self, path: Path) -> None:
        self.path = path
        self.starts = array("Q", [0])
        self.indexed = 0  # bytes scanned so far
        self.longest = 0

    def update(self) -> bool:
        """Index bytes appended since the last call; True if the file grew."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return False
        if size <= self.indexed:
            return False
        with self.path.open("rb") as fh:
            fh.seek(self.indexed)
            base = self.indexed
            starts = self.starts
            while base < size:
                chunk = fh.read(min(self.CHUNK, size - base))
                if not chunk:
                    break
                pos = chunk.find(b"\n")
                while pos != -1:
                    start = base + pos + 1
                    self.longest = max(self.longest, start - starts[-1])
                    starts.append(start)
                    pos = chunk.find(b"\n", pos + 1)
                base += len(chunk)
        self.indexed = base
        return True

    def __len__(self) -> int:
        # The last start is the beginning of an unfinished line (or the end of the file).
        return len(self.starts) - (1 if self.starts[-1] >= self.indexed else 0)

    def read(self, fd: int, i: int) -> bytes:
        start = self.starts[i]
        end = self.starts[i + 1] if i + 1 < len(self.starts) else self.indexed
        return os.pread(fd, min(end - start, _MAX_LINE_BYTES), start)

    def find(self, fd: int, needle: bytes, after_line: int) -> int | None:
        """The first line after ``after_line`` containing ``needle`` (case-insensitive), or ``None``."""
        pattern = re.compile(re.escape(needle), re.IGNORECASE)
        start = self.starts[min(after_line + 1, len(self.starts) - 1)]
        offset = start
        while offset < self.indexed:
            block = os.pread(fd, min(self.CHUNK + len(needle), self.indexed - offset), offset)
            if not block:
                return None
            m = pattern.search(block)
            if m is not None:
                return self._line_of(offset + m.start())
            offset += self.CHUNK
        return None

    def find_before(self, fd: int, needle: bytes, before_line: int) -> int | None:
        """The last line before ``before_line`` containing ``needle`` (case-insensitive), or ``None``."""
        pattern = re.compile(re.escape(needle), re.IGNORECASE)
        end = self.starts[max(min(before_line, len(self.starts) - 1), 0)]  # matches must start before this byte
        while end > 0:
            lo = max(end - self.CHUNK, 0)
            block = os.pread(fd, min(end - lo + len(needle), self.indexed - lo), lo)
            last = None
            for m in pattern.finditer(block):
                if lo + m.start() >= end:
                    break
                last = m
            if last is not None:
                return self._line_of(lo + last.start())
            end = lo
        return None

    def _line_of(self, byte: int) -> int:
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= byte:
                lo = mid
            else:
                hi = mid - 1
        return lo


class LogView(ScrollView, can_focus=True):
    """Scrollable view over a log file on disk, with line numbers; follows it while it grows.

    ``highlight_line`` (0-based) is marked: the line a form's evidence came from, or the last match found."""

    COMPONENT_CLASSES = {"logview--gutter", "logview--highlight", "logview--marker"}

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        scrollbar-gutter: stable;
    }
    LogView > .logview--gutter {
        color: $text-muted;
    }
    LogView > .logview--highlight {
        background: $accent 35%;
        text-style: bold;
    }
    LogView > .logview--marker {
        color: $accent;
        text-style: bold;
    }
    """

    BINDINGS = [
        Binding("g,home", "top", "Top", show=False),
        Binding("G,end", "bottom", "End", show=False),  # in help (f1): the footer keeps Quit and Help first
        Binding("up,k", "scroll_up", "Up", show=False),
        Binding("down,j", "scroll_down", "Down", show=False),
        Binding("pageup,b", "page_up", "Page up", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
    ]

    class Indexed(Message):
        """The index caught up with the file."""

        def __init__(self, lines: int) -> None:
            super().__init__()
            self.lines = lines

    def __init__(
        self, path: Path, *, start_line: int | None = None, follow: bool = True, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.path = path
        self.index = LineIndex(path)
        self.start_line = start_line
        self.follow = follow
        self._fd: int | None = None
        self._ready = False
        self.highlight_line: int | None = start_line

    def on_mount(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            self._fd = None
        self._build_index()

    def on_unmount(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @work(thread=True, exclusive=True, group="index")
    def _build_index(self) -> None:
        self.index.update()
        self.app.call_from_thread(self._indexed, first=True)

    @property
    def gutter_width(self) -> int:
        """Line numbers, right-aligned, a marker column and a space: "  812› "."""
        return len(str(max(len(self.index), 1))) + 2

    def _indexed(self, first: bool = False) -> None:
        at_end = self.is_vertical_scroll_end
        self.virtual_size = Size(max(self.index.longest, 1) + self.gutter_width, len(self.index))
        if first and self.start_line is not None:
            # After the next layout: only then does the new size allow scrolling that far.
            self.call_after_refresh(self._open_at, self.start_line)
        elif first or (self.follow and at_end):
            self.call_after_refresh(self._open_at, None)
        else:
            self._ready = True
        self.refresh()
        self.post_message(self.Indexed(len(self.index)))
        if first and self.follow:
            self.set_interval(0.5, self._poll)

    def _open_at(self, line: int | None) -> None:
        # Centred once laid out: before that the height may still be 0.
        if line is None:
            self.scroll_end(animate=False, immediate=True)
        else:
            self.scroll_to(y=max(line - self.size.height // 2, 0), animate=False, force=True, immediate=True)
        self._ready = True
        self.refresh()

    def _poll(self) -> None:
        if self.index.update():
            self._indexed()

    @property
    def ready(self) -> bool:
        """The first index is shown (and the view is where it was asked to open)."""
        return self._ready

    @property
    def line_count(self) -> int:
        return len(self.index)

    def line_text(self, i: int) -> str:
        """Line ``i`` (0-based) as shown."""
        if self._fd is None or not 0 <= i < len(self.index):
            return ""
        return display_line(self.index.read(self._fd, i).decode("utf-8", "replace"))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        i = scroll_y + y
        width = self.size.width
        style = self.rich_style
        if not self._ready or self._fd is None or i >= len(self.index):
            if i == 0 and not self._ready:
                return Strip([Segment("indexing…", style)]).crop_extend(0, width, style)
            return Strip.blank(width, style)
        highlighted = i == self.highlight_line
        digits = self.gutter_width - 2
        gutter = Text(f"{i + 1:>{digits}}", style=style + self.get_component_rich_style("logview--gutter"))
        gutter.append("›" if highlighted else " ", style=style + self.get_component_rich_style("logview--marker"))
        gutter.append(" ", style=style)
        line = Text(self.line_text(i), no_wrap=True, style=style)
        if highlighted:  # the whole row, so an empty or short line is marked too
            line.pad_right(max(width + scroll_x - self.gutter_width - line.cell_len, 0))
            line.stylize(self.get_component_rich_style("logview--highlight"))
        body = Strip(line.render(self.app.console)).crop_extend(scroll_x, scroll_x + width - self.gutter_width, style)
        return Strip.join([Strip(gutter.render(self.app.console)), body])

    def lines(self, start: int, end: int) -> list[str]:
        """Lines ``start`` to ``end`` (0-based, end excluded) as they are shown: decoded, escapes removed."""
        if self._fd is None:
            return []
        end = min(end, len(self.index))
        return [display_line(self.index.read(self._fd, i).decode("utf-8", "replace")) for i in range(start, end)]

    def action_top(self) -> None:
        self.scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.scroll_end(animate=False)

    def goto(self, line: int) -> None:
        """Mark line ``line`` (0-based) and bring it to the middle of the view."""
        self.highlight_line = max(min(line, len(self.index) - 1), 0)
        self.scroll_to(y=max(self.highlight_line - self.size.height // 2, 0), animate=False, force=True)
        self.refresh()

    def find(self, text: str, *, backwards: bool = False, wrap: bool = True) -> tuple[int, bool] | None:
        """Go to the next line containing ``text`` (the previous one, ``backwards``), from the marked line or the
        top of the view; past the end it wraps round. Returns the line (0-based) and whether it wrapped."""
        if self._fd is None or not text:
            return None
        needle = text.encode("utf-8")
        if backwards:
            before = self.highlight_line if self.highlight_line is not None else self.scroll_offset.y
            found = self.index.find_before(self._fd, needle, before)
            wrapped = False
            if found is None and wrap:
                found, wrapped = self.index.find_before(self._fd, needle, len(self.index)), True
        else:
            after = self.highlight_line if self.highlight_line is not None else self.scroll_offset.y - 1
            found = self.index.find(self._fd, needle, after)
            wrapped = False
            if found is None and wrap:
                found, wrapped = self.index.find(self._fd, needle, -1), True
        if found is None:
            return None
        self.goto(found)
        return found, wrapped
