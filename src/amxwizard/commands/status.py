"""``amxwizard status [--json]``: where the session stands, read without taking its lock."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from . import CommandError, find_session, state_dir

if TYPE_CHECKING:
    from ..engine.session import Session
    from ..runbook import RunbookFile

_MARK = {"pending": "·", "running": "▶", "passed": "✔", "failed": "✘", "skipped": "↷", "interrupted": "!"}


def status_data(session: Session) -> dict[str, Any]:
    """Everything ``status`` shows, as plain JSON-ready data."""
    from ..engine.evidence.criteria import evaluate
    from ..engine.executor import StepExecutor

    rb, st = session.runbook.model, session.state
    executor = StepExecutor(session)
    steps: dict[str, Any] = {}
    for phase, step in rb.iter_steps():
        s = st.step(step.id)
        runs = [st.runs[r] for r in s.runs if r in st.runs]
        steps[step.id] = {
            "phase": phase.id,
            "title": step.title,
            "kind": step.kind,
            "status": s.status.value,
            "summary": s.summary,
            "attempts": s.attempts,
            "skip_reason": s.skip_reason,
            "exit_codes": [r.exit_code for r in runs],
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
    }


def run(args: argparse.Namespace) -> int:
    from ..engine.session import Session, SessionError

    info, runbook = find_session(state_dir(args.state_dir), args.runbook, args.session)
    try:
        session = Session.peek(info.dir, runbook)
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    try:
        data = status_data(session)
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
