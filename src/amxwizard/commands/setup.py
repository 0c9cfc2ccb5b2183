"""``amxwizard setup [--var NAME=VALUE ...] [--accept] [--force]``: the variables and preflight, then a session.

Nothing runs and no session exists until the setup is accepted: ``--accept`` runs preflight and refuses when a check
fails (``--force`` accepts anyway, and the record keeps the failures it was accepted with).
"""

from __future__ import annotations

import argparse

from . import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, load_or_exit, open_session, parse_vars, state_dir


def run(args: argparse.Namespace) -> int:
    from ..engine.confine import PathPolicy
    from ..engine.preflight import run_preflight, suggested_values
    from ..engine.preflight.checks import fixes_text
    from ..report.machine import observe_machine
    from ..runbook.variables import VariableError, resolve
    from .notify import apply_flags, check_flags

    runbook = load_or_exit(args.runbook)
    overrides = parse_vars(args.var)
    check_flags(args.notify, args.notify_command, args.notify_after)
    try:
        values = resolve(runbook.model, overrides)
    except VariableError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    print(f"setup: {runbook.display} against {values.get('repo', '(no repo variable)')}")
    checks = run_preflight(runbook, values)
    applied: dict[str, str] = {}
    suggested = {k: v for k, v in suggested_values(checks).items() if k not in overrides or overrides[k] != v}
    if suggested and args.apply_fixes:
        applied = suggested
        overrides = {**overrides, **applied}
        print(f"applying what preflight suggests: {fixes_text(applied)}; checking again")
        try:
            values = resolve(runbook.model, overrides)
        except VariableError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from None
        checks = run_preflight(runbook, values)
    elif suggested:
        print(f"preflight suggests: {fixes_text(suggested)} (apply them with --apply-fixes)")
    width = min(max((len(check.name) for check in checks), default=0), 44)
    for check in sorted(checks, key=lambda c: {"fail": 0, "warn": 1}.get(c.status, 2)):
        print(f"{check.status:<4}  {check.name:<{width}}  {check.finding}")
    # A value that would make the wizard write outside its root is refused whatever --force says.
    unsafe = PathPolicy(runbook.model, values).problems()
    for problem in unsafe:
        print(f"fail  paths  {problem}")
    failures = [check for check in checks if check.status == "fail"]
    if not args.accept:
        print("not accepted: nothing was recorded (add --accept to start the session with these values)")
        return EXIT_FAILED if failures else EXIT_OK
    if unsafe:
        raise CommandError(f"{unsafe[0]} (fix it with --var; --force does not override this)", EXIT_FAILED)
    if failures and not args.force:
        raise CommandError(
            f"{len(failures)} preflight check(s) fail; fix the values (--var) or accept anyway with --force",
            EXIT_FAILED,
        )
    session = open_session(runbook, state_dir(args.state_dir), overrides, new=args.new)
    try:
        if applied:
            session.note(f"setup: applied the values preflight suggested: {fixes_text(applied)}")
        if failures:
            session.note(
                "setup accepted with failing preflight checks: " + "; ".join(f"{c.name}: {c.finding}" for c in failures)
            )
        session.accept_setup()
        session.observe(observe_machine())  # the record's machine facts come from the chain
        settings = apply_flags(session.dir, args.notify, args.notify_command, args.notify_after)
    finally:
        session.close()
    print(f"session {session.id} accepted; next: amxwizard step ID (or open the wizard: amxwizard)")
    print(f"notifications: {settings.describe()}")
    return EXIT_OK
