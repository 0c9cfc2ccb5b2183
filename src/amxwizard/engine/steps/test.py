"""A test step: one llama-cli run (after its setup lines), judged by what the program printed."""

from __future__ import annotations

from ...runbook import models as m
from ..state import StepStatus
from ._commands import apply_commands, off_target_failure, plan_commands, stopped_early
from .base import Approval, PlanInput, RunCommands, RunIO, StepResult
from .context import StepContext
from .kind import Kind


def plan(ctx: StepContext, step: m.TestStep, request: PlanInput) -> RunCommands:
    return plan_commands(ctx, step, [*step.setup, step.command], ctx.workdir())


def apply(ctx: StepContext, step: m.TestStep, plan: RunCommands, approval: Approval, io: RunIO) -> StepResult:
    return apply_commands(ctx, step, plan, approval, io, judge)


def judge(ctx: StepContext, step: m.TestStep) -> StepResult:
    from ..evidence import llama_cli

    total = len(step.setup) + 1
    early = stopped_early(ctx, step, total)
    if early is not None:
        return early
    off_target = off_target_failure(ctx, step, total, "llama-cli", len(step.setup))
    if off_target is not None:
        return off_target
    runs = ctx.session.state.attempt_runs(step.id)
    log = ctx.step_log(step.id)
    last = runs[-1] if runs else None
    verdict = llama_cli.judge_test(
        step, llama_cli.parse(log), last.exit_code if last else None, last.signal if last else None, log
    )
    status = StepStatus.PASSED if verdict.status == "passed" else StepStatus.FAILED
    return ctx.finish(step, status, verdict.summary, verdict.findings, verdict.evidence)


KIND = Kind(
    name="test",
    model=m.TestStep,
    plan=plan,
    apply=apply,
    judge=judge,
    runs_binary=lambda step: True,
    runs_commands=True,
    command_count=lambda step: len(step.setup) + 1,
)
