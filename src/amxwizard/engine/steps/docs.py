"""The documents: a section of each Markdown file written from the answers and the evidence, shown as a diff."""

from __future__ import annotations

from ...runbook import models as m
from ...runbook.templates import TemplateError
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
    from ..docs import DocError, plan_update, render_content
    from ..evidence.context import template_values

    blockers: list[Blocker] = []
    missing = ctx.missing_answers(step)
    if missing:
        blockers.append(MissingAnswers(step=step.id, needed=tuple(NeededAnswer(f) for f in missing)))
        return UpdateDocuments(step=step, blockers=tuple(blockers))
    # Answers and log excerpts land in Markdown as inert text: only the runbook's template gives the structure.
    values = template_values(ctx.runbook, ctx.session.state, ctx.values(), ctx.read_log, markdown=True)
    policy = ctx.policy()
    try:
        documents = []
        for doc in step.documents:
            where = policy.locate(doc.path, "a document to update")
            body = render_content(doc.content, values)
            documents.append(plan_update(where.path, doc.section, body, root=where.root))
    except (DocError, StepError, OSError, TemplateError) as exc:
        return UpdateDocuments(step=step, blockers=(Prerequisite(reason=str(exc)),))
    changed = [d for d in documents if d.changed]
    if changed:
        noun = "document" if len(changed) == 1 else "documents"
        diff = "\n".join(d.diff for d in changed)
        blockers.append(ReviewChanges(question=f"update {len(changed)} {noun}?", diff=diff))
    return UpdateDocuments(step=step, documents=tuple(documents), blockers=tuple(blockers))


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
