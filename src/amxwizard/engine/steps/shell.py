"""A shell step: commands run in order; its evidence (build, diagnostic run, llama-cli) decides the verdict."""

from __future__ import annotations

from typing import Any

from ...runbook import models as m
from ..state import StepStatus
from ._commands import account, apply_commands, plan_commands
from .base import Approval, PlanInput, RunCommands, RunIO, StepResult
from .context import StepContext
from .kind import Kind

BUILD_LOG_TAIL = 2 << 20  # bytes of a build log its verdict reads


def plan(ctx: StepContext, step: m.ShellStep, request: PlanInput) -> RunCommands:
    cwd = ctx.path(step.cwd) if step.cwd else ctx.workdir()
    return plan_commands(ctx, step, step.commands, cwd)


def apply(ctx: StepContext, step: m.ShellStep, plan: RunCommands, approval: Approval, io: RunIO) -> StepResult:
    return apply_commands(ctx, step, plan, approval, io, judge)


def judge(ctx: StepContext, step: m.ShellStep) -> StepResult:
    runs = ctx.session.state.attempt_runs(step.id)
    total = len(step.commands)
    acc = account(ctx, step, total)
    evidence: dict[str, Any] = {"exit_codes": [r.exit_code for r in runs]}
    findings: list[str] = []
    status = StepStatus.PASSED if acc.ok else StepStatus.FAILED
    if acc.stopped is not None:
        summary = acc.stopped
    elif acc.failure is not None:
        summary = acc.failure.describe()
        evidence["failed_line"] = acc.failure.as_json()
        if acc.failure.numactl is not None:
            evidence["numactl"] = acc.failure.numactl.as_json()
            findings.append("numactl_failed")
    elif step.expect_crash and acc.crashes:
        summary = f"crashed as expected for the diagnosis: {acc.describe_crash(total)}"
        evidence["expected_crash"] = [{"run_id": r.run_id, **rec} for r, rec in acc.crashes]
    elif step.expect_crash:
        summary = "all commands succeeded; nothing crashed (the crash this diagnosis looks for did not happen here)"
    else:
        summary = "all commands succeeded"
    if "build" in step.evidence:
        from ..evidence.judge import judge_build

        # A build verdict lives at the end of its log; a 20-minute build's whole log would cost memory and hold
        # the interpreter while the UI waits.
        verdict = judge_build(ctx.step_log(step.id, tail=BUILD_LOG_TAIL), runs[-1].exit_code if runs else None)
        evidence["build"] = verdict.evidence
        findings += verdict.findings
        if verdict.status != "passed":
            status, summary = StepStatus.FAILED, verdict.summary
    log = ctx.step_log(step.id) if {"tensor_copy", "llama_cli"} & set(step.evidence) else ""
    if {"tensor_copy", "llama_cli"} & set(step.evidence):
        from ..evidence import numactl

        failed = numactl.parse(log, runs[-1].exit_code if runs else None)
        if failed is not None and "numactl" not in evidence:
            # The program never started, though no line failed (a tolerated `|| true`, say): numactl's failure is
            # still the verdict, not what llama-cli's absent output would suggest.
            evidence["numactl"] = failed.as_json()
            return ctx.finish(step, StepStatus.FAILED, failed.describe(), [*findings, "numactl_failed"], evidence)
    if "tensor_copy" in step.evidence:
        from ..evidence import tensor_copy

        diagnosis = tensor_copy.diagnose_log(log)
        evidence["tensor_copy"] = diagnosis.as_evidence()
        findings += diagnosis.report.findings()
        summary += f"; {diagnosis.summary()}"
    if "llama_cli" in step.evidence:
        from ..evidence import llama_cli

        run = llama_cli.parse(log)
        evidence["llama_cli"] = run.as_evidence()
        if run.flag_error:
            findings.append("flag_rejected")
            status, summary = StepStatus.FAILED, f"the program rejected a flag: {run.flag_error}"
    return ctx.finish(step, status, summary, findings, evidence)


def _builds(step: m.ShellStep) -> bool:
    return "build" in step.evidence


def _runs_binary(step: m.ShellStep) -> bool:
    return bool({"llama_cli", "tensor_copy"} & set(step.evidence))


KIND = Kind(
    name="shell",
    model=m.ShellStep,
    plan=plan,
    apply=apply,
    judge=judge,
    builds=_builds,
    runs_binary=_runs_binary,
    exports=lambda step: list(step.exports),
    runs_commands=True,
    command_count=lambda step: len(step.commands),
)
