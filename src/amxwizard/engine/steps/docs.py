"""The documents: a section of each Markdown file written from the answers and the evidence, shown as a diff."""

from __future__ import annotations

from ...runbook import models as m
from ...runbook.templates import render_text
from ..state import StepStatus
from .base import (
    Approval,
    Blocker,
    MissingAnswers,
    NeededAnswer,
    PlanInput,
    Prerequisite,
    ReviewChanges,
    RunIO,
    StepError,
    StepResult,
    UpdateDocuments,
)
from .context import StepContext
from .kind import Kind


def plan(ctx: StepContext, step: m.DocsStep, request: PlanInput) -> UpdateDocuments:
    from ..docs import DocError, plan_update

    blockers: list[Blocker] = []
    missing = ctx.missing_answers(step)
    if missing:
        blockers.append(MissingAnswers(step=step.id, needed=tuple(NeededAnswer(f) for f in missing)))
        return UpdateDocuments(step=step, blockers=tuple(blockers))
    values = ctx.template_values()
    try:
        documents = tuple(
            plan_update(ctx.path(doc.path), doc.section, render_text(doc.content, values)) for doc in step.documents
        )
    except (DocError, StepError) as exc:
        return UpdateDocuments(step=step, blockers=(Prerequisite(reason=str(exc)),))
    changed = [d for d in documents if d.changed]
    if changed:
        noun = "document" if len(changed) == 1 else "documents"
        diff = "\n".join(d.diff for d in changed)
        blockers.append(ReviewChanges(question=f"update {len(changed)} {noun}?", diff=diff))
    return UpdateDocuments(step=step, documents=documents, blockers=tuple(blockers))


def apply(ctx: StepContext, step: m.DocsStep, plan: UpdateDocuments, approval: Approval, io: RunIO) -> StepResult:
    from ..docs import DocError
    from ..docs import apply as write_documents

    ctx.start(step, plan.acknowledged(approval))
    try:
        write_documents(ctx.session, step.id, plan.changed)
    except DocError as exc:
        return ctx.finish(step, StepStatus.FAILED, str(exc))
    summary = f"updated {len(plan.changed)} document(s)" if plan.changed else "documents already up to date"
    return ctx.finish(step, StepStatus.PASSED, summary, evidence={"documents": [str(d.path) for d in plan.documents]})


KIND = Kind(
    name="docs",
    model=m.DocsStep,
    plan=plan,
    apply=apply,
    fields=lambda step: list(step.fields),
    asks=lambda step: bool(step.fields),
)
