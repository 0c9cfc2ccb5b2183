"""``amxwizard check ITEM [--note ...] [--untick]``: tick a pre-implementation checklist item in the session.

An item with a check (HEAD commit, clean tree, writable backup location) is verified first; when the check does
not pass, it is confirmed only with a ``--note`` saying why, and the record shows both.
"""

from __future__ import annotations

import argparse

from . import CommandError, load_or_exit, open_session, parse_vars, state_dir


def run(args: argparse.Namespace) -> int:
    from ..engine.checklist import ChecklistError, progress, tick
    from ..engine.session import SessionError

    runbook = load_or_exit(args.runbook)
    session = open_session(runbook, state_dir(args.state_dir), parse_vars(args.var))
    try:
        outcome = tick(session, args.item, untick=args.untick, note=args.note)
        done = progress(runbook.model, session.state)
    except (ChecklistError, SessionError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        session.close()
    if not outcome.checked:
        print(f"unticked {outcome.item}: {outcome.text}")
    elif outcome.auto:
        print(f"verified {outcome.item}: {outcome.text} — {outcome.finding}")
    elif outcome.check_status:
        print(
            f"confirmed {outcome.item} by hand: {outcome.text} — the check said {outcome.check_status}: "
            f"{outcome.finding}"
        )
    else:
        print(f"confirmed {outcome.item}: {outcome.text}")
    print(f"{done}" + ("" if done.complete else f" (open: {', '.join(done.open)})"))
    return 0
