"""The live output pane.

Worker threads never touch a widget: the runner's reader thread puts lines into an :class:`OutputFeed` (a bounded
ring), and the pane drains it every 50 ms on the UI thread. Under a flood the ring keeps only the newest lines and
the pane says how many it skipped — the full log is on disk, a key away — so memory and the event loop's work per
tick stay bounded whatever the child prints.
"""

from __future__ import annotations

import threading
from collections import deque

from rich.cells import cell_len
from textual.widgets import Log


class OutputFeed:
    """Thread-safe bounded ring of display lines, filled by a worker thread, drained by the UI."""

    def __init__(self, keep: int = 2_000) -> None:
        self.keep = keep
        self._lines: deque[str] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self.received = 0  # every line ever put in (for the status line and benchmarks)
        self._skipped = 0

    def put(self, lines: list[str]) -> None:
        with self._lock:
            overflow = len(self._lines) + len(lines) - (self._lines.maxlen or 0)
            if overflow > 0:
                self._skipped += overflow
            self._lines.extend(lines)
            self.received += len(lines)

    def skip(self, count: int) -> None:
        """``count`` lines were received but never decoded (the follower skipped to the end of the log)."""
        with self._lock:
            self._skipped += count
            self.received += count

    def drain(self) -> tuple[list[str], int]:
        """The lines waiting, and how many were dropped before them since the last drain."""
        with self._lock:
            lines, skipped = list(self._lines), self._skipped
            self._lines.clear()
            self._skipped = 0
        return lines, skipped

    def reset(self) -> None:
        with self._lock:
            self._lines.clear()
            self._skipped = 0
            self.received = 0


class RunLog(Log):
    """A capped ``Log`` that shows the newest output of the running step."""

    DEFAULT_CSS = """
    RunLog {
        height: 1fr;
        border: none;
        padding: 0 1;
        background: $surface;
    }
    """

    FLUSH_SECONDS = 0.05
    # Under a flood (the ring overflowed) at most this many lines go into the pane per flush: the rest would scroll
    # past unseen within the same frame, and each line written costs the UI thread keys are waiting for.
    FLUSH_MAX_LINES = 500

    def __init__(self, feed: OutputFeed | None = None, max_lines: int = 10_000, **kwargs: object) -> None:
        super().__init__(max_lines=max_lines, highlight=False, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self.feed = feed or OutputFeed()

    @property
    def lines_received(self) -> int:
        return self.feed.received

    def on_mount(self) -> None:
        self.set_interval(self.FLUSH_SECONDS, self.flush)

    def add(self, lines: list[str]) -> None:
        """Queue lines for the next flush (safe from any thread)."""
        self.feed.put(lines)

    def flush(self) -> None:
        lines, skipped = self.feed.drain()
        if not lines:
            return
        if skipped and len(lines) > self.FLUSH_MAX_LINES:  # a flood: the ring overflowed already
            skipped += len(lines) - self.FLUSH_MAX_LINES
            lines = lines[-self.FLUSH_MAX_LINES :]
        if skipped:
            lines.insert(0, f"… {skipped:,} lines not shown here (l opens the full log) …")
        self.write_lines(lines)
        # A full Log(max_lines=N) stops repainting on real terminals in Textual 8.2; an explicit refresh fixes it.
        self.refresh()

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        """The widest new line, for the horizontal scroll: measured here, on the UI thread, from the lines' lengths.

        Textual's Log measures each write's lines in a new worker thread that then waits for the UI thread: under a
        flood that is a thread per flush competing with the keys for the interpreter. A plain ASCII line is as wide
        as it is long; any other line is measured as Log measures it."""
        if not lines:
            return
        process = self._process_line
        width = max(len(line) if line.isascii() and "\t" not in line else cell_len(process(line)) for line in lines)
        self._update_maximum_width(updates, width)

    def reset(self, title: str = "") -> None:
        """Start over for a new run."""
        self.feed.reset()
        self.clear()
        if title:
            self.write_line(title)
