"""``amxwizard [RUNBOOK]``: open the wizard."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import CommandError, load_or_exit, open_session, parse_vars, state_dir

if TYPE_CHECKING:
    from ..runbook import RunbookFile


def default_nice() -> int:
    """Children's nice level: $AMXWIZARD_NICE, else 10 (a big build must not starve the UI on a small machine)."""
    try:
        return int(os.environ.get("AMXWIZARD_NICE", "10"))
    except ValueError:
        return 10


def launch(
    runbook: RunbookFile,
    state: Path,
    overrides: Mapping[str, str],
    *,
    new: bool = False,
    nice: int | None = None,
    notify: tuple[str | None, str | None, str | None] = (None, None, None),
) -> int:
    """Open (or resume) a session for ``runbook`` under ``state`` and run the TUI until the person quits.

    ``notify``: the command line's ``--notify``, ``--notify-command`` and ``--notify-after`` (saved with the
    session when given).
    """
    from .notify import apply_flags, check_flags

    check_flags(*notify)
    if not sys.stdout.isatty() or os.environ.get("TERM") == "dumb":
        raise CommandError(
            "the wizard needs a terminal; without one use 'amxwizard status' and "
            "'amxwizard step ID' (same session, same record)",
            2,
        )
    session = open_session(runbook, state, dict(overrides), new=new)
    try:
        settings = apply_flags(session.dir, *notify)
    except CommandError:
        session.close()
        raise
    from ..ui.app import WizardApp

    app = WizardApp(session, nice=default_nice() if nice is None else nice, notify=settings)
    try:
        app.run()
    finally:
        session.close()
    return app.return_code or 0


def run(args: argparse.Namespace) -> int:
    runbook = load_or_exit(args.runbook, cached=True)
    return launch(
        runbook,
        state_dir(args.state_dir),
        parse_vars(args.var),
        new=args.new,
        notify=(args.notify, args.notify_command, args.notify_after),
    )
