"""What happened while no wizard watched, recorded before anything is shown.

Every entry point that opens a session (``status``, ``report``, ``sessions``, ``step``, the TUI) settles it first:

- a run that ended while nobody watched is recorded with its exit code and log hash (``unwatched``), and a run
  that vanished without an exit status as interrupted;
- a step whose runs have all ended is judged from its logs by the same judge that would have judged it had a
  wizard watched (:func:`amxwizard.engine.steps.judge`), and the verdict says it was reached later (``settled``);
- a step stopped between two of its commands is *interrupted* with the first command that never started
  (``resume_at``): ``amxwizard step ID`` runs the rest, never the commands that ran;
- a step that ran in the wizard itself (a backup, an edit, the documents) and was cut off is *interrupted*, with
  what it had done (a half-made backup folder is marked incomplete by the backup itself).

Nothing is settled while a process of the step still lives: that step is running, and a wizard follows it. When
another wizard holds the session, :func:`open_settled` reads it without writing, and :func:`run_looks` gives the
truth of each unfinished run from its folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import events as ev
from .runs import RunLook, look, reconcile
from .session import Session, SessionError, SessionLocked
from .state import StepStatus

if TYPE_CHECKING:
    from ..runbook import RunbookFile
    from ..runbook import models as m
    from .executor import StepExecutor
    from .steps.base import StepResult


@dataclass(frozen=True, slots=True)
class Settled:
    """What settling found for one step: judged (passed/failed), interrupted, or still running."""

    step: str
    status: StepStatus
    summary: str
    result: StepResult | None = None

    def describe(self) -> str:
        return f"[{self.step}] {self.status.value}: {self.summary}"


def settle(session: Session, *, nice: int = 10) -> list[Settled]:
    """Record everything that happened while no wizard watched the session (it must be open for writing)."""
    from .executor import StepExecutor

    out: list[Settled] = []
    live: set[str] = set()
    for item in reconcile(session, follow=False):
        if item.state == "running":
            live.add(item.run.step)
            out.append(Settled(item.run.step, StepStatus.RUNNING, f"still running (run {item.run.run_id})"))
        elif item.state == "interrupted":  # gone without an exit status: recorded so, with its step
            state = session.state.step(item.run.step)
            out.append(Settled(item.run.step, StepStatus.INTERRUPTED, state.summary))
    executor = StepExecutor(session, nice=nice)
    executor.settling = True
    for _, step in session.runbook.model.iter_steps():
        if step.id in live or session.state.step(step.id).status is not StepStatus.RUNNING:
            continue
        out.append(_settle_step(executor, step))
    return out


def _settle_step(executor: StepExecutor, step: m.Step) -> Settled:
    from . import steps
    from .steps._commands import succeeded

    session = executor.session
    kind = steps.kind_of(step)
    runs = session.state.attempt_runs(step.id)
    if kind.runs_commands and kind.judge is not None:
        total = kind.command_count(step)
        if not runs:
            return _interrupted(
                session,
                step,
                "stopped before its first command started (the wizard that ran it is gone); run the step again",
                {},
            )
        last = runs[-1]
        if succeeded(last) and last.index + 1 < total:
            done, left = last.index + 1, total - last.index - 1
            rest = f"command {done + 1}" if left == 1 else f"commands {done + 1}-{total}"
            return _interrupted(
                session,
                step,
                f"stopped after command {done} of {total} (it succeeded) while no wizard watched; {rest} never "
                f"started: amxwizard step {step.id} runs the rest",
                {"resume_at": done, "exit_codes": [r.exit_code for r in runs]},
            )
        try:
            result = kind.judge(executor, step)
        except SessionError:
            raise
        except Exception as exc:  # a judge that cannot read its logs must not leave the step running forever
            return _interrupted(session, step, f"its commands ended, but their logs could not be judged: {exc}", {})
        return Settled(step.id, result.status, result.summary, result)
    return _interrupted(session, step, _what_was_done(executor, step), {})


def _interrupted(session: Session, step: m.Step, summary: str, evidence: dict[str, object]) -> Settled:
    session.record(
        ev.StepFinished(
            step=step.id, status=StepStatus.INTERRUPTED.value, summary=summary, evidence=dict(evidence), settled=True
        )
    )
    return Settled(step.id, StepStatus.INTERRUPTED, summary)


def _what_was_done(executor: StepExecutor, step: m.Step) -> str:
    """What an in-process step had done when the wizard running it was cut off, from the log and the disk."""
    from .steps import kind_of
    from .steps.kind import CUT_OFF as head

    special = kind_of(step).cut_off(executor, step)
    if special is not None:
        return special
    state = executor.session.state
    started = state.step(step.id).started
    edits = [e for e in state.edits if e.get("step") == step.id and str(e.get("ts", "")) >= started]
    documents = [d for d in state.documents.values() if d.get("step") == step.id and str(d.get("ts", "")) >= started]
    changed = [str(e["path"]) for e in edits] + [str(d["path"]) for d in documents]
    if changed:
        return (
            f"{head}; it had changed {', '.join(dict.fromkeys(changed))} (recorded); check the files, then run the "
            "step again (changes already made are found, not made twice)"
        )
    if kind_of(step).edits_files:
        return f"{head}; no change of it was recorded; check the files it edits, then run the step again"
    return f"{head}; nothing of it was recorded; run the step again"


# --- reading without the lock --------------------------------------------------------------------------------------


def run_looks(session: Session) -> dict[str, RunLook]:
    """What each run the log shows unfinished really is, from its folder (a read-only look)."""
    return {run.run_id: look(session, run) for run in session.state.running_runs()}


def _orphan_runs(session: Session) -> bool:
    """A run folder the log does not know (a wizard killed between starting a command and recording it)."""
    try:
        names = [p.name for p in session.runs_dir.iterdir() if p.is_dir()]
    except OSError:
        return False
    return any(name not in session.state.runs for name in names)


def needs_settling(session: Session, looks: dict[str, RunLook] | None = None) -> bool:
    """Whether a wizard opening ``session`` would record anything: damage to repair, a run that ended unrecorded,
    a step left running with no process of it alive, a run folder the log does not know."""
    if session.damage or _orphan_runs(session):
        return True
    looks = run_looks(session) if looks is None else looks
    if any(seen.state != "running" for seen in looks.values()):
        return True
    live = {seen.run.step for seen in looks.values()}
    return any(st.status is StepStatus.RUNNING and step_id not in live for step_id, st in session.state.steps.items())


def open_settled(folder: Path, runbook: RunbookFile, *, nice: int = 10) -> tuple[Session, list[Settled], str]:
    """The session with what happened while no wizard watched recorded, for a command that reads it.

    Returns ``(session, settled, holder)``. When nothing needs recording the session is only read (the folder stays
    byte for byte as it was). When something does, the lock is taken just long enough (the session comes back open
    for writing; close it). When another wizard holds it, or it cannot be written, the session is read-only and
    ``holder`` says why: the caller shows run folders' truth (:func:`run_looks`) rather than the log's.
    """
    peek = Session.peek(folder, runbook)
    if not needs_settling(peek):
        return peek, [], ""
    try:
        session = Session.open(folder, runbook)
    except SessionLocked as exc:
        return peek, [], str(exc)
    except SessionError as exc:
        return peek, [], f"the session cannot be written ({exc})"
    peek.close()
    try:
        settled = settle(session, nice=nice)
    except SessionError as exc:
        return session, [], f"what happened could not be recorded ({exc})"
    return session, settled, ""
