"""A session's current state, derived only by replaying its events. The one place state transitions happen.

The event kinds and their data are declared in :mod:`.events`.

Cost is linear in the number of events. A replay builds the state alone (no other thread can see it yet), so it
changes containers in place. Once the state is live, another thread (the UI) may be iterating over any container
while a worker records an event, so each transition replaces the container it changes instead: the reader goes on
over the version it started with, and never sees one change size under it.

A state can also be saved as a *snapshot* (:func:`snapshot_data`) with the chain hash it covers; a session reopens
from its snapshot and replays only the events after it, provided the log still holds that hash at that number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from . import events as ev
from .store import GENESIS, Event

NOT_STARTED = "not_started"
"""The outcome of a run whose folder was prepared but whose command never began (a wizard killed in between)."""


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
    shell_errors: list[dict[str, Any]] = field(default_factory=list)  # failed lines the command's shell reported
    unwatched: bool = False  # the run had ended before a wizard recorded it


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
    settled: bool = False  # the verdict was reached while no wizard watched (a later wizard judged the logs)

    @property
    def resume_at(self) -> int | None:
        """The first command that never started, for an attempt interrupted between two of its commands."""
        if self.status is not StepStatus.INTERRUPTED:
            return None
        value = self.evidence.get("resume_at")
        return value if isinstance(value, int) and value > 0 else None


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
    # False only while a replay builds the state alone: transitions may then change containers in place.
    live: bool = field(default=True, compare=False, repr=False)

    def step(self, step_id: str) -> StepState:
        """The state of ``step_id`` (pending if nothing happened to it yet)."""
        return self.steps.get(step_id) or StepState()

    @property
    def setup_accepted(self) -> bool:
        return self.accepted_values is not None

    def attempt_runs(self, step_id: str) -> list[RunRecord]:
        """The runs of the step's latest attempt, in the order they started (a folder prepared for a command that
        never started is not a run: see :data:`NOT_STARTED`)."""
        return [
            run for r in self.step(step_id).runs if (run := self.runs.get(r)) is not None and run.outcome != NOT_STARTED
        ]

    def running_runs(self) -> list[RunRecord]:
        """Runs started and not yet finished (candidates for reattach)."""
        return [run for run in self.runs.values() if not run.finished]

    def answer(self, field_id: str) -> str | None:
        ans = self.answers.get(field_id)
        return ans.value if ans else None

    # -- the transitions ---------------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one event into the state. Unknown kinds are kept in the log and ignored here.

        On a live state containers are replaced, never changed in place: the UI thread may be iterating over one
        while a worker thread records an event, and it then simply goes on over the version it started with.
        """
        fact = ev.parse(event.kind, event.data)
        handler = _HANDLERS.get(type(fact)) if fact is not None else None
        if handler is not None:
            handler(self, fact, event.ts, str(event.data.get("by", "")))
        self.last_seq, self.last_hash, self.last_ts = event.seq, event.hash, event.ts

    def _step_mut(self, step_id: str) -> StepState:
        if step_id not in self.steps:
            self._put("steps", step_id, StepState())
        return self.steps[step_id]

    def _put(self, name: str, key: str, value: Any) -> None:
        """``self.<name>[key] = value``: in place during a replay, by a new dict once the state is live."""
        current: dict[str, Any] = getattr(self, name)
        if self.live:
            setattr(self, name, {**current, key: value})
        else:
            current[key] = value

    def _add(self, name: str, item: Any) -> None:
        """``self.<name>.append(item)``: in place during a replay, by a new list once the state is live."""
        current: list[Any] = getattr(self, name)
        if self.live:
            setattr(self, name, [*current, item])
        else:
            current.append(item)

    def _merge(self, name: str, values: dict[str, str]) -> None:
        if not values:
            return
        current: dict[str, str] = getattr(self, name)
        if self.live:
            setattr(self, name, {**current, **values})
        else:
            current.update(values)


def _created(s: SessionState, e: ev.SessionCreated, ts: str, by: str) -> None:
    s.session_id = e.session_id
    s.runbook_path = e.runbook_path
    s.runbook_sha256 = e.runbook_sha256
    s.runbook_title = e.runbook_title
    s.target = e.target
    s.created, s.created_by = ts, by


def _opened(s: SessionState, e: ev.SessionOpened, ts: str, by: str) -> None:
    s._add("opened", {"ts": ts, "by": by, "pid": e.pid})


def _variables(s: SessionState, e: ev.VariablesSet, ts: str, by: str) -> None:
    s._merge("overrides", {str(k): str(v) for k, v in e.values.items()})
    s.target = e.target


def _accepted(s: SessionState, e: ev.SetupAccepted, ts: str, by: str) -> None:
    s.accepted_values = {str(k): str(v) for k, v in e.values.items()}


def _checklist(s: SessionState, e: ev.ChecklistTicked, ts: str, by: str) -> None:
    s._put("checklist", e.item, Tick(bool(e.checked), e.note, ts, by, bool(e.auto), e.finding or ""))


def _step_started(s: SessionState, e: ev.StepStarted, ts: str, by: str) -> None:
    st = s._step_mut(e.step)
    st.status = StepStatus.RUNNING
    st.started, st.by, st.finished = ts, by, ""
    st.summary, st.skip_reason, st.evidence = "", "", {}
    st.runs = []
    st.attempts += 1
    st.acknowledged = list(e.acknowledged or [])
    st.settled = False


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
    s._put("runs", run.run_id, run)
    st = s._step_mut(run.step)
    st.status = StepStatus.RUNNING
    st.runs = [*st.runs, run.run_id]  # a handful per attempt: copying is cheap


def _command_finished(s: SessionState, e: ev.CommandFinished, ts: str, by: str) -> None:
    run = s.runs.get(e.run_id)
    if run is None or run.finished:
        return  # an end recorded twice (a lost log restored, say) is evidence once: the first record stands
    run.finished = True
    run.outcome = e.outcome
    run.exit_code = e.exit_code
    run.signal = e.signal
    run.ended = e.ended or ts
    run.duration = e.duration
    run.log_size = e.log_size
    run.log_sha256 = e.log_sha256
    run.git_after = e.git_after or {}
    run.shell_errors = list(e.shell_errors or [])
    run.unwatched = bool(e.unwatched)
    s._merge("exports", {str(k): str(v) for k, v in (e.exports or {}).items()})


def _step_finished(s: SessionState, e: ev.StepFinished, ts: str, by: str) -> None:
    st = s._step_mut(e.step)
    st.status = StepStatus(e.status or "failed")
    st.summary = e.summary
    st.evidence = e.evidence or {}
    st.finished, st.by = ts, by or st.by
    st.settled = bool(e.settled)


def _step_skipped(s: SessionState, e: ev.StepSkipped, ts: str, by: str) -> None:
    st = s._step_mut(e.step)
    st.status = StepStatus.SKIPPED
    st.skip_reason = e.reason
    st.finished, st.by = ts, by


def _step_reset(s: SessionState, e: ev.StepReset, ts: str, by: str) -> None:
    st = s._step_mut(e.step)
    st.status, st.skip_reason, st.summary, st.finished = StepStatus.PENDING, "", "", ""
    st.settled = False


def _field(s: SessionState, e: ev.FieldAnswered, ts: str, by: str) -> None:
    s._put("answers", e.field, Answer(str(e.value), e.suggested, e.step, ts, by))


def _approach(s: SessionState, e: ev.ApproachChosen, ts: str, by: str) -> None:
    s.approach = e.approach or None
    s.approach_reason = e.reason


def _criterion(s: SessionState, e: ev.CriterionTicked, ts: str, by: str) -> None:
    s._put("criteria", e.criterion, Tick(bool(e.ticked), e.note, ts, by))


def _record(e: ev.Fact, ts: str, by: str) -> dict[str, Any]:
    return {**e.to_data(), "by": by, "ts": ts}


def _backup(s: SessionState, e: ev.BackupMade, ts: str, by: str) -> None:
    s.backup = _record(e, ts, by)
    if e.export and e.dir:
        s._merge("exports", {e.export: e.dir})


def _edited(s: SessionState, e: ev.FileEdited, ts: str, by: str) -> None:
    s._add("edits", _record(e, ts, by))


def _commit(s: SessionState, e: ev.CommitMade, ts: str, by: str) -> None:
    s.commit = _record(e, ts, by)


def _document(s: SessionState, e: ev.DocumentUpdated, ts: str, by: str) -> None:
    s._put("documents", e.path, _record(e, ts, by))


def _finished(s: SessionState, e: ev.SessionFinished, ts: str, by: str) -> None:
    s.finished = True


def _machine(s: SessionState, e: ev.MachineObserved, ts: str, by: str) -> None:
    s.machine = e.to_data()


def _note(s: SessionState, e: ev.Note, ts: str, by: str) -> None:
    s._add("notes", _record(e, ts, by))


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


def replay(events: Iterable[Event], state: SessionState | None = None) -> SessionState:
    """The state ``events`` lead to (from ``state``, a snapshot, when given: it must not be shared yet).

    The state is built alone, changing its containers in place, and is live (copy-on-write) once returned.
    """
    state = state if state is not None else SessionState()
    state.live = False
    try:
        for event in events:
            state.apply(event)
    finally:
        state.live = True
    return state


# --- snapshots ---------------------------------------------------------------------------------------------------

_SNAPSHOT_CLASSES: tuple[type[Any], ...] = (RunRecord, StepState, Answer, Tick)


def _layout() -> str:
    """A digest of every field the snapshot holds: a change to the state's shape makes older snapshots unusable."""
    classes: tuple[type[Any], ...] = (SessionState, *_SNAPSHOT_CLASSES)
    parts = [f"{cls.__name__}:{','.join(f.name for f in fields(cls))}" for cls in classes]
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]


SNAPSHOT_LAYOUT = _layout()


def _body(state: SessionState) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for f in fields(SessionState):
        if f.name == "live":
            continue
        value = getattr(state, f.name)
        if f.name == "steps":
            value = {k: {**_vars(v), "status": v.status.value} for k, v in value.items()}
        elif f.name in ("runs", "answers", "checklist", "criteria"):
            value = {k: _vars(v) for k, v in value.items()}
        body[f.name] = value
    return body


def _vars(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


_SUMMARY = ("session_id", "runbook_path", "runbook_title", "target", "created", "finished", "last_ts")


def dump_snapshot(state: SessionState) -> bytes:
    """The state as a snapshot: a header line (where in the chain it stands, the sha256 of the body, and what a
    session listing shows), then the whole state as JSON."""
    body = json.dumps(_body(state), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = {
        "layout": SNAPSHOT_LAYOUT,
        "seq": state.last_seq,
        "hash": state.last_hash,
        "sha256": hashlib.sha256(body).hexdigest(),
        "summary": {
            **{name: getattr(state, name) for name in _SUMMARY},
            "steps": {k: v.status.value for k, v in state.steps.items()},
        },
    }
    return json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n" + body


def _header(line: bytes) -> dict[str, Any] | None:
    try:
        header = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("layout") != SNAPSHOT_LAYOUT:
        return None
    return header


def load_snapshot(raw: bytes) -> SessionState | None:
    """The state a snapshot holds, or ``None`` if it is not one this version wrote (or it was changed since). Its
    position in the chain (``last_seq``, ``last_hash``) must still be checked against the log by the caller."""
    line, _, body = raw.partition(b"\n")
    header = _header(line)
    if header is None or hashlib.sha256(body).hexdigest() != header.get("sha256"):
        return None
    try:
        values = json.loads(body)
        if values.get("last_seq") != header.get("seq") or values.get("last_hash") != header.get("hash"):
            return None
        values["steps"] = {k: StepState(**{**v, "status": StepStatus(v["status"])}) for k, v in values["steps"].items()}
        values["runs"] = {k: RunRecord(**v) for k, v in values["runs"].items()}
        values["answers"] = {k: Answer(**v) for k, v in values["answers"].items()}
        values["checklist"] = {k: Tick(**v) for k, v in values["checklist"].items()}
        values["criteria"] = {k: Tick(**v) for k, v in values["criteria"].items()}
        return SessionState(**values)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def snapshot_summary(line: bytes) -> SessionState | None:
    """From a snapshot's header line alone, the parts of the state a session listing shows (who, what, which steps
    stand where) and its position in the chain; the events after it are replayed onto this by the caller."""
    header = _header(line)
    if header is None:
        return None
    try:
        summary = header["summary"]
        state = SessionState(**{name: summary[name] for name in _SUMMARY})
        state.steps = {k: StepState(status=StepStatus(v)) for k, v in summary["steps"].items()}
        state.last_seq, state.last_hash = int(header["seq"]), str(header["hash"])
    except (KeyError, TypeError, ValueError):
        return None
    return state
