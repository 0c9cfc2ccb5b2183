"""Reading captured tool output: one normalisation of lines, and a located line to point a person at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..runner import ANSI_RE  # the runner strips the same sequences from what the log pane shows


@dataclass(frozen=True, slots=True)
class LogLine:
    """A line of a log, 1-based, as a person would find it in an editor."""

    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.text} (line {self.line})"

    def as_json(self) -> dict[str, Any]:
        """The line as plain JSON for an event's evidence."""
        return {"line": self.line, "text": self.text}


def log_lines(text: str) -> list[str]:
    """The lines of ``text`` with ANSI escapes removed and carriage-return redraws collapsed.

    Lines are split on ``\\n`` only, so index ``i`` is line ``i + 1`` of the file; of a line redrawn with ``\\r``
    (progress bars) only the last drawing is kept.
    """
    out: list[str] = []
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if "\r" in line:
            line = line.rsplit("\r", 1)[1]
        if "\x1b" in line:
            line = ANSI_RE.sub("", line)
        out.append(line)
    if out and out[-1] == "" and text.endswith("\n"):
        out.pop()
    return out


NOT_MEASURED = "(not measured)"


def fmt_number(value: float | None, digits: int = 2) -> str:
    """``61.24`` style, or ``(not measured)`` for a missing value."""
    return NOT_MEASURED if value is None else f"{value:.{digits}f}"
