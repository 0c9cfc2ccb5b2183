"""Build the reviewer's :class:`Record` from a session's events and its runbook.

The same function builds the record when it is written (from the live session or its folder) and when a JSON record
is checked or signed (from the events and runbook text inside it), so every derived section can be recomputed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..engine.state import SessionState, StepStatus, replay
from ..engine.store import GENESIS, Event, StoreError, now_iso, verify_chain
from ..runbook.models import ApproachStep, BenchmarkStep, ChoiceStep, TestStep
from .logs import LogLocator
from .model import (
    SIGNOFF_KIND,
    AnswerView,
    ApproachView,
    ChecklistView,
    CriterionView,
    Generated,
    MachineFacts,
    Record,
    RepoView,
    ResultView,
    RunbookInfo,
    RunView,
    SessionInfoView,
    SignoffView,
    SkipView,
    Status,
    StepView,
    VariableView,
)

if TYPE_CHECKING:
    from ..engine.session import Session
    from ..runbook import RunbookFile

ReadLog = Callable[[str], str]

EVALUATED = "evaluated"


class RecordError(Exception):
    """The record cannot be built or read; the message is one line for the person."""


@dataclass(frozen=True, slots=True)
class CriteriaVerdicts:
    """What the evidence engine concluded about each success criterion, and how that went."""

    how: str
    verdicts: Mapping[str, tuple[str, tuple[str, ...]]]


# --- entry points ---------------------------------------------------------------------------------------------


def build_record(session: Session, *, machine: MachineFacts | None = None) -> Record:
    """The record of an open session, as of now (the TUI's last screen calls this)."""
    from .machine import collect_machine

    try:
        events = session.store.events()
    except StoreError as exc:
        raise RecordError(f"session {session.id}: {exc}") from None
    _check_chain(session.dir, events)
    runbook = pick_runbook(session.dir, _recorded_sha(events), [session.runbook])
    return assemble(
        events,
        runbook,
        session_dir=session.dir,
        machine=machine or collect_machine(),
        generated=_generated(),
        locator=LogLocator(session_dir=session.dir),
    )


def _check_chain(folder: Path, events: Sequence[Event]) -> None:
    if not events:
        raise RecordError(f"session {folder.name} has no events yet")
    broken = verify_chain(events)
    if broken is not None:
        raise RecordError(
            f"session {folder.name}: its event log is broken at {broken}; open it in the wizard, "
            "which keeps a copy and recovers to the last good event"
        )


def record_from_document(doc: dict[str, Any]) -> Record:
    """Rebuild a record from a JSON record's events and runbook text, keeping its unchained facts.

    Criteria verdicts are taken from the document as they were when it was written: the evidence engine reads logs
    and backup files that a reviewer's machine may not have, and re-judging them there would differ for that reason
    alone. What they were judged from (step states, evidence, log hashes) is checked through the chain.
    The caller has checked the document's shape (see verify).
    """
    from ..runbook import RunbookError, load_text

    def section(name: str) -> dict[str, Any]:  # a section edited into something other than an object reads as empty
        value = doc.get(name)
        return value if isinstance(value, dict) else {}

    events = [Event.from_dict(e) for e in doc["events"]]
    rb = section("runbook")
    text = rb.get("text")
    if not isinstance(text, str):
        raise RecordError("the record holds no runbook text, so its sections cannot be rebuilt")
    try:
        runbook = load_text(text, Path(str(rb.get("path") or "runbook.yaml")).name)
    except RunbookError as exc:
        first = exc.problems[0] if exc.problems else "unreadable"
        raise RecordError(f"the runbook text in the record does not load: {first}") from None
    gen = section("generated")
    generated = Generated(str(gen.get("at", "")), str(gen.get("by", "")), str(gen.get("amxwizard", "")))
    criteria = _list(doc.get("criteria"))
    verdicts = CriteriaVerdicts(
        str(doc.get("criteria_evaluation", "")),
        {
            str(c.get("id")): (str(c.get("verdict", "")), tuple(str(x) for x in _list(c.get("verdict_evidence"))))
            for c in criteria
            if isinstance(c, dict)
        },
    )
    session_dir = Path(str(section("session").get("dir", "")))
    try:
        return assemble(
            events,
            runbook,
            session_dir=session_dir,
            machine=MachineFacts.from_dict(section("machine")),
            generated=generated,
            locator=LogLocator(session_dir=session_dir),
            verdicts=verdicts,
        )
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Events whose hashes agree but whose data no wizard wrote (a forged chain): one line, not a traceback.
        raise RecordError(f"the record's events cannot be replayed: {type(exc).__name__}: {exc}") from None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def pick_runbook(folder: Path, recorded_sha: str, candidates: Sequence[RunbookFile]) -> RunbookFile:
    """The runbook the session started with: its copy in the folder, else a candidate with the recorded sha256.

    With no match, the first loadable one is used (the record then warns that it differs).
    """
    from ..runbook import RunbookError, load_runbook

    loaded: list[RunbookFile] = []
    problem = ""
    copy = folder / "runbook.yaml"
    if copy.is_file():
        try:
            loaded.append(load_runbook(copy, display="runbook.yaml"))
        except RunbookError as exc:
            problem = str(exc.problems[0]) if exc.problems else "unreadable"
    loaded.extend(candidates)
    for runbook in loaded:
        if runbook.sha256 == recorded_sha:
            return runbook
    if loaded:
        return loaded[0]
    raise RecordError(
        f"session {folder.name}: cannot read the runbook it started with"
        + (f" ({problem})" if problem else f" ({copy} is missing)")
    )


def _recorded_sha(events: Sequence[Event]) -> str:
    created = next((e for e in events if e.kind == "session_created"), None)
    return str(created.data.get("runbook_sha256", "")) if created else ""


def _generated() -> Generated:
    from ..engine.session import actor

    return Generated(now_iso(), actor(), __version__)


# --- criteria -------------------------------------------------------------------------------------------------


def evaluate_criteria(runbook: RunbookFile, state: SessionState, read_log: ReadLog) -> CriteriaVerdicts:
    """The evidence engine's verdict on each criterion; a failure is shown in the record, which is still written."""
    from ..engine.evidence.criteria import evaluate

    try:
        results = evaluate(runbook.model, state, read_log)
    except Exception as exc:  # the record must still be written; the failure is shown in it
        return CriteriaVerdicts(f"failed: {type(exc).__name__}: {exc}", {})
    verdicts: dict[str, tuple[str, tuple[str, ...]]] = {}
    for crit_id, result in dict(results).items():
        status = _attr(result, "status", "")
        evidence = _attr(result, "evidence", ()) or ()
        if isinstance(evidence, str):
            evidence = (evidence,)
        verdicts[str(crit_id)] = (str(status), tuple(str(x) for x in evidence))
    return CriteriaVerdicts(EVALUATED, verdicts)


def _attr(obj: Any, name: str, default: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


# --- assembly -------------------------------------------------------------------------------------------------


def assemble(
    events: Sequence[Event],
    runbook: RunbookFile,
    *,
    session_dir: Path,
    machine: MachineFacts,
    generated: Generated,
    locator: LogLocator,
    verdicts: CriteriaVerdicts | None = None,
) -> Record:
    """The record of ``events`` (session events, then any sign-offs) under ``runbook``. Deterministic in its inputs
    except for criteria verdicts, which are evaluated from logs unless ``verdicts`` is given."""
    warnings: list[str] = []
    session_events = [e for e in events if e.kind != SIGNOFF_KIND]
    signoff_events = [e for e in events if e.kind == SIGNOFF_KIND]
    if signoff_events:
        late = [e for e in session_events if e.seq > signoff_events[0].seq]
        if late:
            warnings.append(f"event {late[0].seq} ({late[0].kind}) was recorded after a sign-off")
    state = replay(session_events)
    model = runbook.model
    if state.runbook_sha256 and state.runbook_sha256 != runbook.sha256:
        warnings.append(
            f"the runbook in this record (sha256 {runbook.sha256[:12]}) is not the one the session "
            f"started with (sha256 {state.runbook_sha256[:12]})"
        )
    values, problem = _values(runbook, state, session_dir)
    if problem:
        warnings.append(problem)

    scan = _scan(session_events)
    steps = _steps(runbook, state, scan)
    status = _status(steps, state, bool(signoff_events))
    read_log = _log_reader(state, locator)
    if verdicts is None:
        verdicts = evaluate_criteria(runbook, state, read_log)
    if verdicts.how.startswith("failed"):
        warnings.append(f"success criteria could not be evaluated: {verdicts.how.removeprefix('failed: ')}")

    approach = None
    if state.approach:
        chosen = model.steps_by_id.get(state.approach)
        ev = scan.last_of.get("approach_chosen")
        approach = ApproachView(
            step=state.approach,
            letter=chosen.letter if isinstance(chosen, ApproachStep) else "",
            title=chosen.title if chosen else "(not a step of this runbook)",
            use_if=chosen.use_if if isinstance(chosen, ApproachStep) else "",
            reason=state.approach_reason,
            by=_by(ev),
            ts=ev.ts if ev else "",
        )

    hosts = list(dict.fromkeys(h for h in [scan.created_host, *(b.partition("@")[2] for b in scan.people)] if h))
    last_session = session_events[-1] if session_events else None
    return Record(
        generated=generated,
        status=status,
        runbook=RunbookInfo(
            title=model.title,
            path=state.runbook_path,
            sha256=runbook.sha256,
            recorded_sha256=state.runbook_sha256,
            text=runbook.text,
        ),
        session=SessionInfoView(
            id=state.session_id,
            dir=str(session_dir),
            created=state.created,
            created_by=state.created_by,
            target=state.target,
            amxwizard=scan.version,
            hosts=tuple(hosts),
            people=tuple(scan.people),
            opened=len(state.opened),
            finished=state.finished,
            events=len(session_events),
            first_ts=session_events[0].ts if session_events else "",
            last_ts=last_session.ts if last_session else "",
            last_hash=last_session.hash if last_session else GENESIS,
        ),
        machine=machine,
        variables=_variables(runbook, state, values),
        repo=RepoView(
            path=values.get("repo", state.target),
            head_before=scan.head_before,
            head_after=scan.head_after,
            commit=dict(state.commit) if state.commit else None,
        ),
        checklist=_checklist(runbook, state),
        steps=steps,
        answers=_answers(runbook, state),
        approach=approach,
        tests=tuple(
            _result(s, model.steps_by_id[s.id], values) for s in steps if isinstance(model.steps_by_id[s.id], TestStep)
        ),
        benchmarks=tuple(
            _result(s, model.steps_by_id[s.id], values)
            for s in steps
            if isinstance(model.steps_by_id[s.id], BenchmarkStep)
        ),
        criteria_evaluation=verdicts.how,
        criteria=_criteria(runbook, state, steps, verdicts),
        skips=tuple(SkipView(s.id, s.title, s.skip_reason, s.by, s.finished) for s in steps if s.status == "skipped"),
        backup=dict(state.backup) if state.backup else None,
        edits=tuple(dict(e) for e in state.edits),
        documents=tuple(dict(d) for d in state.documents.values()),
        notes=tuple(dict(n) for n in state.notes),
        signoffs=tuple(
            SignoffView(e.seq, str(e.data.get("reviewer", "")), str(e.data.get("note", "")), _by(e), e.ts, e.hash)
            for e in signoff_events
        ),
        warnings=tuple(warnings),
        last_hash=events[-1].hash if events else GENESIS,
        events=tuple(e.as_dict() for e in events),
    )


@dataclass
class _Scan:
    """Facts only the order of events tells: attempts, who ran what, HEAD over time."""

    run_attempt: dict[str, int] = field(default_factory=dict)
    run_by: dict[str, str] = field(default_factory=dict)
    people: list[str] = field(default_factory=list)
    last_of: dict[str, Event] = field(default_factory=dict)
    head_before: str = ""
    head_after: str = ""
    created_host: str = ""
    version: str = ""


def _scan(events: Sequence[Event]) -> _Scan:
    scan = _Scan()
    people: dict[str, None] = {}
    attempts: dict[str, int] = {}
    for ev in events:
        d = ev.data
        by = _by(ev)
        if by:
            people[by] = None
        scan.last_of[ev.kind] = ev
        if ev.kind == "session_created":
            scan.created_host, scan.version = str(d.get("host", "")), str(d.get("version", ""))
        elif ev.kind == "step_started":
            step = str(d.get("step", ""))
            attempts[step] = attempts.get(step, 0) + 1
        elif ev.kind == "command_started":
            run_id, step = str(d.get("run_id", "")), str(d.get("step", ""))
            scan.run_attempt[run_id] = max(attempts.get(step, 0), 1)
            scan.run_by[run_id] = by
            head = _head(d.get("git_before"))
            if head:
                scan.head_before = scan.head_before or head
                scan.head_after = head
        elif ev.kind == "command_finished":
            scan.head_after = _head(d.get("git_after")) or scan.head_after
        elif ev.kind == "commit_made" and d.get("sha"):
            scan.head_after = str(d["sha"])
    scan.people = list(people)
    return scan


def _head(git: Any) -> str:
    if isinstance(git, Mapping):
        return str(git.get("head") or git.get("HEAD") or "")
    return ""


def _by(ev: Event | None) -> str:
    return str(ev.data.get("by", "")) if ev is not None else ""


def _values(runbook: RunbookFile, state: SessionState, session_dir: Path) -> tuple[dict[str, str], str]:
    from ..runbook.variables import VariableError, resolve

    builtins = {"session_dir": str(session_dir), "session_id": state.session_id}
    problem = ""
    try:
        values = resolve(runbook.model, state.overrides, builtins)
    except VariableError as exc:
        problem = f"the session's variables do not fit this runbook ({exc}); defaults are shown instead"
        values = resolve(runbook.model, {}, builtins)
    if state.accepted_values:
        values.update({k: v for k, v in state.accepted_values.items() if k in runbook.model.variables})
    return values, problem


def _variables(runbook: RunbookFile, state: SessionState, values: Mapping[str, str]) -> tuple[VariableView, ...]:
    out = []
    for name, var in runbook.model.variables.items():
        source = "set" if name in state.overrides else "default"
        if (
            state.accepted_values is not None
            and name in state.accepted_values
            and source == "default"
            and state.accepted_values[name] != var.default_text
        ):
            source = "accepted"
        out.append(VariableView(name, values.get(name, ""), source, var.description))
    return tuple(out)


def _steps(runbook: RunbookFile, state: SessionState, scan: _Scan) -> tuple[StepView, ...]:
    out = []
    for phase, step in runbook.model.iter_steps():
        st = state.step(step.id)
        status = st.status.value
        required = not isinstance(step, ApproachStep) or state.approach == step.id
        if st.status is StepStatus.PENDING and state.approach and isinstance(step, ChoiceStep):
            status = "chosen"
        # An approach the person did not choose is "not chosen" (the choice step records it as skipped with that
        # reason), not a skip a reviewer must weigh; unless it was run after all (troubleshooting).
        elif (
            isinstance(step, ApproachStep)
            and state.approach
            and state.approach != step.id
            and st.status in (StepStatus.PENDING, StepStatus.SKIPPED)
        ):
            status = "not chosen"
        runs = tuple(_run_view(state, scan, run_id) for run_id, run in state.runs.items() if run.step == step.id)
        latest = [r for r in runs if r.run_id in st.runs]
        durations = [r.duration for r in latest if r.duration is not None]
        out.append(
            StepView(
                id=step.id,
                phase=phase.id,
                phase_title=phase.title,
                title=step.title,
                kind=step.kind,
                status=status,
                required=required,
                by=st.by,
                started=st.started,
                finished=st.finished,
                attempts=st.attempts,
                summary=st.summary,
                skip_reason=st.skip_reason,
                evidence=dict(st.evidence),
                exit_codes=tuple(r.exit_code for r in latest if r.finished),
                duration=round(sum(durations), 3) if durations else None,
                runs=runs,
            )
        )
    return tuple(out)


def _run_view(state: SessionState, scan: _Scan, run_id: str) -> RunView:
    run = state.runs[run_id]
    return RunView(
        run_id=run.run_id,
        step=run.step,
        attempt=scan.run_attempt.get(run_id, 1),
        index=run.index,
        script=run.script,
        cwd=run.cwd,
        by=scan.run_by.get(run_id, ""),
        started=run.started,
        finished=run.finished,
        ended=run.ended,
        outcome=run.outcome,
        exit_code=run.exit_code,
        signal=run.signal,
        duration=run.duration,
        log=run.log,
        log_size=run.log_size,
        log_sha256=run.log_sha256,
        head_before=_head(run.git_before),
        head_after=_head(run.git_after),
    )


def _status(steps: Sequence[StepView], state: SessionState, signed: bool) -> Status:
    required = [s for s in steps if s.required]
    done = [s for s in required if s.status in ("passed", "skipped", "chosen")]
    pending = [s for s in required if s not in done]
    complete = not pending
    return Status(
        complete=complete,
        label="COMPLETE" if complete else "UNFINISHED",
        done=len(done),
        required=len(required),
        next_step=pending[0].id if pending else "",
        failed=tuple(s.id for s in required if s.status == "failed"),
        interrupted=tuple(s.id for s in required if s.status == "interrupted"),
        running=tuple(s.id for s in required if s.status == "running"),
        session_closed=state.finished,
        signed_off=signed,
    )


def _checklist(runbook: RunbookFile, state: SessionState) -> tuple[ChecklistView, ...]:
    out = []
    known = set()
    for item in runbook.model.checklist:
        known.add(item.id)
        tick = state.checklist.get(item.id)
        out.append(
            ChecklistView(
                item.id,
                item.text,
                item.check.kind,
                tick.ticked if tick else None,
                tick.note if tick else "",
                tick.by if tick else "",
                tick.ts if tick else "",
                tick.auto if tick else False,
                tick.finding if tick else "",
            )
        )
    for item_id, tick in state.checklist.items():
        if item_id not in known:
            out.append(
                ChecklistView(
                    item_id,
                    "(not in this runbook)",
                    "",
                    tick.ticked,
                    tick.note,
                    tick.by,
                    tick.ts,
                    tick.auto,
                    tick.finding,
                )
            )
    return tuple(out)


def _answers(runbook: RunbookFile, state: SessionState) -> tuple[AnswerView, ...]:
    out = []
    seen = set()
    for _, step in runbook.model.iter_steps():
        for fld in getattr(step, "fields", []):
            seen.add(fld.id)
            ans = state.answers.get(fld.id)
            out.append(
                AnswerView(
                    fld.id,
                    fld.label,
                    step.id,
                    fld.required,
                    ans.value if ans else None,
                    ans.suggested if ans else None,
                    ans.by if ans else "",
                    ans.ts if ans else "",
                )
            )
    for field_id, ans in state.answers.items():
        if field_id not in seen:
            out.append(AnswerView(field_id, field_id, ans.step, False, ans.value, ans.suggested, ans.by, ans.ts))
    return tuple(out)


def _result(view: StepView, step: Any, values: Mapping[str, str]) -> ResultView:
    from ..runbook.templates import TemplateError, render_text

    if isinstance(step, TestStep):
        detail = f"{step.mode} mode, {step.tokens} tokens"
        baseline = ""
    else:
        detail = f"{step.metric}, tolerance {step.tolerance_pct:g}%"
        baseline = ""
        if step.baseline:
            try:
                baseline = render_text(step.baseline, values)
            except TemplateError:
                baseline = step.baseline
    return ResultView(
        view.id, view.title, step.kind, detail, step.expect, baseline, view.status, view.summary, dict(view.evidence)
    )


def _criteria(
    runbook: RunbookFile, state: SessionState, steps: Sequence[StepView], verdicts: CriteriaVerdicts
) -> tuple[CriterionView, ...]:
    by_id = {s.id: s for s in steps}
    out = []
    for crit in runbook.model.criteria:
        tick = state.criteria.get(crit.id)
        verdict, evidence = verdicts.verdicts.get(crit.id, ("", ()))
        states = tuple(
            f"{sid}: {by_id[sid].status}" if sid in by_id else f"{sid}: not in the runbook" for sid in crit.steps
        )
        out.append(
            CriterionView(
                crit.id,
                crit.text,
                crit.check,
                tuple(crit.steps),
                states,
                verdict,
                evidence,
                tick.ticked if tick else None,
                tick.note if tick else "",
                tick.by if tick else "",
                tick.ts if tick else "",
            )
        )
    return tuple(out)


def _log_reader(state: SessionState, locator: LogLocator) -> ReadLog:
    """``read_log(run id or recorded log path) -> text`` ('' when the log is not at hand)."""
    by_path = {run.log: run.run_id for run in state.runs.values() if run.log}

    def read_log(key: str) -> str:
        run = state.runs.get(key)
        run_id = run.run_id if run else by_path.get(key, "")
        recorded = run.log if run else key
        path = locator.find(run_id, recorded) if run_id else None
        if path is None and not run_id and locator.logs_dir is None:
            path = Path(key) if Path(key).is_file() else None
        if path is None:
            return ""
        with contextlib.suppress(OSError):
            return path.read_text(encoding="utf-8", errors="replace")
        return ""

    return read_log
