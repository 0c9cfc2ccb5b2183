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
        path = self.path or "(document)"
        return f"{self.file}:{self.line}:{self.col}: {path}: {self.message}"


class RunbookError(Exception):
    """Raised by the loader with every problem it found; never anything else."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.col, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(loc: Iterable[object]) -> str:
    """Join a location tuple into ``phases.0.steps.2.commands``."""
    return ".".join(str(part) for part in loc)
