"""The choice of approach: the analysis recommends one, the person chooses; the others are skipped with a reason."""

from __future__ import annotations

from ...runbook import models as m
from .. import events as ev
from ..state import StepStatus
from .base import (
    Approval,
    Blocker,
    ChooseApproach,
    MissingAnswers,
    NeededAnswer,
    PlanInput,
    RunIO,
    StepResult,
    Suggestion,
)
from .context import StepContext
from .kind import Kind


def _letters(ctx: StepContext, step: m.ChoiceStep) -> dict[str, str]:
    """Approach letter -> its step id."""
    out: dict[str, str] = {}
    for option in step.options:
        approach = ctx.runbook.step(option)
        out[getattr(approach, "letter", option)] = option
    return out


def field(ctx: StepContext, step: m.ChoiceStep) -> m.FormField:
    """The question, as a field: one of the approach letters."""
    return m.FormField(id=step.field, label="Approach", type="choice", options=list(_letters(ctx, step)))


def recommended(ctx: StepContext, step: m.ChoiceStep) -> Suggestion | None:
    """What the analysis recommends (``default_from``), if it says anything."""
    if not step.default_from:
        return None
    value = ctx.text(f"{{{{{step.default_from}}}}}")
    if not value or value.startswith("("):  # "(not answered)" recommends nothing
        return None
    return Suggestion(value, f"the analysis ({step.default_from})")


def plan(ctx: StepContext, step: m.ChoiceStep, request: PlanInput) -> ChooseApproach:
    chosen = (ctx.session.state.answer(step.field) or "").strip()
    letters = _letters(ctx, step)
    target = letters.get(chosen.upper(), chosen if chosen in step.options else None)
    blockers: list[Blocker] = []
    if target is None:
        blockers.append(MissingAnswers(step=step.id, needed=(NeededAnswer(field(ctx, step), recommended(ctx, step)),)))
        return ChooseApproach(step=step, blockers=tuple(blockers))
    approach = ctx.runbook.step(target)
    skips = tuple(
        other
        for other in step.options
        if other != target and ctx.session.state.step(other).status is StepStatus.PENDING
    )
    return ChooseApproach(step=step, target=target, title=approach.title, skips=skips)


def apply(ctx: StepContext, step: m.ChoiceStep, plan: ChooseApproach, approval: Approval, io: RunIO) -> StepResult:
    assert plan.target is not None  # a plan without a choice carries a blocker
    approach = ctx.runbook.step(plan.target)
    reason = ctx.session.state.answer("root_cause") or ""
    ctx.start(step, plan.acknowledged(approval))
    ctx.session.record(ev.ApproachChosen(step=step.id, approach=plan.target, reason=reason))
    if ctx.session.state.step(plan.target).status is StepStatus.SKIPPED:  # skipped when another was chosen before
        ctx.session.record(ev.StepReset(step=plan.target, reason=f"chosen at {step.id}"))
    for other in plan.skips:
        if ctx.session.state.step(other).status is StepStatus.PENDING:
            ctx.session.record(ev.StepSkipped(step=other, reason=f"not chosen ({approach.title} was chosen)"))
    return ctx.finish(
        step, StepStatus.PASSED, f"chose {plan.target}: {approach.title}", evidence={"approach": plan.target}
    )


KIND = Kind(name="choice", model=m.ChoiceStep, plan=plan, apply=apply, asks=lambda step: True)
