"""When a session is complete, and what is missing when it is not: one place, so every count agrees.

A record is COMPLETE only when

- every step passed, or was skipped with a reason (an approach not chosen is skipped with one by the choice),
- every success criterion is met, or not applicable with a reason,
- every item of the pre-implementation checklist is confirmed.

Otherwise its label names each gap: ``INCOMPLETE: checklist 0/4, 2 criteria unmet, 3 steps not done``. Step counts
are over every step of the runbook (``19 passed, 2 skipped of 21``), the same numbers the wizard's header shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import ChecklistView, CriterionView, Status, StepView

DONE_STATES = ("passed", "chosen", "skipped", "not chosen")
# Display order of step states in counts; "not chosen" approaches count as skipped (the choice skipped them).
_ORDER = ("passed", "chosen", "skipped", "failed", "interrupted", "running", "pending")
SATISFIED_VERDICTS = ("met", "not_applicable")


@dataclass(frozen=True, slots=True)
class StepCounts:
    """How many steps are in each state, over every step of the runbook."""

    by_state: dict[str, int]
    total: int
    done: int

    def __str__(self) -> str:
        shown = [f"{self.by_state[s]} {s}" for s in _ORDER if self.by_state.get(s)]
        return f"{', '.join(shown) or 'no steps'} of {self.total}"


def step_state(step: StepView) -> str:
    """The state a step is counted under (an approach not chosen is a skip, with the choice's reason)."""
    return "skipped" if step.status == "not chosen" else step.status


def step_done(step: StepView) -> bool:
    """Passed, chosen, or skipped with a reason."""
    if step.status == "skipped":
        return bool(step.skip_reason.strip())
    return step.status in DONE_STATES


def count_steps(steps: Sequence[StepView]) -> StepCounts:
    """Every step counted by its state."""
    by_state: dict[str, int] = {}
    for step in steps:
        state = step_state(step)
        by_state[state] = by_state.get(state, 0) + 1
    return StepCounts(by_state, len(steps), sum(1 for s in steps if step_done(s)))


def criterion_satisfied(crit: CriterionView) -> bool:
    """Met, or not applicable with a reason (the evaluation's evidence or a person's note)."""
    if crit.verdict == "met":
        return True
    return crit.verdict == "not_applicable" and bool(crit.verdict_evidence or crit.note.strip())


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _criteria_gaps(criteria: Sequence[CriterionView]) -> list[str]:
    groups: dict[str, int] = {}
    for crit in criteria:
        if criterion_satisfied(crit):
            continue
        key = crit.verdict if crit.verdict in ("unmet", "unknown", "manual", "not_applicable") else "none"
        groups[key] = groups.get(key, 0) + 1
    words = {
        "unmet": ("criterion unmet", "criteria unmet"),
        "unknown": ("criterion without its evidence yet", "criteria without their evidence yet"),
        "manual": ("criterion not ticked", "criteria not ticked"),
        "not_applicable": ("criterion not applicable without a reason", "criteria not applicable without a reason"),
        "none": ("criterion not evaluated", "criteria not evaluated"),
    }
    return [_plural(groups[k], *words[k]) for k in words if groups.get(k)]


def _step_gaps(steps: Sequence[StepView]) -> list[str]:
    failed = sum(1 for s in steps if s.status == "failed")
    no_reason = sum(1 for s in steps if s.status == "skipped" and not s.skip_reason.strip())
    other = sum(1 for s in steps if not step_done(s) and s.status not in ("failed", "skipped"))
    gaps = []
    if failed:
        gaps.append(_plural(failed, "step failed", "steps failed"))
    if no_reason:
        gaps.append(_plural(no_reason, "step skipped without a reason", "steps skipped without a reason"))
    if other:
        gaps.append(_plural(other, "step not done", "steps not done"))
    return gaps


def completeness(
    steps: Sequence[StepView],
    criteria: Sequence[CriterionView],
    checklist: Sequence[ChecklistView],
    *,
    checklist_ids: Sequence[str],
    session_closed: bool,
    signed_off: bool,
) -> Status:
    """The record's status from its own sections (``checklist_ids``: the runbook's items; others do not count)."""
    counts = count_steps(steps)
    ticked = {c.id for c in checklist if c.ticked}
    checklist_open = tuple(i for i in checklist_ids if i not in ticked)
    confirmed = len(checklist_ids) - len(checklist_open)
    criteria_open = tuple(c.id for c in criteria if not criterion_satisfied(c))
    missing: list[str] = []
    if checklist_open:
        missing.append(f"checklist {confirmed}/{len(checklist_ids)}")
    missing += _criteria_gaps(criteria)
    missing += _step_gaps(steps)
    complete = not missing
    pending = [s for s in steps if not step_done(s)]
    return Status(
        complete=complete,
        label="COMPLETE" if complete else "INCOMPLETE: " + ", ".join(missing),
        counts=str(counts),
        steps_total=counts.total,
        steps_done=counts.done,
        step_counts=dict(counts.by_state),
        criteria_met=len(criteria) - len(criteria_open),
        criteria_total=len(criteria),
        criteria_open=criteria_open,
        checklist_confirmed=confirmed,
        checklist_total=len(checklist_ids),
        checklist_open=checklist_open,
        missing=tuple(missing),
        next_step=pending[0].id if pending else "",
        failed=tuple(s.id for s in steps if s.status == "failed"),
        interrupted=tuple(s.id for s in steps if s.status == "interrupted"),
        running=tuple(s.id for s in steps if s.status == "running"),
        session_closed=session_closed,
        signed_off=signed_off,
    )


__all__ = ["StepCounts", "completeness", "count_steps", "criterion_satisfied", "step_done", "step_state"]
