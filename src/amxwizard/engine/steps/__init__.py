"""Every step kind as one module, registered in one table: ``plan`` (pure) and ``apply`` (an approved plan).

The UI and the CLI drive steps through :func:`plan` and :func:`apply` only; what a kind needs from a person comes
back as typed blockers on its plan (see :mod:`.base`), never as an exception.
"""

from __future__ import annotations

from typing import Any

from ...runbook import models as m
from . import approach, backup, benchmark, choice, cmake_edit, code_change, commit, docs, form, shell, test
from .base import Approval, Plan, PlanInput, RunIO, StepError, StepResult
from .context import StepContext
from .kind import Kind

KINDS: dict[type[Any], Kind] = {
    k.model: k
    for k in (
        shell.KIND,
        backup.KIND,
        code_change.KIND,
        cmake_edit.KIND,
        form.KIND,
        choice.KIND,
        approach.KIND,
        test.KIND,
        benchmark.KIND,
        commit.KIND,
        docs.KIND,
    )
}


def kind_of(step: m.Step) -> Kind:
    """The registered kind of ``step``."""
    return KINDS[type(step)]


def plan(ctx: StepContext, step_id: str, request: PlanInput | None = None) -> Plan:
    """What ``step_id`` will do and what stands in its way. Changes nothing; safe in a worker thread."""
    try:
        step = ctx.runbook.step(step_id)
    except KeyError:
        raise StepError(f"no step {step_id!r} in the runbook") from None
    return kind_of(step).plan(ctx, step, request or PlanInput())


def apply(ctx: StepContext, approved: Plan, approval: Approval, io: RunIO | None = None) -> StepResult:
    """Carry out a plan whose blockers ``approval`` resolves (anything else is a caller's mistake)."""
    left = approved.unresolved(approval)
    if left:
        raise ValueError(f"step {approved.step.id} is not approved: {left[0].describe()}")
    return kind_of(approved.step).apply(ctx, approved.step, approved, approval, io or RunIO())


def judge(ctx: StepContext, step: m.Step) -> StepResult | None:
    """Decide a finished attempt of a command step from its logs (``None`` for kinds that run no commands)."""
    kind = kind_of(step)
    return kind.judge(ctx, step) if kind.judge is not None else None


__all__ = ["KINDS", "Kind", "StepContext", "apply", "judge", "kind_of", "plan"]
