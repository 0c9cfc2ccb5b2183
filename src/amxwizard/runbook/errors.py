"""Located problems in a runbook: ``file:line:col: dotted.path: message``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a runbook, at a 1-based line and column."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        # Keys come from the file and may hold blanks or line breaks; the printed problem stays one parseable line.
        path = "".join(ch if ch.isprintable() and ch != " " else _escaped(ch) for ch in self.path) or "(document)"
        message = "".join(ch if ch.isprintable() or ch == "\t" else _escaped(ch) for ch in self.message)
        return f"{self.file}:{self.line}:{self.col}: {path}: {message}"


def _escaped(ch: str) -> str:
    return "\\x20" if ch == " " else ch.encode("unicode_escape").decode("ascii")


class RunbookError(Exception):
    """Raised by the loader with every problem it found; never anything else."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.col, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(loc: Iterable[object]) -> str:
    """Join a location tuple into ``phases.0.steps.2.commands``."""
    return ".".join(str(part) for part in loc)
