"""A loaded runbook and where it came from (apart from the loader, so a cached runbook needs no YAML parser)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .models import Runbook


@dataclass(frozen=True, slots=True)
class RunbookFile:
    """A loaded runbook and where it came from."""

    model: Runbook
    path: Path | None
    display: str
    sha256: str
    text: str
