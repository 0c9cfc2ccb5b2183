"""``amxwizard restore [--yes] [--force]``: show what putting the session's backed-up files back would change, and
do it with ``--yes``.

Like every step that edits files, it shows the plan first (each file, what happens to it and why, with the diff)
and changes nothing without ``--yes`` (exit 3, blocked). All or nothing: if any file changed since the backup by
someone other than the wizard (a conflict) and ``--force`` is not given, the conflicts are listed, nothing is
written, and the exit code is 1. A damaged backup copy, or a symlink where a file should be (``unsafe``), stops the
restore even with ``--force``.

Diffs show file contents; they are printed through :func:`~amxwizard.engine.terminal.safe_for_terminal`, so
nothing in a file can drive the terminal.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from . import EXIT_BLOCKED, CommandError, find_session, load_or_exit, parse_vars, state_dir

if TYPE_CHECKING:
    from ..engine.session import SessionInfo
    from ..runbook import RunbookFile


def _the_session(args: argparse.Namespace) -> tuple[SessionInfo, RunbookFile]:
    """``--session``, else the latest unfinished session for the target the ``--var`` values name, else the latest
    unfinished one (as ``status`` finds it)."""
    from ..engine.session import latest_session

    folder = state_dir(args.state_dir)
    overrides = parse_vars(args.var)
    if args.session:
        return find_session(folder, args.runbook, args.session)
    runbook = load_or_exit(args.runbook)
    info = latest_session(folder, runbook, overrides)
    if info is None:
        raise CommandError(f"no session to restore from in {folder} for {runbook.display}")
    return info, runbook


def run(args: argparse.Namespace) -> int:
    from ..engine.backup import BackupError, plan_restore, restore
    from ..engine.session import Session, SessionError
    from ..engine.terminal import safe_for_terminal

    info, runbook = _the_session(args)
    try:
        session = Session.open(info.dir, runbook)
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    try:
        try:
            plan = plan_restore(session, force=args.force)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        print(f"session {session.id}: backup in {session.state.backup['dir'] if session.state.backup else '?'}")
        for item in plan.items:
            print(safe_for_terminal(f"{item.action:<9} {item.path}  ({item.reason})"))
            if item.action in ("restore", "conflict") and item.diff:
                diff = safe_for_terminal(item.diff)
                print(diff, end="" if diff.endswith("\n") else "\n")
        if plan.unsafe:
            names = ", ".join(item.path for item in plan.unsafe)
            raise CommandError(
                safe_for_terminal(
                    f"not restoring through a link or outside its folder: {names}; "
                    "nothing was restored (not even with --force)"
                )
            )
        if plan.damaged:
            names = ", ".join(item.path for item in plan.damaged)
            raise CommandError(f"the backup of {names} cannot be trusted; nothing was restored")
        if plan.conflicts:
            names = ", ".join(item.path for item in plan.conflicts)
            raise CommandError(
                f"changed since the backup: {names}; nothing was restored (use --force to overwrite them)"
            )
        unchanged = sum(1 for item in plan.items if item.action == "unchanged")
        to_write = len(plan.items) - unchanged
        if not args.yes:
            if not to_write:
                print(f"nothing to restore: all {unchanged} file(s) match the backup")
                return 0
            print(f"nothing restored yet: {to_write} file(s) would be written as shown; run again with --yes")
            return EXIT_BLOCKED
        try:
            restored = restore(session, plan)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        print(f"restored {len(restored)} file(s); {unchanged} already matched the backup")
        return 0
    finally:
        session.close()
