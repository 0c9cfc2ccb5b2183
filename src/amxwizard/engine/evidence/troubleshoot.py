"""The runbook's troubleshooting entries that match a failed step."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...runbook.models import Runbook, Troubleshooting
    from ..state import SessionState


def matching(runbook: Runbook, state: SessionState, step_id: str, findings: Collection[str]) -> list[Troubleshooting]:
    """Entries whose ``when`` fits: the step is listed (or none are), the finding is among ``findings`` (or none is
    named), and the chosen approach is the one named (if one is). An entry with an empty ``when`` is general advice
    and never matches by itself. Each keeps its ``goto`` step."""
    found = set(findings)
    out = []
    for entry in runbook.troubleshooting:
        when = entry.when
        if not when.steps and when.finding is None:
            continue
        if when.steps and step_id not in when.steps:
            continue
        if when.finding is not None and when.finding not in found:
            continue
        if when.approach is not None and state.approach != when.approach:
            continue
        out.append(entry)
    return out
