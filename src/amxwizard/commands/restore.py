"""``amxwizard restore``: put the latest session's backed-up files back, showing what changes.

All or nothing: if any file changed since the backup by someone other than the wizard (a conflict) and ``--force``
is not given, the conflicts are listed, nothing is written, and the exit code is 1. A damaged backup copy, or a
symlink where a file should be (``unsafe``), stops the restore even with ``--force``.

Diffs show file contents; they are printed through :func:`~amxwizard.engine.terminal.safe_for_terminal`, so
nothing in a file can drive the terminal.
"""

from __future__ import annotations

import argparse

from . import CommandError, load_or_exit, parse_vars, state_dir


def run(args: argparse.Namespace) -> int:
    from ..engine.backup import BackupError, plan_restore, restore
    from ..engine.session import Session, SessionError, latest_session
    from ..engine.terminal import safe_for_terminal
    from ..runbook.variables import VariableError

    runbook = load_or_exit(args.runbook)
    overrides = parse_vars(args.var)
    folder = state_dir(args.state_dir)
    if latest_session(folder, runbook, overrides) is None:
        raise CommandError(f"no session to restore from in {folder} for {runbook.display}")
    try:
        session = Session.resume_or_create(folder, runbook, overrides, new=False)
    except (SessionError, VariableError) as exc:
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
        try:
            restored = restore(session, plan)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        unchanged = sum(1 for item in plan.items if item.action == "unchanged")
        print(f"restored {len(restored)} file(s); {unchanged} already matched the backup")
        return 0
    finally:
        session.close()
