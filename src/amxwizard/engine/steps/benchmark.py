"""A benchmark step: one llama-bench run, judged against its baseline or an earlier run of the same test."""

from __future__ import annotations

from ...runbook import models as m
from ..state import StepStatus
from ._commands import apply_commands, off_target_failure, plan_commands, stopped, stopped_early
from .base import Approval, PlanInput, RunCommands, RunIO, StepResult
from .context import StepContext
from .kind import Kind


def plan(ctx: StepContext, step: m.BenchmarkStep, request: PlanInput) -> RunCommands:
    return plan_commands(ctx, step, [step.command], ctx.workdir())


def apply(ctx: StepContext, step: m.BenchmarkStep, plan: RunCommands, approval: Approval, io: RunIO) -> StepResult:
    return apply_commands(ctx, step, plan, approval, io, judge)


def judge(ctx: StepContext, step: m.BenchmarkStep) -> StepResult:
    from ..evidence import llama_bench

    early = stopped_early(ctx, step, 1)
    if early is not None:
        return early
    off_target = off_target_failure(ctx, step, 1, "llama-bench", 0)
    if off_target is not None:
        return off_target
    reason = stopped(ctx.session.state.attempt_runs(step.id), 1)
    # Judged even when the command failed: the log then says why (a rejected flag, a missing model).
    verdict = llama_bench.judge_step(step, ctx.runbook, ctx.session.state, ctx.read_log, ctx.values())
    status = StepStatus.FAILED if verdict.status == "failed" or reason else StepStatus.PASSED
    summary = verdict.summary if verdict.status == "failed" or not reason else f"{reason}; {verdict.summary}"
    return ctx.finish(step, status, summary, verdict.findings, verdict.evidence)


KIND = Kind(
    name="benchmark",
    model=m.BenchmarkStep,
    plan=plan,
    apply=apply,
    judge=judge,
    runs_binary=lambda step: True,
    runs_commands=True,
)
