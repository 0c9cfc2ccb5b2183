"""What the three command kinds (shell, test, benchmark) share: planning the commands, running them, resuming."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ...runbook import models as m
from ...runbook.templates import TemplateError, render_shell
from ..runner import RunResult
from ..state import RunRecord, StepStatus
from .base import (
    AlreadyPassed,
    Approval,
    Blocker,
    Confirm,
    Prerequisite,
    RunCommands,
    RunIO,
    StaleBuild,
    StepResult,
)
from .context import StepContext

CommandStep = m.ShellStep | m.TestStep | m.BenchmarkStep
Judge = Callable[[StepContext, Any], StepResult]
_SHELL_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def plan_commands(ctx: StepContext, step: CommandStep, templates: Sequence[str], cwd: Path) -> RunCommands:
    """The commands as they will run, and what stands in the way: a missing export, a passed step, a stale
    build, a destructive step's question."""
    values, args = ctx.values(), ctx.runbook.args_variables
    try:
        commands = tuple(render_shell(c, values, args) for c in templates)
    except TemplateError as exc:
        reason = f"cannot fill in the commands of step {step.id}: {exc}"
        return RunCommands(step=step, cwd=cwd, blockers=(Prerequisite(reason=reason),))
    state = ctx.session.state.step(step.id)
    start = resume_index(ctx, step.id)
    # A value that points a write outside its root (repo=/, a planted link at a /tmp path) stops every command.
    blockers: list[Blocker] = [Prerequisite(reason=problem) for problem in ctx.policy().problems()]
    blockers += _exports_needed(ctx, commands)
    if start == 0:  # a resumed attempt was approved when it started
        if state.status is StepStatus.PASSED and not step.destructive:
            blockers.append(AlreadyPassed(step=step.id, summary=state.summary))
        stale = stale_build(ctx, step)
        if stale is not None:
            blockers.append(stale)
        if step.destructive:
            question = step.confirm or f"{step.title}: this cannot be undone. Go ahead?"
            blockers.append(Confirm(question=question))
    return RunCommands(step=step, commands=commands, cwd=cwd, start=start, blockers=tuple(blockers))


def resume_index(ctx: StepContext, step_id: str) -> int:
    """The first command of a step left running that never started (0 for a step that is not being resumed)."""
    state = ctx.session.state
    if state.step(step_id).status is not StepStatus.RUNNING:
        return 0
    runs = state.attempt_runs(step_id)
    if not runs or any(not r.finished for r in runs) or runs[-1].outcome != "ok":
        return 0
    return runs[-1].index + 1


def _exports_needed(ctx: StepContext, commands: Sequence[str]) -> list[Blocker]:
    """A step whose commands use a variable another step exports ($BACKUP_DIR) waits for that step: without it the
    shell would read an empty value and write to the wrong place."""
    from . import kind_of

    exporters: dict[str, str] = {}
    for _, other in ctx.runbook.iter_steps():
        for name in kind_of(other).exports(other):
            exporters.setdefault(name, other.id)
    have = ctx.session.env()
    out: list[Blocker] = []
    for name in dict.fromkeys(a or b for text in commands for a, b in _SHELL_VAR_RE.findall(text)):
        step_id = exporters.get(name)
        if step_id is not None and name not in have:
            out.append(
                Prerequisite(reason=f"the commands use ${name}, which step {step_id} sets: run it first", step=step_id)
            )
    return out


def stale_build(ctx: StepContext, step: m.Step) -> StaleBuild | None:
    """Running ``step`` now would test an old binary: a source file was edited after the last successful build.

    The runbook has no rebuild between the fix (phase 2) and the tests (phase 3); this says so before a test runs
    the binary built before the fix.
    """
    from . import kind_of

    kind = kind_of(step)
    if kind.builds(step) or not kind.runs_binary(step):
        return None
    state = ctx.session.state
    build_steps = [s.id for _, s in ctx.runbook.iter_steps() if kind_of(s).builds(s)]
    if not build_steps or not state.edits:
        return None
    passed = [(state.step(b).finished, b) for b in build_steps if state.step(b).status is StepStatus.PASSED]
    built_at, build_step = max(passed) if passed else ("", build_steps[0])
    newer = [e for e in state.edits if e["ts"] > built_at]
    if not newer:
        return None
    last = newer[-1]
    return StaleBuild(
        edited=str(last["path"]), edit_step=str(last.get("step", "?")), build_step=build_step, built_at=built_at
    )


def apply_commands(
    ctx: StepContext, step: CommandStep, plan: RunCommands, approval: Approval, io: RunIO, judge: Judge
) -> StepResult:
    if plan.start == 0:
        ctx.start(step, plan.acknowledged(approval))
    return run_from(ctx, step, plan.commands, plan.cwd, plan.start, io, judge)


def run_from(
    ctx: StepContext,
    step: m.Step,
    commands: Sequence[str],
    cwd: Path,
    start: int,
    io: RunIO,
    judge: Judge,
) -> StepResult:
    """Run the step's commands from ``start`` until one does not succeed, then judge the attempt."""
    from ..runs import run_command

    if not cwd.is_dir():
        return ctx.finish(step, StepStatus.FAILED, f"the working folder {cwd} does not exist (check the repo variable)")

    def started(handle: Any) -> None:
        ctx.handle = handle
        if io.on_started is not None:
            io.on_started(handle)

    from . import kind_of

    exports = step.exports if isinstance(step, m.ShellStep) else ()
    timeout: int | None = getattr(step, "timeout", None)
    fingerprints = kind_of(step).runs_binary(step) and not kind_of(step).builds(step)
    for index in range(start, len(commands)):
        if ctx.closing:  # between two commands of a step: the next start runs the rest (resume)
            return StepResult(step.id, StepStatus.RUNNING, "left for the next start")
        earlier = ctx.session.state.attempt_runs(step.id)
        result = run_command(
            ctx.session,
            step.id,
            index,
            commands[index],
            cwd,
            exports=exports,
            timeout=timeout,
            nice=ctx.nice,
            on_output=io.on_output,
            on_started=started,
            git_before=earlier[-1].git_after if earlier and earlier[-1].git_after else None,
            fingerprint=ctx.fingerprint(commands[index], cwd) if fingerprints else None,
        )
        ctx.handle = None
        if result.outcome == "detached":  # the wizard is closing; the next start picks the run up
            return StepResult(step.id, StepStatus.RUNNING, "still running in the background")
        if result.outcome != "ok":
            break
    return judge(ctx, step)


def describe_outcome(result: RunResult | RunRecord, index: int, total: int) -> str:
    which = f"command {index + 1} of {total}" if total > 1 else "the command"
    if result.outcome == "cancelled":
        return f"{which} was cancelled"
    if result.outcome == "timeout":
        return f"{which} ran out of time and was stopped"
    if result.outcome == "interrupted":
        return f"{which} was interrupted"
    if result.signal:
        return f"{which} was killed by signal {result.signal}"
    return f"{which} exited with status {result.exit_code}"


def stopped(runs: Sequence[RunRecord], total: int) -> str | None:
    """Why the commands stopped early, or ``None`` if every one of them ran and succeeded."""
    for run in runs:
        if run.outcome != "ok":
            return describe_outcome(run, run.index, total)
    return None if len(runs) >= total else f"only {len(runs)} of {total} commands ran"


def stopped_early(ctx: StepContext, step: m.Step, total: int) -> StepResult | None:
    """The verdict for an attempt that was cancelled, timed out or interrupted (nothing to judge in its log)."""
    runs = ctx.session.state.attempt_runs(step.id)
    reason = stopped(runs, total)
    if reason and runs and runs[-1].outcome in ("cancelled", "timeout", "interrupted"):
        return ctx.finish(step, StepStatus.FAILED, reason, [], {"outcome": runs[-1].outcome})
    return None
