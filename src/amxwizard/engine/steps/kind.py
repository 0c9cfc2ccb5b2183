"""What the registry knows about one step kind: how to plan it, apply it, judge it, and what it is like."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...runbook import models as m
    from .base import Approval, Plan, PlanInput, RunIO, StepResult
    from .context import StepContext


def _never(step: Any) -> bool:
    return False


def _no_fields(step: Any) -> list[m.FormField]:
    return []


def _no_exports(step: Any) -> list[str]:
    return []


def _one(step: Any) -> int:
    return 1


CUT_OFF = "the wizard stopped while doing this step"
"""How every summary of an in-process attempt cut off midway begins."""


def _nothing_special(ctx: Any, step: Any) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Kind:
    """One step kind. ``plan`` never changes anything; ``apply`` carries out an approved plan; ``judge`` (command
    kinds) decides a finished attempt from its logs, the same whether or not a wizard watched it run."""

    name: str
    model: type[Any]
    plan: Callable[[StepContext, Any, PlanInput], Plan]
    apply: Callable[[StepContext, Any, Any, Approval, RunIO], StepResult]
    judge: Callable[[StepContext, Any], StepResult] | None = None
    builds: Callable[[Any], bool] = _never  # the step rebuilds the binaries
    runs_binary: Callable[[Any], bool] = _never  # the step runs a built binary (a stale build matters)
    fields: Callable[[Any], list[m.FormField]] = _no_fields  # fill-in fields a person answers
    exports: Callable[[Any], list[str]] = _no_exports  # shell variables the step sets for later steps
    asks: Callable[[Any], bool] = _never  # a person answers something for it (a form, the choice, a message)
    edits_files: bool = False  # the step changes source files (the editor can open them)
    runs_commands: bool = False  # the step runs shell commands (output, cancel, logs)
    command_count: Callable[[Any], int] = _one  # how many commands one attempt runs
    # The summary of an in-process attempt cut off midway (beginning with CUT_OFF), when the kind can say more than
    # the edits and documents it recorded (``None``: nothing kind-specific to say).
    cut_off: Callable[[StepContext, Any], str | None] = _nothing_special
