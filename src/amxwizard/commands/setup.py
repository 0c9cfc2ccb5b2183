"""``amxwizard setup [--var NAME=VALUE ...] [--accept] [--force]``: the variables and preflight, then a session.

Nothing runs and no session exists until the setup is accepted: ``--accept`` runs preflight and refuses when a check
fails (``--force`` accepts anyway, and the record keeps the failures it was accepted with).
"""

from __future__ import annotations

import argparse

from . import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, load_or_exit, open_session, parse_vars, state_dir


def run(args: argparse.Namespace) -> int:
    from ..engine.preflight import run_preflight
    from ..runbook.variables import VariableError, resolve

    runbook = load_or_exit(args.runbook)
    overrides = parse_vars(args.var)
    try:
        values = resolve(runbook.model, overrides)
    except VariableError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    print(f"setup: {runbook.display} against {values.get('repo', '(no repo variable)')}")
    checks = run_preflight(runbook, values)
    width = min(max((len(check.name) for check in checks), default=0), 44)
    for check in sorted(checks, key=lambda c: {"fail": 0, "warn": 1}.get(c.status, 2)):
        print(f"{check.status:<4}  {check.name:<{width}}  {check.finding}")
    failures = [check for check in checks if check.status == "fail"]
    if not args.accept:
        print("not accepted: nothing was recorded (add --accept to start the session with these values)")
        return EXIT_FAILED if failures else EXIT_OK
    if failures and not args.force:
        raise CommandError(
            f"{len(failures)} preflight check(s) fail; fix the values (--var) or accept anyway with --force",
            EXIT_FAILED,
        )
    session = open_session(runbook, state_dir(args.state_dir), overrides, new=args.new)
    try:
        if failures:
            session.note(
                "setup accepted with failing preflight checks: " + "; ".join(f"{c.name}: {c.finding}" for c in failures)
            )
        session.accept_setup()
    finally:
        session.close()
    print(f"session {session.id} accepted; next: amxwizard step ID (or open the wizard: amxwizard)")
    return EXIT_OK
