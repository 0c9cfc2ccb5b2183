"""The live output pane: lines arrive in batches from a worker thread and are written at most every 50 ms."""

from __future__ import annotations

from collections import deque

from textual.widgets import Log


class RunLog(Log):
    """A capped ``Log`` fed through a queue, so a flood of output costs the event loop one write per tick."""

    DEFAULT_CSS = """
    RunLog {
        height: 1fr;
        border: none;
        padding: 0 1;
        background: $surface;
    }
    """

    FLUSH_SECONDS = 0.05

    def __init__(self, max_lines: int = 10_000, **kwargs: object) -> None:
        super().__init__(max_lines=max_lines, highlight=False, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self._pending: deque[str] = deque(maxlen=max_lines)
        self.lines_received = 0

    def on_mount(self) -> None:
        self.set_interval(self.FLUSH_SECONDS, self.flush)

    def add(self, lines: list[str]) -> None:
        """Queue lines for the next flush (only the newest ``max_lines`` are kept if they come faster)."""
        self._pending.extend(lines)
        self.lines_received += len(lines)

    def flush(self) -> None:
        if not self._pending:
            return
        batch = list(self._pending)
        self._pending.clear()
        self.write_lines(batch)
        # A full Log(max_lines=N) stops repainting on real terminals in Textual 8.2; an explicit refresh fixes it.
        self.refresh()

    def reset(self, title: str = "") -> None:
        """Start over for a new run."""
        self._pending.clear()
        self.lines_received = 0
        self.clear()
        if title:
            self.write_line(title)
