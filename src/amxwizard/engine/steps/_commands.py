"""What the three command kinds (shell, test, benchmark) share: planning the commands, running them, resuming, and
accounting for every line of them.

A step passes only when each of its commands did: the runner's shell writes down every line that failed (see
:mod:`amxwizard.engine.runner`), and :func:`account` turns that into the first line that failed and was not
tolerated, naming the line and the program (numactl when numactl itself failed, not the program it was to start).
"""

from __future__ import annotations

import bisect
import os
import re
import signal as signals
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    """The first command that never started, for a step left running (or interrupted) between two of its commands;
    0 for a step that is not being resumed."""
    state = ctx.session.state
    step_state = state.step(step_id)
    if step_state.status is not StepStatus.RUNNING and step_state.resume_at is None:
        return 0
    runs = state.attempt_runs(step_id)
    if not runs or any(not r.finished for r in runs) or not succeeded(runs[-1]):
        return 0
    return runs[-1].index + 1


def succeeded(run: RunRecord | RunResult) -> bool:
    """Whether a command ended well: status 0, or a last line whose failure the runbook tolerates (SIGPIPE after
    ``| head``, the crash a diagnostic step expects): the script's status is then that line's."""
    if run.outcome == "ok":
        return True
    if run.outcome != "failed" or not run.shell_errors:
        return False
    last = run.shell_errors[-1]
    return last.get("action") in ("sigpipe", "expected_crash") and last.get("status") == run.exit_code


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
    from ..session import SessionError

    if not cwd.is_dir():
        return ctx.finish(step, StepStatus.FAILED, f"the working folder {cwd} does not exist (check the repo variable)")

    def started(handle: Any) -> None:
        ctx.handle = handle
        if io.on_started is not None:
            io.on_started(handle)

    from . import kind_of

    exports = step.exports if isinstance(step, m.ShellStep) else ()
    expect_crash = bool(getattr(step, "expect_crash", False))
    timeout: int | None = getattr(step, "timeout", None)
    fingerprints = kind_of(step).runs_binary(step) and not kind_of(step).builds(step)
    for index in range(start, len(commands)):
        if ctx.closing:  # between two commands of a step: the next start runs the rest (resume)
            return StepResult(step.id, StepStatus.RUNNING, "left for the next start")
        earlier = ctx.session.state.attempt_runs(step.id)
        try:
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
                expect_crash=expect_crash,
            )
        except SessionError as exc:
            # It never started (a full disk preparing its folder, say): the step fails with the reason, never
            # stays running. If even that cannot be recorded, the next wizard settles it as interrupted.
            ctx.handle = None
            which = f"command {index + 1} of {len(commands)}" if len(commands) > 1 else "the command"
            return ctx.finish(step, StepStatus.FAILED, f"{which} could not be started: {exc}")
        ctx.handle = None
        if result.outcome == "detached":  # the wizard is closing; the next start picks the run up
            return StepResult(step.id, StepStatus.RUNNING, "still running in the background")
        if not succeeded(result):
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
        if not succeeded(run):
            return describe_outcome(run, run.index, total)
    return None if len(runs) >= total else f"only {len(runs)} of {total} commands ran"


def stopped_early(ctx: StepContext, step: m.Step, total: int) -> StepResult | None:
    """The verdict for an attempt that was cancelled, timed out or interrupted (nothing to judge in its log)."""
    runs = ctx.session.state.attempt_runs(step.id)
    reason = stopped(runs, total)
    if reason and runs and runs[-1].outcome in ("cancelled", "timeout", "interrupted"):
        return ctx.finish(step, StepStatus.FAILED, reason, [], {"outcome": runs[-1].outcome})
    return None


# --- every line accounted for ------------------------------------------------------------------------------------

CRASH_SIGNALS = frozenset(
    {signals.SIGILL, signals.SIGTRAP, signals.SIGABRT, signals.SIGBUS, signals.SIGFPE, signals.SIGSEGV}
)
_ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")


def signal_name(number: int) -> str:
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclass(frozen=True, slots=True)
class FailedLine:
    """The first line of a step's commands that failed and was not tolerated, and who failed there."""

    run: RunRecord
    total: int  # the step's number of commands
    line: int | None  # in the command, 1-based (``None``: the shell could not say)
    text: str  # the failing pipeline as written (its first line)
    program: str  # the program that failed there, wrappers looked through
    wrapper: str  # the wrapper it ran under (numactl, nice, ...), if any
    status: int | None
    numactl: Any = None  # numactl's own failure in the log (``evidence.numactl.NumactlFailure``), if any

    @property
    def signal(self) -> int | None:
        return self.status - 128 if self.status is not None and 128 < self.status < 128 + 65 else None

    @property
    def blamed(self) -> str:
        """The program to blame: numactl when numactl itself failed, else the program that failed."""
        return "numactl" if self.numactl is not None else self.program

    def where(self) -> str:
        which = f"command {self.run.index + 1} of {self.total}" if self.total > 1 else "the command"
        line = f", line {self.line}" if self.line is not None else ""
        text = f" ({self.text})" if self.text else ""
        return f"{which}{line}{text}"

    def describe(self) -> str:
        """One sentence naming the program, what happened, and the line."""
        if self.numactl is not None:
            return f"{self.numactl.describe()} — at {self.where()}"
        if self.status == 127:
            what = "was not found (exit status 127)"
        elif self.status == 126:
            what = "could not be run (exit status 126: not executable)"
        elif self.signal is not None:
            what = f"was killed by {signal_name(self.signal)} (exit status {self.status})"
        else:
            what = f"exited with status {self.status}"
        return f"{self.program} {what} at {self.where()}"

    def as_json(self) -> dict[str, Any]:
        return {
            "command": self.run.index,
            "run_id": self.run.run_id,
            "line": self.line,
            "text": self.text,
            "program": self.blamed,
            "status": self.status,
            "signal": self.signal,
        }


@dataclass(frozen=True, slots=True)
class Accounting:
    """How every command of an attempt ended, line by line."""

    failure: FailedLine | None = None  # the first line that failed and was not tolerated
    stopped: str | None = None  # cancelled, timed out, interrupted, or not every command ran
    crashes: tuple[tuple[RunRecord, dict[str, Any]], ...] = ()  # expected crashes: (run, shell record)
    tolerated: tuple[dict[str, Any], ...] = field(default=())  # SIGPIPE after a reader closed early

    @property
    def ok(self) -> bool:
        return self.failure is None and self.stopped is None

    def describe_crash(self, total: int) -> str:
        run, rec = self.crashes[0]
        which = f"command {run.index + 1} of {total}, " if total > 1 else ""
        status = int(rec.get("status", 0))
        failed = _failing_stage(rec.get("pipestatus") or [status])
        crash_status = (rec.get("pipestatus") or [status])[failed] if failed is not None else status
        pipeline = _locate(run.script, int(rec.get("line", 0)), rec.get("pipestatus") or [status])
        text = f" ({pipeline[0]})" if pipeline is not None else ""
        line = pipeline[3] if pipeline is not None else rec.get("line")
        return f"{which}line {line}{text} died of {signal_name(max(crash_status - 128, 0))}"


def account(ctx: StepContext, step: m.Step, total: int) -> Accounting:
    """Account for every command of the step's latest attempt: where it failed, or that each one succeeded."""
    runs = ctx.session.state.attempt_runs(step.id)
    crashes: list[tuple[RunRecord, dict[str, Any]]] = []
    tolerated: list[dict[str, Any]] = []
    for run in runs:
        for rec in run.shell_errors:
            if rec.get("action") == "expected_crash":
                crashes.append((run, rec))
            elif rec.get("action") == "sigpipe":
                tolerated.append(rec)
        if run.outcome in ("cancelled", "timeout", "interrupted") or not run.finished:
            return Accounting(stopped=describe_outcome(run, run.index, total), crashes=tuple(crashes))
        if succeeded(run):
            continue
        return Accounting(failure=_failed_line(ctx, run, total), crashes=tuple(crashes), tolerated=tuple(tolerated))
    if len(runs) < total:
        return Accounting(stopped=f"only {len(runs)} of {total} commands ran", crashes=tuple(crashes))
    return Accounting(crashes=tuple(crashes), tolerated=tuple(tolerated))


def _failed_line(ctx: StepContext, run: RunRecord, total: int) -> FailedLine:
    from ..evidence import numactl

    record = next((r for r in run.shell_errors if r.get("action") == "exit"), None)
    launcher = numactl.parse(ctx.read_log(run.run_id), run.exit_code)
    if record is None:
        # The shell wrote nothing down: an explicit `exit N`, or a last line such as `test -f x && ...`.
        return FailedLine(run, total, None, "", "the command", "", run.exit_code, launcher)
    line = int(record.get("line", 0)) or None
    pipestatus = [int(x) for x in record.get("pipestatus") or [record.get("status", 1)]]
    found = _locate(run.script, line or 0, pipestatus)
    if found is None:
        words = str(record.get("command", "")).split()
        program, wrapper = (os.path.basename(words[0]) if words else "the command"), ""
        text = _source_line(run.script, line)
    else:
        text, program, wrapper, line = found  # the line where the failing pipeline starts, as a person finds it
    status = int(record.get("status", run.exit_code or 1))
    return FailedLine(run, total, line, text, program, wrapper, status, launcher)


def _failing_stage(pipestatus: Sequence[int]) -> int | None:
    """The stage of a pipeline that failed: the last one that did not merely get SIGPIPE (141)."""
    failed = [i for i, s in enumerate(pipestatus) if s not in (0, 141)]
    if failed:
        return failed[-1]
    sigpiped = [i for i, s in enumerate(pipestatus) if s != 0]
    return sigpiped[-1] if sigpiped else None


def _source_line(script: str, line: int | None) -> str:
    lines = script.splitlines()
    if line is None or not 0 < line <= len(lines):
        return ""
    return _short(lines[line - 1].strip())


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _locate(script: str, line: int, pipestatus: Sequence[int]) -> tuple[str, str, str, int] | None:
    """``(text, program, wrapper, first line)`` of the pipeline bash reported failing at ``line``.

    Bash reports a pipeline at the line where its last stage starts (a multi-line simple command at its first
    line); the pipeline with as many stages as ``PIPESTATUS`` has entries is preferred.
    """
    from ...runbook.shell import Operator, Redirect, ShellSyntaxError, Word, lex
    from ..preflight.commands import unwrap

    try:
        tokens = lex(script).tokens
    except (ShellSyntaxError, ValueError):
        return None
    starts = [0] + [i + 1 for i, c in enumerate(script) if c == "\n"]

    def line_of(offset: int) -> int:
        return bisect.bisect_right(starts, offset)

    Stage = tuple[int, int, list[Word]]
    pipelines: list[list[Stage]] = []
    stages: list[Stage] = []
    words: list[Word] = []
    first: int | None = None
    last = 0

    def end_stage() -> None:
        nonlocal words, first, last
        if first is not None:
            stages.append((first, last, words))
        words, first, last = [], None, 0

    for token in tokens:
        if isinstance(token, Operator):
            end_stage()
            if token.text in ("|", "|&"):
                continue
            if stages:
                pipelines.append(stages)
            stages = []
            continue
        if isinstance(token, Word):
            at, end = token.start, token.end
            words.append(token)
        elif isinstance(token, Redirect) and token.target is not None:
            at, end = token.target.start, token.target.end
        elif isinstance(token, Redirect) and token.heredoc is not None:
            at = end = token.heredoc.start
        else:
            continue
        first = at if first is None else min(first, at)
        last = max(last, end)
    end_stage()
    if stages:
        pipelines.append(stages)
    candidates = [p for p in pipelines if line_of(p[-1][0]) == line]
    if not candidates:
        candidates = [p for p in pipelines if line_of(p[0][0]) <= line <= line_of(max(p[-1][1] - 1, p[-1][0]))]
    if not candidates:
        return None
    pipeline = next((p for p in candidates if len(p) == len(pipestatus)), candidates[-1])
    index = _failing_stage(pipestatus)
    stage = pipeline[min(index if index is not None else len(pipeline) - 1, len(pipeline) - 1)]
    text = _short(script[pipeline[0][0] : pipeline[-1][1]].split("\n", 1)[0].rstrip(" \\"))
    if script[pipeline[0][0] : pipeline[-1][1]].count("\n"):
        text = _short(text + " …")
    stage_words = [w for w in stage[2]]
    while stage_words and _ASSIGNMENT_RE.match(stage_words[0].text):
        stage_words = stage_words[1:]
    start = line_of(pipeline[0][0])
    if not stage_words:
        return text, "the command", "", start
    program, wrapper = stage_words[0].text, ""
    inner = unwrap(program, stage_words[1:])
    while inner:
        wrapper = wrapper or os.path.basename(program)
        program = inner[0].text
        inner = unwrap(program, inner[1:])
    return text, os.path.basename(program) or program, wrapper, start


def off_target_failure(ctx: StepContext, step: m.Step, total: int, program: str, setup: int) -> StepResult | None:
    """The verdict when a line other than the tested program failed: a setup command, ``cd``, the ``tee`` that
    keeps the log. The program's own failures (a crash, a rejected flag, numactl before it) are the evidence's to
    judge, not this; ``None`` leaves them to it."""
    failure = account(ctx, step, total).failure
    if failure is None:
        return None
    tested = failure.program == program or failure.numactl is not None or failure.line is None
    if failure.run.index >= setup and tested:
        return None
    evidence: dict[str, Any] = {
        "exit_codes": [r.exit_code for r in ctx.session.state.attempt_runs(step.id)],
        "failed_line": failure.as_json(),
    }
    return ctx.finish(step, StepStatus.FAILED, failure.describe(), [], evidence)
