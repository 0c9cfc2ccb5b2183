"""``amxwizard sessions``: every session under the state directory, damaged ones included.

A session the log shows with a step running, or whose store is damaged, is settled first (its runs recorded, its
store repaired from its second copy) when no other wizard holds it; otherwise it is listed as it reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import state_dir


def _settle(folder: Path) -> None:
    from ..engine.session import SessionError
    from ..engine.settle import open_settled
    from ..runbook import RunbookError, load_runbook
    from .tui import default_nice

    try:
        runbook = load_runbook(folder / "runbook.yaml")
    except (RunbookError, OSError):
        return  # without its runbook a session cannot be judged; it is listed as it reads
    try:
        session, settled, _ = open_settled(folder, runbook, nice=default_nice())
    except SessionError:
        return
    try:
        if session.recovery is not None:
            print(f"amxwizard: {session.recovery}", file=sys.stderr)
        for item in settled:
            if item.status.value != "running":
                print(f"amxwizard: session {session.id}: {item.describe()} (while no wizard watched)", file=sys.stderr)
    finally:
        session.close()


def run(args: argparse.Namespace) -> int:
    from ..engine.session import list_sessions
    from .tui import resume_command

    root = state_dir(args.state_dir)
    sessions = list_sessions(root, thorough=True)
    if any(info.damage or info.running for info in sessions):
        for info in sessions:
            if info.damage or info.running:
                _settle(info.dir)
        sessions = list_sessions(root, thorough=True)
    if not sessions:
        print(f"no sessions in {root}")
        return 0
    for info in sessions:
        state = "finished" if info.finished else "open"
        if info.damage:
            state = "damaged"
        line = (
            f"{info.id}  {state:<8} {info.steps_done:>2} steps done  {info.events:>4} events  "
            f"updated {info.updated[:19]}  {info.runbook_title or '(title unknown)'} → {info.target}"
        )
        if info.running:
            line += f"  (running: {', '.join(info.running)})"
        if info.damage:
            line += f"  — {info.damage}"
        print(line)
        if not info.finished:
            print(f"  resume: {resume_command(info, root)}")
    return 0
