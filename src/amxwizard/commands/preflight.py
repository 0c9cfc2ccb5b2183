"""``amxwizard preflight [RUNBOOK] [--var NAME=VALUE ...]``: one line per check; exit 1 when any check fails."""

from __future__ import annotations

import argparse

from . import CommandError, load_or_exit, parse_vars


def run(args: argparse.Namespace) -> int:
    from ..engine.preflight import run_preflight
    from ..runbook.variables import VariableError, resolve

    loaded = load_or_exit(args.runbook)
    try:
        values = resolve(loaded.model, parse_vars(args.var))
    except VariableError as exc:
        raise CommandError(str(exc), 2) from None
    print(f"preflight: {loaded.display} against {values.get('repo', '(no repo variable)')}")
    checks = run_preflight(loaded, values)
    width = min(max((len(check.name) for check in checks), default=0), 44)
    for check in checks:
        print(f"{check.status:<4}  {check.name:<{width}}  {check.finding}")
    counts = {status: sum(1 for check in checks if check.status == status) for status in ("ok", "warn", "fail")}
    print(
        f"{counts['ok']} ok, {counts['warn']} warning{'s' if counts['warn'] != 1 else ''}, "
        f"{counts['fail']} failure{'s' if counts['fail'] != 1 else ''}"
    )
    return 1 if counts["fail"] else 0
