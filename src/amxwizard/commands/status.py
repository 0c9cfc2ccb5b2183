"""``amxwizard status [--json]``: where the session stands.

What happened while no wizard watched is recorded first (a run that ended, a step left running; see
:mod:`amxwizard.engine.settle`), taking the lock only for that. When another wizard holds the session, the runs
it has not recorded yet are read from their folders: a run that ended is never shown as ``running``.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from . import CommandError, find_session, state_dir

if TYPE_CHECKING:
    from ..engine.runs import RunLook
    from ..engine.session import Session
    from ..engine.state import RunRecord, StepState
    from ..runbook import RunbookFile

_MARK = {
    "pending": "·",
    "running": "▶",
    "passed": "✔",
    "failed": "✘",
    "skipped": "↷",
    "interrupted": "!",
    "unjudged": "?",
}


def _run_data(run: RunRecord, seen: RunLook | None) -> dict[str, Any]:
    if run.finished or seen is None:
        state = "finished" if run.finished else "running"
        code = run.exit_code
    else:
        state, code = seen.state, seen.exit_code
    return {
        "run_id": run.run_id,
        "command": run.index,
        "state": state,
        "exit_code": code,
        "signal": run.signal,
        "log_sha256": run.log_sha256,
        "recorded": run.finished,
        "unwatched": run.unwatched,
    }


def _unrecorded(step: StepState, runs: list[dict[str, Any]], holder: str) -> tuple[str, str] | None:
    """For a step the log shows running while it is not: its status and summary from the run folders."""
    if step.status.value != "running" or not holder:
        return None
    pending = [r for r in runs if not r["recorded"]]
    if any(r["state"] == "running" for r in pending):
        return None  # a process of it lives
    codes = ", ".join(str(r["exit_code"]) for r in pending if r["exit_code"] is not None)
    if any(r["state"] == "gone" for r in pending):
        return "interrupted", f"stopped without an exit status while no wizard watched; not recorded yet ({holder})"
    if pending:
        return "unjudged", f"finished while no wizard watched: exit {codes}, not yet judged ({holder})"
    return None  # between two commands, or in the wizard itself: the wizard holding the session is doing it


def status_data(session: Session, looks: dict[str, RunLook] | None = None, holder: str = "") -> dict[str, Any]:
    """Everything ``status`` shows, as plain JSON-ready data. ``looks`` and ``holder`` describe, for a session
    another wizard holds, what the run folders say about runs its log shows unfinished."""
    from ..engine.evidence.criteria import evaluate
    from ..engine.executor import StepExecutor

    rb, st = session.runbook.model, session.state
    looks = looks or {}
    executor = StepExecutor(session)
    steps: dict[str, Any] = {}
    for phase, step in rb.iter_steps():
        s = st.step(step.id)
        runs = [_run_data(run, looks.get(run.run_id)) for run in st.attempt_runs(step.id)]
        status, summary = _unrecorded(s, runs, holder) or (s.status.value, s.summary)
        steps[step.id] = {
            "phase": phase.id,
            "title": step.title,
            "kind": step.kind,
            "status": status,
            "summary": summary,
            "attempts": s.attempts,
            "skip_reason": s.skip_reason,
            "exit_codes": [r["exit_code"] for r in runs],
            "runs": runs,
            "settled": s.settled,
            "started": s.started,
            "finished": s.finished,
            "by": s.by,
            "evidence": s.evidence,
        }
    results = evaluate(rb, st, executor.read_log)
    criteria = {
        c.id: {
            "text": c.text,
            "status": results[c.id].status,
            "evidence": list(results[c.id].evidence),
            "ticked_by_person": results[c.id].ticked_by_person,
        }
        for c in rb.criteria
    }
    checklist = {
        item.id: {
            "text": item.text,
            "checked": bool(st.checklist.get(item.id) and st.checklist[item.id].ticked),
            "note": st.checklist[item.id].note if item.id in st.checklist else "",
        }
        for item in rb.checklist
    }
    return {
        "session": session.id,
        "running": _running(session),
        "dir": str(session.dir),
        "runbook": {"title": rb.title, "path": st.runbook_path, "sha256": st.runbook_sha256},
        "target": st.target,
        "setup_accepted": st.setup_accepted,
        "variables": session.values(),
        "exports": dict(st.exports),
        "checklist": checklist,
        "steps": steps,
        "answers": {k: a.value for k, a in st.answers.items()},
        "approach": st.approach,
        "criteria": criteria,
        "commit": st.commit,
        "documents": sorted(st.documents),
        "finished": st.finished,
        "events": st.last_seq,
        "last_hash": st.last_hash,
        "held_by": holder,
        "damage": session.damage,
    }


def _running(session: Session) -> dict[str, Any] | None:
    """The running step as the watchdog sees it: how long it has run, how long it has been silent, whether its
    process is still there, and how long it usually takes."""
    from ..engine.watchdog import usual_duration, watch

    running = session.state.running_runs()
    if not running:
        return None
    usual = usual_duration(session, running[-1].step)
    seen = watch(session.state, session.runbook.model, usual=usual, probe=True)
    if seen is None:
        return None
    return {
        "step": seen.step,
        "run_id": seen.run_id,
        "elapsed_seconds": round(seen.elapsed, 1),
        "silent_seconds": round(seen.quiet, 1),
        "silence_limit_seconds": seen.limit,
        "silent": seen.silent,
        "process_alive": seen.alive,
        "usual_seconds": None if usual is None else round(usual.seconds, 1),
        "usual_samples": 0 if usual is None else usual.samples,
        "overdue": seen.overdue,
        "flags": seen.lines(),
    }


def run(args: argparse.Namespace) -> int:
    import sys

    from ..engine.session import SessionError
    from ..engine.settle import open_settled, run_looks
    from .tui import default_nice

    info, runbook = find_session(state_dir(args.state_dir), args.runbook, args.session)
    try:
        session, settled, holder = open_settled(info.dir, runbook, nice=default_nice())
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    try:
        if session.recovery is not None:
            print(f"amxwizard: {session.recovery}", file=sys.stderr)
        elif session.damage:
            print(f"amxwizard: session {session.id} is damaged ({session.damage}); {holder}", file=sys.stderr)
        for item in settled:
            if item.status.value != "running":
                print(f"amxwizard: {item.describe()} (while no wizard watched)", file=sys.stderr)
        data = status_data(session, run_looks(session) if holder else None, holder)
    finally:
        session.close()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    print_plain(data, runbook, output_width())
    return 0


def output_width() -> int | None:
    """The terminal's width when standard output is one; ``None`` when it is piped (nothing is cut then)."""
    import shutil
    import sys

    if not sys.stdout.isatty():
        return None
    return max(shutil.get_terminal_size((100, 24)).columns, 40)


class _Lines:
    """Lines for a terminal ``width`` columns wide: a long line is wrapped, never cut, its continuation indented.
    With no width (piped), each line is printed whole."""

    def __init__(self, width: int | None) -> None:
        self.width = width

    def say(self, text: str, indent: int = 6) -> None:
        import textwrap

        if self.width is None or len(text) <= self.width:
            print(text)
            return
        lead = len(text) - len(text.lstrip(" "))
        print(
            textwrap.fill(
                text.strip(" "),
                self.width,
                initial_indent=" " * lead,
                subsequent_indent=" " * max(indent, lead),
                break_on_hyphens=False,
                break_long_words=False,  # a path longer than the terminal stays whole on its own line
            )
        )


def print_plain(data: dict[str, Any], runbook: RunbookFile, width: int | None) -> None:
    """``status`` for a person: every step, answer and criterion, whole."""
    out = _Lines(width)
    done = sum(1 for s in data["steps"].values() if s["status"] in ("passed", "skipped"))
    out.say(f"session {data['session']}  {data['runbook']['title']}  → {data['target']}")
    out.say(
        f"  {done}/{len(data['steps'])} steps done, {data['events']} events, last hash {data['last_hash'][:16]}…"
        + ("" if data["setup_accepted"] else "  (setup not yet accepted)")
    )
    running = data["running"]
    if running:
        from ..engine.watchdog import minutes

        usual = f"; usually {minutes(running['usual_seconds'])}" if running["usual_seconds"] is not None else ""
        out.say(
            f"  ▶ {running['step']} running for {minutes(running['elapsed_seconds'])}, last output "
            f"{minutes(running['silent_seconds'])} ago{usual}"
        )
        for flag in running["flags"]:
            out.say(f"  ! {flag}")
    out.say("checklist:")
    for item_id, item in data["checklist"].items():
        out.say(f"  {'✔' if item['checked'] else '·'} {item_id:<8} {item['text']}", indent=13)
    current = None
    for step_id, s in data["steps"].items():
        if s["phase"] != current:
            current = s["phase"]
            phase = runbook.model.phases[[p.id for p in runbook.model.phases].index(current)]
            out.say(f"phase {phase.id}: {phase.title}")
        codes = ",".join(str(c) for c in s["exit_codes"] if c is not None)
        tail = s["skip_reason"] or s["summary"]
        head = f"  {_MARK[s['status']]} {step_id:<9} {s['status']:<11} {('exit ' + codes) if codes else '':<9} "
        out.say(head + s["title"] + (f" — {tail}" if tail else ""), indent=len(head))
    if data["answers"]:
        out.say("answers:")
        for key, value in data["answers"].items():
            lines = value.splitlines() or [""]
            out.say(f"  {key} = {lines[0]}", indent=len(key) + 5)
            for more in lines[1:]:
                out.say(f"  {' ' * len(key)}   {more}", indent=len(key) + 5)
    if data["approach"]:
        out.say(f"approach: {data['approach']}")
    out.say("criteria:")
    for crit_id, c in data["criteria"].items():
        evidence = "; ".join(c["evidence"])
        out.say(f"  {crit_id:<17} {c['status']:<8} {evidence}".rstrip(), indent=29)
