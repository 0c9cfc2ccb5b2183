"""A session's current state, derived only by replaying its events. The one place state transitions happen.

Event kinds and their data (the contract between the engine, the UI and the reviewer's record):

=====================  ====================================================================================
session_created        session_id, runbook_path, runbook_sha256, runbook_title, target, host, version
session_opened         pid (every time a wizard takes the session)
variables_set          values {name: text} (a person's overrides; merged), target (the resolved workdir)
setup_accepted         values {name: text} (every variable as resolved when the person accepted them)
checklist_ticked       item, checked, note, auto (true when a check decided it), finding
step_started           step
command_started        step, run_id, index, script, cwd, pid, proc_start, boot_id, log, git_before
command_finished       step, run_id, outcome, exit_code, signal, ended, duration, log_size, log_sha256,
                       git_after, exports {NAME: value}
step_finished          step, status (passed|failed|interrupted), summary, evidence {...}
step_skipped           step, reason
step_reset             step, reason (back to pending: an approach skipped by an earlier choice, chosen now)
field_answered         step, field, value, suggested (the wizard's pre-fill, if any)
approach_chosen        step, approach (step id), reason
criterion_ticked       criterion, ticked, note
backup_made            step, dir, export, files [{path, backup, sha256, size, mode}], git {name: sha256},
                       git_errors, missing, location_file
file_edited            step, path, before_sha256, after_sha256, how (snippet|editor|restore)
commit_made            sha, subject, files, message_sha256, repo, session_trailer, chain_trailer,
                       found_by_trailer
document_updated       step, path, section, before_sha256, after_sha256
session_finished       last_hash
note                   text
=====================  ====================================================================================

Every event's data also carries ``by`` (user@host) added by the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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
        d = event.data
        by = str(d.get("by", ""))
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, d, event.ts, by)
        self.last_seq, self.last_hash, self.last_ts = event.seq, event.hash, event.ts

    def _step_mut(self, step_id: str) -> StepState:
        if step_id not in self.steps:
            self.steps = {**self.steps, step_id: StepState()}
        return self.steps[step_id]


def _created(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.session_id = d.get("session_id", "")
    s.runbook_path = d.get("runbook_path", "")
    s.runbook_sha256 = d.get("runbook_sha256", "")
    s.runbook_title = d.get("runbook_title", "")
    s.target = d.get("target", "")
    s.created, s.created_by = ts, by


def _opened(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.opened = [*s.opened, {"ts": ts, "by": by, "pid": d.get("pid")}]


def _variables(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.overrides = {**s.overrides, **{str(k): str(v) for k, v in d.get("values", {}).items()}}
    if "target" in d:
        s.target = str(d["target"])


def _accepted(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.accepted_values = {str(k): str(v) for k, v in d.get("values", {}).items()}


def _checklist(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    tick = Tick(bool(d.get("checked", True)), d.get("note", ""), ts, by, bool(d.get("auto")), d.get("finding", ""))
    s.checklist = {**s.checklist, d["item"]: tick}


def _step_started(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    st = s._step_mut(d["step"])
    st.status = StepStatus.RUNNING
    st.started, st.by, st.finished = ts, by, ""
    st.summary, st.skip_reason, st.evidence = "", "", {}
    st.runs = []
    st.attempts += 1


def _command_started(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    run = RunRecord(
        run_id=d["run_id"],
        step=d["step"],
        index=int(d.get("index", 0)),
        script=d.get("script", ""),
        cwd=d.get("cwd", ""),
        pid=d.get("pid"),
        proc_start=d.get("proc_start"),
        boot_id=d.get("boot_id", ""),
        log=d.get("log", ""),
        started=ts,
        git_before=d.get("git_before", {}),
    )
    s.runs = {**s.runs, run.run_id: run}
    st = s._step_mut(run.step)
    st.status = StepStatus.RUNNING
    st.runs = [*st.runs, run.run_id]


def _command_finished(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    run = s.runs.get(d["run_id"])
    if run is None:
        return
    run.finished = True
    run.outcome = d.get("outcome", "")
    run.exit_code = d.get("exit_code")
    run.signal = d.get("signal")
    run.ended = d.get("ended", ts)
    run.duration = d.get("duration")
    run.log_size = d.get("log_size")
    run.log_sha256 = d.get("log_sha256", "")
    run.git_after = d.get("git_after", {})
    s.exports = {**s.exports, **{str(k): str(v) for k, v in d.get("exports", {}).items()}}


def _step_finished(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    st = s._step_mut(d["step"])
    st.status = StepStatus(d.get("status", "failed"))
    st.summary = d.get("summary", "")
    st.evidence = d.get("evidence", {})
    st.finished, st.by = ts, by or st.by


def _step_skipped(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    st = s._step_mut(d["step"])
    st.status = StepStatus.SKIPPED
    st.skip_reason = d.get("reason", "")
    st.finished, st.by = ts, by


def _step_reset(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    st = s._step_mut(d["step"])
    st.status, st.skip_reason, st.summary, st.finished = StepStatus.PENDING, "", "", ""


def _field(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    answer = Answer(str(d.get("value", "")), d.get("suggested"), d.get("step", ""), ts, by)
    s.answers = {**s.answers, d["field"]: answer}


def _approach(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.approach = d.get("approach")
    s.approach_reason = d.get("reason", "")


def _criterion(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.criteria = {**s.criteria, d["criterion"]: Tick(bool(d.get("ticked", True)), d.get("note", ""), ts, by)}


def _backup(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.backup = {**d, "ts": ts}
    if d.get("export") and d.get("dir"):
        s.exports = {**s.exports, str(d["export"]): str(d["dir"])}


def _edited(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.edits = [*s.edits, {**d, "ts": ts}]


def _commit(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.commit = {**d, "ts": ts}


def _document(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.documents = {**s.documents, d["path"]: {**d, "ts": ts}}


def _finished(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.finished = True


def _note(s: SessionState, d: dict[str, Any], ts: str, by: str) -> None:
    s.notes = [*s.notes, {**d, "ts": ts}]


_HANDLERS = {
    "session_created": _created,
    "session_opened": _opened,
    "variables_set": _variables,
    "setup_accepted": _accepted,
    "checklist_ticked": _checklist,
    "step_started": _step_started,
    "command_started": _command_started,
    "command_finished": _command_finished,
    "step_finished": _step_finished,
    "step_skipped": _step_skipped,
    "step_reset": _step_reset,
    "field_answered": _field,
    "approach_chosen": _approach,
    "criterion_ticked": _criterion,
    "backup_made": _backup,
    "file_edited": _edited,
    "commit_made": _commit,
    "document_updated": _document,
    "session_finished": _finished,
    "note": _note,
}


def replay(events: list[Event]) -> SessionState:
    """The state a list of events leads to."""
    state = SessionState()
    for event in events:
        state.apply(event)
    return state
