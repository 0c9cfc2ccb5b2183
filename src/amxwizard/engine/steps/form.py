"""A form: fill-in fields (pre-filled from the evidence where it can), saved to a file when the form says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...runbook import models as m
from ..fileio import atomic_write
from ..state import StepStatus
from .base import (
    Approval,
    Blocker,
    MissingAnswers,
    NeededAnswer,
    PlanInput,
    Prerequisite,
    RunIO,
    SaveAnswers,
    StepError,
    StepResult,
    Suggestion,
)
from .context import StepContext
from .kind import Kind


def suggestions(ctx: StepContext, step: m.FormStep) -> dict[str, Suggestion]:
    """Field id -> what the evidence suggests for it, with where it came from (fields with a ``prefill`` only)."""
    found = ctx.suggestion(step)
    if found is None:
        return {}
    line = getattr(found, "line", None)
    source = f"the log of step {step.evidence_from}" + (f", line {line}" if line else "")
    return {
        f.id: Suggestion(found.values[f.prefill], source)
        for f in step.fields
        if f.prefill and found.values.get(f.prefill)
    }


def plan(ctx: StepContext, step: m.FormStep, request: PlanInput) -> SaveAnswers:
    state = ctx.session.state
    answers = tuple((f.id, state.answer(f.id) or "") for f in step.fields)
    blockers: list[Blocker] = []
    found = suggestions(ctx, step)
    evidence = ctx.suggestion(step)
    missing = ctx.missing_answers(step)
    if missing:
        needed = tuple(NeededAnswer(f, found.get(f.id)) for f in missing)
        blockers.append(MissingAnswers(step=step.id, needed=needed))
    output: Path | None = None
    text = ""
    if step.output is not None:
        try:
            output = ctx.path(step.output.path)
        except StepError as exc:  # the output lives in $BACKUP_DIR: no backup yet
            blockers.append(Prerequisite(reason=f"cannot place the answers' file: {exc}"))
        else:
            text = ctx.text(step.output.template) if not missing else ""
    return SaveAnswers(
        step=step,
        answers=answers,
        output=output,
        output_text=text,
        suggestions=tuple(found.items()),
        evidence=getattr(evidence, "reason", "") or "",
        evidence_line=getattr(evidence, "line", None),
        blockers=tuple(blockers),
    )


def apply(ctx: StepContext, step: m.FormStep, plan: SaveAnswers, approval: Approval, io: RunIO) -> StepResult:
    ctx.start(step, plan.acknowledged(approval))
    evidence: dict[str, Any] = {"answers": dict(plan.answers)}
    summary = "answered"
    if step.output is not None and plan.output is not None:
        target = plan.output
        try:
            old = target.read_text(encoding="utf-8") if (step.output.append and target.exists()) else ""
            atomic_write(target, old + ("\n" if old and not old.endswith("\n") else "") + plan.output_text)
        except OSError as exc:
            return ctx.finish(step, StepStatus.FAILED, f"cannot write {target}: {exc.strerror or exc}")
        evidence["output"] = str(target)
        summary = f"answered; written to {target}"
    return ctx.finish(step, StepStatus.PASSED, summary, evidence=evidence)


KIND = Kind(
    name="form", model=m.FormStep, plan=plan, apply=apply, fields=lambda step: list(step.fields), asks=lambda step: True
)
