"""``amxwizard _complete WHAT`` (hidden): the words a completion script offers for step ids, ``--var`` and
``--answer`` names, checklist items and sessions, one per line. Quiet and quick on any failure: a completion
must never print an error into the person's command line."""

from __future__ import annotations

import argparse


def words(what: str, runbook_arg: str | None, state_arg: str | None) -> list[str]:
    from ..runbook import RunbookError, load_runbook
    from . import runbook_path, state_dir

    if what == "sessions":
        from ..engine.session import list_sessions

        return [info.id for info in reversed(list_sessions(state_dir(state_arg)))]
    try:
        runbook = load_runbook(runbook_path(runbook_arg)[0]).model
    except (RunbookError, OSError):
        return []
    if what == "steps":
        return list(runbook.steps_by_id)
    if what == "variables":
        return [f"{name}=" for name in runbook.variables]
    if what == "fields":
        return [f"{name}=" for name in runbook.fields]
    if what == "checklist":
        return [item.id for item in runbook.checklist]
    return []


def run(args: argparse.Namespace) -> int:
    try:
        found = words(args.what, args.runbook, args.state_dir)
    except Exception:  # a completion shows nothing rather than a traceback
        return 0
    print("\n".join(found))
    return 0
