"""The commit: the files to stage, their diff, and the message built from the answers and the evidence."""

from __future__ import annotations

from ...runbook import models as m
from ..state import StepStatus
from .base import (
    AlreadyPassed,
    Approval,
    Blocker,
    Confirm,
    MakeCommit,
    MissingAnswers,
    NeededAnswer,
    PlanChanged,
    PlanInput,
    RunIO,
    StepResult,
    UnprovenClaims,
)
from .context import StepContext
from .kind import CUT_OFF, Kind


def plan(ctx: StepContext, step: m.CommitStep, request: PlanInput) -> MakeCommit:
    from ..gitops import plan_commit

    blockers: list[Blocker] = []
    missing = ctx.missing_answers(step)
    if missing:
        blockers.append(MissingAnswers(step=step.id, needed=tuple(NeededAnswer(f) for f in missing)))
    from ..claims import commit_message

    repo = ctx.path(step.repo)
    git_plan = plan_commit(repo, step, ctx.values(), request.extra_files)
    built = commit_message(ctx.runbook, ctx.session.state, ctx.values(), ctx.read_log, step=step)
    message = request.message if request.message is not None else built.text
    unproven = tuple(built.unproven)
    state = ctx.session.state.step(step.id)
    if state.status is StepStatus.PASSED and git_plan.existing is None:
        blockers.append(AlreadyPassed(step=step.id, summary=state.summary))
    if unproven and not git_plan.problems and git_plan.existing is None:
        blockers.append(UnprovenClaims(claims=unproven))
    if step.destructive and not git_plan.problems:
        blockers.append(
            Confirm(question=step.confirm or "Commit now?", detail="Hooks and signing run as for your own commits.")
        )
    return MakeCommit(
        step=step,
        git=git_plan,
        message=message,
        extra_files=tuple(request.extra_files),
        notes=tuple(git_plan.notes),
        blockers=tuple(blockers),
    )


def apply(ctx: StepContext, step: m.CommitStep, plan: MakeCommit, approval: Approval, io: RunIO) -> StepResult:
    from ..gitops import GitOpsError, make_commit, plan_commit

    now = plan_commit(plan.git.repo, step, ctx.values(), plan.extra_files)
    if not now.existing and (now.files, now.diff) != (plan.git.files, plan.git.diff):
        raise PlanChanged("the files to commit changed since their diff was shown; review it again")
    if plan.git.problems:
        ctx.start(step)
        return ctx.finish(
            step, StepStatus.FAILED, plan.git.problems[0], ["commit_problem"], {"problems": list(plan.git.problems)}
        )
    ctx.start(step, plan.acknowledged(approval))
    try:
        unproven = plan.blocker(UnprovenClaims)
        acknowledged = [c.id for c in unproven.claims] if isinstance(unproven, UnprovenClaims) else []
        outcome = make_commit(ctx.session, plan.git.repo, now, plan.message, unproven=acknowledged)
    except GitOpsError as exc:
        return ctx.finish(step, StepStatus.FAILED, str(exc), ["commit_failed"])
    verb = "committed" if outcome.created else "found the commit already made"
    return ctx.finish(step, StepStatus.PASSED, f"{verb}: {outcome.sha[:12]}", evidence={"sha": outcome.sha})


KIND = Kind(
    name="commit",
    model=m.CommitStep,
    plan=plan,
    apply=apply,
    fields=lambda step: list(step.fields),
    asks=lambda step: bool(step.fields),
    cut_off=lambda ctx, step: (
        f"{CUT_OFF}, before its commit was recorded; run the step again: a commit it already made is found by its "
        "Runbook-Session trailer, not made twice"
    ),
)
