"""The steps of one session, for the TUI (from worker threads) and ``amxwizard step``: plan, approve, apply.

Everything a person decides comes in as an :class:`Approval` or as recorded answers; what a step still needs is a
typed blocker on its plan (see :mod:`.steps.base`). The person's other decisions (skip, a verdict on an
interrupted run, ticks) are recorded here too, each with its reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..runbook import models as m
from . import events as ev
from . import steps
from .runner import OutputCallback
from .session import Session, SessionError
from .state import StepStatus
from .steps import _edits
from .steps._commands import resume_index, run_from, stale_build
from .steps.base import (
    Approval,
    Blocked,
    MissingAnswers,
    Plan,
    PlanChanged,
    PlanInput,
    RunCommands,
    RunIO,
    StaleBuild,
    StepError,
    StepResult,
)
from .steps.context import StepContext


class StepExecutor(StepContext):
    """Plans and applies the steps of one session. One step at a time (the TUI applies in one worker)."""

    def __init__(self, session: Session, *, nice: int = 10) -> None:
        super().__init__(session, nice=nice)

    # -- plan and apply ------------------------------------------------------------------------------------------

    def plan(self, step_id: str, request: PlanInput | None = None) -> Plan:
        """What ``step_id`` will do and what stands in its way. Changes nothing."""
        return steps.plan(self, step_id, request)

    def apply(
        self,
        plan: Plan,
        approval: Approval,
        *,
        on_output: OutputCallback | None = None,
        on_started: Callable[[Any], None] | None = None,
    ) -> StepResult:
        """Carry out an approved plan (its blockers resolved by ``approval``)."""
        return steps.apply(self, plan, approval, RunIO(on_output, on_started))

    def run(
        self,
        step_id: str,
        *,
        confirmed: bool = False,
        run_stale: bool = False,
        again: bool = False,
        allow_unproven: bool = False,
        answers: Mapping[str, str] | None = None,
        message: str | None = None,
        extra_files: Sequence[str] = (),
        on_output: OutputCallback | None = None,
        on_started: Callable[[Any], None] | None = None,
    ) -> StepResult | Blocked:
        """Record ``answers``, plan the step and apply it if the approval resolves every blocker."""
        self.runbook_step(step_id)
        for field_id, value in (answers or {}).items():  # answers are kept even if the step cannot run yet
            self.answer(step_id, field_id, value)
        approval = Approval(confirmed=confirmed, run_stale=run_stale, again=again, allow_unproven=allow_unproven)
        plan = self.plan(step_id, PlanInput(message, tuple(extra_files)))
        left = plan.unresolved(approval)
        if left:
            return Blocked(plan, left)
        return self.apply(plan, approval, on_output=on_output, on_started=on_started)

    def accept_suggestions(self, plan: Plan) -> int:
        """Record the suggested value of every missing answer that has one (recorded as suggested)."""
        missing = plan.blocker(MissingAnswers)
        if not isinstance(missing, MissingAnswers):
            return 0
        for needed in missing.suggested:
            assert needed.suggestion is not None
            self.answer(plan.step.id, needed.field.id, needed.suggestion.value, suggested=needed.suggestion.value)
        return len(missing.suggested)

    def runbook_step(self, step_id: str) -> m.Step:
        try:
            return self.runbook.step(step_id)
        except KeyError:
            raise StepError(f"no step {step_id!r} in the runbook") from None

    def stale_build(self, step: m.Step) -> StaleBuild | None:
        """Why running ``step`` now would test an old binary, if it would."""
        return stale_build(self, step)

    # -- a step left running by an earlier wizard ----------------------------------------------------------------

    def resume(
        self,
        step_id: str,
        on_output: OutputCallback | None = None,
        on_started: Callable[[Any], None] | None = None,
    ) -> StepResult | None:
        """Finish a step left running once its last run has ended: run the commands that remain, then judge it.
        ``None`` if there is nothing to resume (or a run is still going)."""
        step = self.runbook.steps_by_id.get(step_id)
        if step is None or self.session.state.step(step_id).status is not StepStatus.RUNNING:
            return None
        kind = steps.kind_of(step)
        if not kind.runs_commands or kind.judge is None:
            return None
        runs = self.session.state.attempt_runs(step.id)
        if any(not r.finished for r in runs):
            return None
        if runs and runs[-1].outcome != "ok":
            return kind.judge(self, step)
        plan = self.plan(step_id)
        if not isinstance(plan, RunCommands):
            return None
        io = RunIO(on_output, on_started)
        return run_from(self, step, plan.commands, plan.cwd, resume_index(self, step_id), io, kind.judge)

    @staticmethod
    def warm_up() -> None:
        """Import what running a step needs (GitPython for the snapshot, sh, the runs' bookkeeping): ~150 ms of
        imports that would otherwise hold the interpreter while the first run starts and the person presses keys."""
        import importlib

        for name in ("git", "sh", "amxwizard.engine.runs", "amxwizard.engine.runner"):
            with contextlib.suppress(ImportError):  # GitPython refuses to import without a git program
                importlib.import_module(name)

    def cancel(self) -> bool:
        """Cancel the command that is running, if any (SIGTERM, then SIGKILL, to its whole process group)."""
        handle = self.handle
        if handle is None or handle.done:
            return False
        handle.cancel()
        return True

    def detach(self) -> None:
        """The wizard is closing: stop following the running command without stopping it, and start no other."""
        self.closing = True
        handle = self.handle
        if handle is not None and not handle.done:
            handle.detach()

    # -- what a person decides -----------------------------------------------------------------------------------

    def answer(self, step_id: str, field_id: str, value: str, suggested: str | None = None) -> bool:
        """Record a person's answer if it differs from what is recorded; True if recorded."""
        fld = self.runbook.fields.get(field_id)
        if fld is None and field_id != "approach":
            raise StepError(f"no fill-in field {field_id!r} (fields: {', '.join(self.runbook.fields)})")
        if fld is not None and fld.type == "choice" and value and value not in fld.options:
            raise StepError(f"{field_id}: {value!r} is not one of {', '.join(fld.options)}")
        if fld is not None and fld.type == "number" and value:
            try:
                float(value)
            except ValueError:
                raise StepError(f"{field_id}: {value!r} is not a number") from None
        if self.session.state.answer(field_id) == value:
            return False
        self.session.record(ev.FieldAnswered(step=step_id, field=field_id, value=value, suggested=suggested))
        return True

    def skip(self, step_id: str, reason: str) -> None:
        """Mark a step skipped; a reason is required."""
        if not reason.strip():
            raise StepError("a skip needs a reason")
        self.runbook_step(step_id)
        self.session.record(ev.StepSkipped(step=step_id, reason=reason.strip()))

    def decide(self, step_id: str, status: StepStatus, note: str) -> None:
        """A person's verdict on a step the wizard could not judge (an interrupted run)."""
        if status not in (StepStatus.PASSED, StepStatus.FAILED):
            raise StepError("decide a step as passed or failed")
        if not note.strip():
            raise StepError("say why (a short note)")
        self.session.record(
            ev.StepFinished(
                step=step_id,
                status=status.value,
                summary=f"marked {status.value} by hand: {note.strip()}",
                evidence={"manual": True},
            )
        )

    def tick_criterion(self, criterion_id: str, ticked: bool, note: str) -> None:
        if criterion_id not in {c.id for c in self.runbook.criteria}:
            raise StepError(f"no criterion {criterion_id!r}")
        if ticked and not note.strip():
            raise StepError("ticking a criterion by hand needs a short note")
        self.session.record(ev.CriterionTicked(criterion=criterion_id, ticked=ticked, note=note.strip()))

    def tick_checklist(self, item_id: str, checked: bool, note: str = "") -> None:
        """Tick (running the item's check first) or untick a checklist item. A check that does not pass needs a
        note saying why the item is confirmed anyway (:class:`StepError` otherwise, recording nothing)."""
        from .checklist import ChecklistError, tick

        try:
            tick(self.session, item_id, untick=not checked, note=note, values=self.values())
        except ChecklistError as exc:
            raise StepError(str(exc)) from None

    # -- editing by hand -----------------------------------------------------------------------------------------

    def edit_target(self, step: m.Step) -> tuple[Path, int]:
        """The file and line to open in an editor for ``step`` (its first edit's function); needs the backup."""
        if not steps.kind_of(step).edits_files:
            raise StepError(f"step {step.id} edits no files")
        return _edits.editable(self, step)  # type: ignore[arg-type]

    def record_hand_edits(self, step: m.Step) -> list[Path]:
        """Record the changes a person made by hand to the files ``step`` touches."""
        if not steps.kind_of(step).edits_files:
            return []
        paths = [self.path(e.file) for e in getattr(step, "edits", [])]
        return _edits.record_outside_edits(self, step, paths, "editor")

    def file_diff(self, path: Path) -> str:
        """``git diff`` of one file against HEAD (or against its backup outside a repo)."""
        return _edits.file_diff(self, path)


__all__ = [
    "Approval",
    "Blocked",
    "Plan",
    "PlanChanged",
    "PlanInput",
    "SessionError",
    "StepError",
    "StepExecutor",
    "StepResult",
]
