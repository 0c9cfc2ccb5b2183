"""The runbook's troubleshooting entries that match a failed step, and what the wizard itself knows comes first."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...runbook.models import Troubleshooting

if TYPE_CHECKING:
    from ...runbook.models import Runbook
    from ..state import SessionState

STALE_ENTRY_ID = "stale-binary"


def stale_build(state: SessionState, step_id: str) -> Mapping[str, Any] | None:
    """What the person acknowledged when they ran ``step_id``'s last attempt on a binary older than the last source
    edit (its ``step_started`` event's ``stale_build``), or ``None`` if the attempt ran on a current build."""
    return next((a for a in state.step(step_id).acknowledged if a.get("blocker") == "stale_build"), None)


def rebuild_advice(step_id: str, stale: Mapping[str, Any]) -> Troubleshooting:
    """The advice for a failure on a stale binary: it says nothing yet about the fix, so rebuild and run again."""
    edited = Path(str(stale.get("edited") or "the source")).name
    edit_step = stale.get("edit_step") or "an earlier step"
    build_step = stale.get("build_step") or None
    rebuild = f"rebuild (step {build_step})" if build_step else "rebuild"
    return Troubleshooting(
        id=STALE_ENTRY_ID,
        symptom=f"{step_id} ran a binary built before {edited} was edited at step {edit_step}",
        solution=f"{rebuild.capitalize()} and run {step_id} again: this failure says nothing about the change yet",
        goto=build_step,
    )


def matching(runbook: Runbook, state: SessionState, step_id: str, findings: Collection[str]) -> list[Troubleshooting]:
    """Entries whose ``when`` fits: the step is listed (or none are), the finding is among ``findings`` (or none is
    named), and the chosen approach is the one named (if one is). An entry with an empty ``when`` is general advice
    and never matches by itself. Each keeps its ``goto`` step.

    When the step's last attempt ran a binary older than the last source edit (the person chose "run anyway"), the
    first entry is "rebuild and run again": the runbook's own advice (switch approach, say) assumes the binary under
    test holds the change, and it did not. Those entries follow, marked as what to do if it still fails then.
    """
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
    stale = stale_build(state, step_id)
    if stale is None:
        return out
    later = [
        entry.model_copy(
            update={
                "symptom": f"If it still fails on the rebuilt binary: {entry.symptom[:1].lower()}{entry.symptom[1:]}"
            }
        )
        for entry in out
    ]
    return [rebuild_advice(step_id, stale), *later]
