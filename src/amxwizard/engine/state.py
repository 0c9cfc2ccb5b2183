"""A session's current state, derived only by replaying its events. The one place state transitions happen.

The event kinds and their data are declared in :mod:`.events`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from . import events as ev
from .store import GENESIS, Event


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"

    @property
    def done(self) -> bool:
        return self in (StepStatus.PASSED, StepStatus.SKIPPED)


@dataclass
class RunRecord:
    """One command of one step, as started and (once known) as finished."""

    run_id: str
    step: str
    index: int
    script: str
    cwd: str
    pid: int | None
    proc_start: int | None
    boot_id: str
    log: str
    started: str
    git_before: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None
    finished: bool = False
    outcome: str = ""
    exit_code: int | None = None
    signal: int | None = None
    ended: str = ""
    duration: float | None = None
    log_size: int | None = None
    log_sha256: str = ""
    git_after: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepState:
    status: StepStatus = StepStatus.PENDING
    runs: list[str] = field(default_factory=list)
    summary: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    by: str = ""
    skip_reason: str = ""
    attempts: int = 0
    acknowledged: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Answer:
    value: str
    suggested: str | None
    step: str
    ts: str
    by: str


@dataclass
class Tick:
    ticked: bool
    note: str
    ts: str
    by: str
    auto: bool = False
    finding: str = ""


@dataclass
class SessionState:
    session_id: str = ""
    runbook_path: str = ""
    runbook_sha256: str = ""
    runbook_title: str = ""
    target: str = ""
    created: str = ""
    created_by: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    accepted_values: dict[str, str] | None = None
    exports: dict[str, str] = field(default_factory=dict)
    steps: dict[str, StepState] = field(default_factory=dict)
    runs: dict[str, RunRecord] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)
    approach: str | None = None
    approach_reason: str = ""
    checklist: dict[str, Tick] = field(default_factory=dict)
    criteria: dict[str, Tick] = field(default_factory=dict)
    backup: dict[str, Any] | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    commit: dict[str, Any] | None = None
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] | None = None  # the machine as last observed (machine_observed)
    finished: bool = False
    last_seq: int = 0
    last_hash: str = GENESIS
    last_ts: str = ""

    def step(self, step_id: str) -> StepState:
        """The state of ``step_id`` (pending if nothing happened to it yet)."""
        return self.steps.get(step_id) or StepState()

    @property
    def setup_accepted(self) -> bool:
        return self.accepted_values is not None

    def attempt_runs(self, step_id: str) -> list[RunRecord]:
        """The runs of the step's latest attempt, in the order they started."""
        return [self.runs[r] for r in self.step(step_id).runs if r in self.runs]

    def running_runs(self) -> list[RunRecord]:
        """Runs started and not yet finished (candidates for reattach)."""
        return [run for run in self.runs.values() if not run.finished]

    def answer(self, field_id: str) -> str | None:
        ans = self.answers.get(field_id)
        return ans.value if ans else None

    # -- the transitions ---------------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one event into the state. Unknown kinds are kept in the log and ignored here.

        Containers are replaced, never changed in place: the UI thread may be iterating over one while a worker
        thread records an event, and it then simply goes on over the version it started with.
        """
        fact = ev.parse(event.kind, event.data)
        handler = _HANDLERS.get(type(fact)) if fact is not None else None
        if handler is not None:
            handler(self, fact, event.ts, str(event.data.get("by", "")))
        self.last_seq, self.last_hash, self.last_ts = event.seq, event.hash, event.ts

    def _step_mut(self, step_id: str) -> StepState:
        if step_id not in self.steps:
            self.steps = {**self.steps, step_id: StepState()}
        return self.steps[step_id]


def _created(s: SessionState, e: ev.SessionCreated, ts: str, by: str) -> None:
    s.session_id = e.session_id
    s.runbook_path = e.runbook_path
    s.runbook_sha256 = e.runbook_sha256
    s.runbook_title = e.runbook_title
    s.target = e.target
    s.created, s.created_by = ts, by


def _opened(s: SessionState, e: ev.SessionOpened, ts: str, by: str) -> None:
    s.opened = [*s.opened, {"ts": ts, "by": by, "pid": e.pid}]


def _variables(s: SessionState, e: ev.VariablesSet, ts: str, by: str) -> None:
    s.overrides = {**s.overrides, **{str(k): str(v) for k, v in e.values.items()}}
    s.target = e.target


def _accepted(s: SessionState, e: ev.SetupAccepted, ts: str, by: str) -> None:
    s.accepted_values = {str(k): str(v) for k, v in e.values.items()}


def _checklist(s: SessionState, e: ev.ChecklistTicked, ts: str, by: str) -> None:
    s.checklist = {**s.checklist, e.item: Tick(bool(e.checked), e.note, ts, by, bool(e.auto), e.finding or "")}


def _step_started(s: SessionState, e: ev.StepStarted, ts: str, by: str) -> None:
    st = s._step_mut(e.step)
    st.status = StepStatus.RUNNING
    st.started, st.by, st.finished = ts, by, ""
    st.summary, st.skip_reason, st.evidence = "", "", {}
    st.runs = []
    st.attempts += 1
    st.acknowledged = list(e.acknowledged or [])


def _command_started(s: SessionState, e: ev.CommandStarted, ts: str, by: str) -> None:
    run = RunRecord(
        run_id=e.run_id,
        step=e.step,
        index=int(e.index or 0),
        script=e.script,
        cwd=e.cwd,
        pid=e.pid,
        proc_start=e.proc_start,
        boot_id=e.boot_id,
        log=e.log,
        started=ts,
        git_before=e.git_before or {},
        fingerprint=e.fingerprint,
    )
    s.runs = {**s.runs, run.run_id: run}
    st = s._step_mut(run.step)
    st.status = StepStatus.RUNNING
    st.runs = [*st.runs, run.run_id]


def _command_finished(s: SessionState, e: ev.CommandFinished, ts: str, by: str) -> None:
    run = s.runs.get(e.run_id)
    if run is None:
        return
    run.finished = True
    run.outcome = e.outcome
    run.exit_code = e.exit_code
    run.signal = e.signal
    run.ended = e.ended or ts
    run.duration = e.duration
    run.log_size = e.log_size
    run.log_sha256 = e.log_sha256
    run.git_after = e.git_after or {}
    s.exports = {**s.exports, **{str(k): str(v) for k, v in (e.exports or {}).items()}}


def _step_finished(s: SessionState, e: ev.StepFinished, ts: str, by: str) -> None:
    st = s._step_mut(e.step)
    st.status = StepStatus(e.status or "failed")
    st.summary = e.summary
    st.evidence = e.evidence or {}
    st.finished, st.by = ts, by or st.by


def _step_skipped(s: SessionState, e: ev.StepSkipped, ts: str, by: str) -> None:
    st = s._step_mut(e.step)
    st.status = StepStatus.SKIPPED
    st.skip_reason = e.reason
    st.finished, st.by = ts, by


def _step_reset(s: SessionState, e: ev.StepReset, ts: str, by: str) -> None:
    st = s._step_mut(e.step)
    st.status, st.skip_reason, st.summary, st.finished = StepStatus.PENDING, "", "", ""


def _field(s: SessionState, e: ev.FieldAnswered, ts: str, by: str) -> None:
    s.answers = {**s.answers, e.field: Answer(str(e.value), e.suggested, e.step, ts, by)}


def _approach(s: SessionState, e: ev.ApproachChosen, ts: str, by: str) -> None:
    s.approach = e.approach or None
    s.approach_reason = e.reason


def _criterion(s: SessionState, e: ev.CriterionTicked, ts: str, by: str) -> None:
    s.criteria = {**s.criteria, e.criterion: Tick(bool(e.ticked), e.note, ts, by)}


def _record(e: ev.Fact, ts: str, by: str) -> dict[str, Any]:
    return {**e.to_data(), "by": by, "ts": ts}


def _backup(s: SessionState, e: ev.BackupMade, ts: str, by: str) -> None:
    s.backup = _record(e, ts, by)
    if e.export and e.dir:
        s.exports = {**s.exports, e.export: e.dir}


def _edited(s: SessionState, e: ev.FileEdited, ts: str, by: str) -> None:
    s.edits = [*s.edits, _record(e, ts, by)]


def _commit(s: SessionState, e: ev.CommitMade, ts: str, by: str) -> None:
    s.commit = _record(e, ts, by)


def _document(s: SessionState, e: ev.DocumentUpdated, ts: str, by: str) -> None:
    s.documents = {**s.documents, e.path: _record(e, ts, by)}


def _finished(s: SessionState, e: ev.SessionFinished, ts: str, by: str) -> None:
    s.finished = True


def _machine(s: SessionState, e: ev.MachineObserved, ts: str, by: str) -> None:
    s.machine = e.to_data()


def _note(s: SessionState, e: ev.Note, ts: str, by: str) -> None:
    s.notes = [*s.notes, _record(e, ts, by)]


_Handler = Callable[[SessionState, Any, str, str], None]
_HANDLERS: dict[type[ev.Fact], _Handler] = {
    ev.SessionCreated: _created,
    ev.SessionOpened: _opened,
    ev.VariablesSet: _variables,
    ev.SetupAccepted: _accepted,
    ev.ChecklistTicked: _checklist,
    ev.StepStarted: _step_started,
    ev.CommandStarted: _command_started,
    ev.CommandFinished: _command_finished,
    ev.StepFinished: _step_finished,
    ev.StepSkipped: _step_skipped,
    ev.StepReset: _step_reset,
    ev.FieldAnswered: _field,
    ev.ApproachChosen: _approach,
    ev.CriterionTicked: _criterion,
    ev.BackupMade: _backup,
    ev.FileEdited: _edited,
    ev.CommitMade: _commit,
    ev.DocumentUpdated: _document,
    ev.SessionFinished: _finished,
    ev.Note: _note,
    ev.MachineObserved: _machine,
}


def replay(events: list[Event]) -> SessionState:
    """The state a list of events leads to."""
    state = SessionState()
    for event in events:
        state.apply(event)
    return state
