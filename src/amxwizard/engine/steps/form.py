"""A form: fill-in fields (pre-filled from the evidence where it can), saved to a file when the form says so."""

from __future__ import annotations

from typing import Any

from ...runbook import models as m
from ...runbook.templates import TemplateError
from ..confine import Confined
from ..fileio import atomic_write, read_file
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
    output: Confined | None = None
    text = ""
    if step.output is not None:
        try:
            output = ctx.policy().locate(step.output.path, "the form's output file")
        except (OSError, TemplateError) as exc:  # the output lives in $BACKUP_DIR: no backup yet
            blockers.append(Prerequisite(reason=f"cannot place the answers' file: {exc}"))
        else:
            text = ctx.text(step.output.template) if not missing else ""
    return SaveAnswers(
        step=step,
        answers=answers,
        output=output.path if output is not None else None,
        output_root=output.root if output is not None else None,
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
        target, root = plan.output, plan.output_root
        try:
            old = ""
            if step.output.append:
                try:
                    old = read_file(target, root=root).decode("utf-8", "replace")
                except FileNotFoundError:
                    old = ""
            atomic_write(target, old + ("\n" if old and not old.endswith("\n") else "") + plan.output_text, root=root)
        except OSError as exc:
            return ctx.finish(step, StepStatus.FAILED, f"cannot write {target}: {exc.strerror or exc}")
        evidence["output"] = str(target)
        summary = f"answered; written to {target}"
    return ctx.finish(step, StepStatus.PASSED, summary, evidence=evidence)


KIND = Kind(
    name="form", model=m.FormStep, plan=plan, apply=apply, fields=lambda step: list(step.fields), asks=lambda step: True
)
