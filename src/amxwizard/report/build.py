"""Build the reviewer's :class:`Record` from a session's events and its runbook.

The same function builds the record when it is written (from the live session or its folder) and when a JSON record
is checked or signed (from the events and runbook text inside it), so every derived section can be recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..engine.state import SessionState, StepStatus, replay
from ..engine.store import GENESIS, Event, StoreError, now_iso, verify_chain
from ..runbook.models import ApproachStep, BenchmarkStep, ChoiceStep, TestStep
from .criteria import CriteriaVerdicts, Judged, LogReader, judge_criteria
from .logs import LogLocator
from .model import (
    MACHINE_KIND,
    MACHINE_NOTE_UNCHAINED,
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
    SignatureView,
    SignoffView,
    SkipView,
    StepView,
    VariableView,
)
from .status import completeness

if TYPE_CHECKING:
    from ..engine.session import Session
    from ..runbook import RunbookFile


class RecordError(Exception):
    """The record cannot be built or read; the message is one line for the person."""


# --- entry points ---------------------------------------------------------------------------------------------


def build_record(session: Session, *, machine: MachineFacts | None = None) -> Record:
    """The record of an open session, as of now (the TUI's last screen calls this).

    ``machine`` stands in for the facts of this machine when the session recorded none (they are collected here
    otherwise, and labelled as not verified).
    """
    from .machine import collect_machine

    try:
        events = session.store.events()
    except StoreError as exc:
        raise RecordError(f"session {session.id}: {exc}") from None
    _check_chain(session.dir, events)
    runbook = pick_runbook(session.dir, _recorded_sha(events), [session.runbook])
    chained = any(e.kind == MACHINE_KIND for e in events)
    return assemble(
        events,
        runbook,
        session_dir=session.dir,
        machine=machine or (None if chained else collect_machine()),
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


def load_document_runbook(doc: Mapping[str, Any]) -> RunbookFile:
    """The runbook whose text a JSON record holds, or :class:`RecordError`."""
    from ..runbook import RunbookError, load_text

    rb = _section(doc, "runbook")
    text = rb.get("text")
    if not isinstance(text, str):
        raise RecordError("the record holds no runbook text, so its sections cannot be rebuilt")
    try:
        return load_text(text, Path(str(rb.get("path") or "runbook.yaml")).name)
    except RunbookError as exc:
        first = exc.problems[0] if exc.problems else "unreadable"
        raise RecordError(f"the runbook text in the record does not load: {first}") from None


def document_verdicts(doc: Mapping[str, Any]) -> CriteriaVerdicts:
    """The criteria verdicts as a JSON record states them."""
    verdicts: dict[str, Judged] = {}
    for c in _list(doc.get("criteria")):
        if isinstance(c, dict):
            judged_from = c.get("judged_from") if c.get("judged_from") in ("events", "logs", "files") else "events"
            verdicts[str(c.get("id"))] = Judged(
                str(c.get("verdict", "")),
                tuple(str(x) for x in _list(c.get("verdict_evidence"))),
                judged_from,  # type: ignore[arg-type]
                True,
            )
    return CriteriaVerdicts(str(doc.get("criteria_evaluation", "")), verdicts)


def record_from_document(
    doc: dict[str, Any],
    *,
    verdicts: CriteriaVerdicts | None = None,
    events: Sequence[Event] | None = None,
) -> Record:
    """Rebuild a record from a JSON record's events and runbook text, keeping its unchained facts.

    Criteria verdicts are the ones given (verify judges them again from the logs it has); by default the document's
    own. ``events`` replaces the document's events (a sign-off appends one). The caller has checked the document's
    shape (see verify).
    """
    runbook = load_document_runbook(doc)
    gen = _section(doc, "generated")
    generated = Generated(str(gen.get("at", "")), str(gen.get("by", "")), str(gen.get("amxwizard", "")))
    chain = list(events) if events is not None else [Event.from_dict(e) for e in doc["events"]]
    session_dir = Path(str(_section(doc, "session").get("dir", "")))
    machine = MachineFacts.from_dict(_section(doc, "machine"))
    try:
        record = assemble(
            chain,
            runbook,
            session_dir=session_dir,
            machine=replace(machine, event=None, note=MACHINE_NOTE_UNCHAINED),
            generated=generated,
            locator=LogLocator(session_dir=session_dir),
            verdicts=verdicts or document_verdicts(doc),
        )
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Events whose hashes agree but whose data no wizard wrote (a forged chain): one line, not a traceback.
        raise RecordError(f"the record's events cannot be replayed: {type(exc).__name__}: {exc}") from None
    return replace(record, signatures=document_signatures(doc))


def document_signatures(doc: Mapping[str, Any]) -> tuple[SignatureView, ...]:
    """The signatures a JSON record carries (entries of another shape are kept out; verify names them)."""
    out = []
    for s in _list(doc.get("signatures")):
        if not isinstance(s, dict):
            continue
        seq = s.get("seq")
        out.append(
            SignatureView(
                role=str(s.get("role", "")),
                seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else 0,
                hash=str(s.get("hash", "")),
                key=str(s.get("key", "")),
                message=str(s.get("message", "")),
                signature=str(s.get("signature", "")),
            )
        )
    return tuple(out)


def _section(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)  # a section edited into something other than an object reads as empty
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


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


# --- assembly -------------------------------------------------------------------------------------------------


def assemble(
    events: Sequence[Event],
    runbook: RunbookFile,
    *,
    session_dir: Path,
    machine: MachineFacts | None,
    generated: Generated,
    locator: LogLocator,
    verdicts: CriteriaVerdicts | None = None,
) -> Record:
    """The record of ``events`` (session events, then any sign-offs) under ``runbook``. Deterministic in its inputs
    except for criteria verdicts, which are judged from the logs (and files) at hand unless ``verdicts`` is given.

    ``machine`` is used only when the chain holds no machine_observed event (it is then labelled as not verified).
    """
    warnings: list[str] = []
    session_events = [e for e in events if e.kind != SIGNOFF_KIND]
    signoff_events = [e for e in events if e.kind == SIGNOFF_KIND]
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
    if verdicts is None:
        verdicts = judge_criteria(runbook, state, LogReader(state, locator))
    if verdicts.how.startswith("failed"):
        warnings.append(f"success criteria could not be evaluated: {verdicts.how.removeprefix('failed: ')}")
    criteria = _criteria(runbook, state, steps, verdicts)
    checklist = _checklist(runbook, state, scan, values)
    signoffs = _signoffs(signoff_events, session_events)
    for signoff in signoffs:
        if signoff.not_covered:
            first, last = signoff.not_covered[0], signoff.not_covered[-1]
            span = f"event {first}" if first == last else f"events {first}–{last}"
            warnings.append(
                f"{span} ({len(signoff.not_covered)} recorded after the sign-off) not covered by "
                f"{signoff.reviewer}'s sign-off (event {signoff.seq})"
            )
    status = completeness(
        steps,
        criteria,
        checklist,
        checklist_ids=[i.id for i in model.checklist],
        session_closed=state.finished,
        signed_off=bool(signoff_events),
    )

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

    observed = scan.last_of.get(MACHINE_KIND)
    if observed is not None:
        machine = MachineFacts.from_dict(observed.data, event=observed.seq, ts=observed.ts)
    elif machine is None:
        raise RecordError("no machine facts: the session recorded none and none were collected")

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
        checklist=checklist,
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
        criteria=criteria,
        skips=tuple(SkipView(s.id, s.title, s.skip_reason, s.by, s.finished) for s in steps if s.status == "skipped"),
        backup=dict(state.backup) if state.backup else None,
        edits=tuple(dict(e) for e in state.edits),
        documents=tuple(dict(d) for d in state.documents.values()),
        notes=tuple(dict(n) for n in state.notes),
        signoffs=signoffs,
        model_hashes=tuple(scan.model_hashes),
        warnings=tuple(warnings),
        last_hash=events[-1].hash if events else GENESIS,
        events=tuple(e.as_dict() for e in events),
    )


def _signoffs(signoff_events: Sequence[Event], session_events: Sequence[Event]) -> tuple[SignoffView, ...]:
    out = []
    for e in signoff_events:
        d = e.data
        covers = d.get("covers") if isinstance(d.get("covers"), dict) else {}
        seq = covers.get("seq") if isinstance(covers, dict) else None
        out.append(
            SignoffView(
                seq=e.seq,
                reviewer=str(d.get("reviewer", "")),
                note=str(d.get("note", "")),
                by=_by(e),
                ts=e.ts,
                hash=e.hash,
                covers_seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else e.seq - 1,
                covers_hash=str(covers.get("hash", e.prev)) if isinstance(covers, dict) else e.prev,
                self_review=d.get("self") is True,
                key=str(d.get("key", "")),
                signed=bool(d.get("signature")),
                not_covered=tuple(s.seq for s in session_events if s.seq > e.seq),
            )
        )
    return tuple(out)


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
    fingerprint: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_hashes: list[dict[str, Any]] = field(default_factory=list)
    check_status: dict[str, str] = field(default_factory=dict)


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
            if isinstance(d.get("fingerprint"), dict):
                scan.fingerprint[run_id] = dict(d["fingerprint"])
        elif ev.kind == "model_hashed":
            scan.model_hashes.append({**{k: d.get(k) for k in ("path", "size", "mtime", "sha256")}, "seq": ev.seq})
        elif ev.kind == "checklist_ticked":
            scan.check_status[str(d.get("item", ""))] = str(d.get("check_status", ""))
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
        fingerprint=scan.fingerprint.get(run_id),
    )


def _checklist(
    runbook: RunbookFile, state: SessionState, scan: _Scan, values: Mapping[str, str]
) -> tuple[ChecklistView, ...]:
    from ..engine.checklist import item_text

    def view(item_id: str, text: str, check: str) -> ChecklistView:
        tick = state.checklist.get(item_id)
        return ChecklistView(
            item_id,
            text,
            check,
            tick.ticked if tick else None,
            tick.note if tick else "",
            tick.by if tick else "",
            tick.ts if tick else "",
            tick.auto if tick else False,
            tick.finding if tick else "",
            scan.check_status.get(item_id, "") if tick else "",
        )

    out = [view(item.id, item_text(item, values), item.check.kind) for item in runbook.model.checklist]
    known = {item.id for item in runbook.model.checklist}
    out += [view(item_id, "(not in this runbook)", "") for item_id in state.checklist if item_id not in known]
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
        judged = verdicts.verdicts.get(crit.id)
        verdict, evidence = (judged.verdict, judged.evidence) if judged else ("", ())
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
                judged.judged_from if judged else "",
            )
        )
    return tuple(out)
