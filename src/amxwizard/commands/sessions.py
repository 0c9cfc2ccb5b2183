"""``amxwizard sessions``: every session under the state directory, each with the command that resumes it."""

from __future__ import annotations

import argparse

from . import state_dir


def run(args: argparse.Namespace) -> int:
    from ..engine.session import list_sessions
    from .tui import resume_command

    root = state_dir(args.state_dir)
    sessions = list_sessions(root)
    if not sessions:
        print(f"no sessions in {root}")
        return 0
    for info in sessions:
        state = "finished" if info.finished else "open"
        print(
            f"{info.id}  {state:<8} {info.steps_done:>2} steps done  {info.events:>4} events  "
            f"updated {info.updated[:19]}  {info.runbook_title} → {info.target}"
        )
        if not info.finished:
            print(f"  resume: {resume_command(info, root)}")
    return 0
