"""``amxwizard step ID``: run or complete one step in the current session, printing its output (no TUI)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import CommandError, load_or_exit, open_session, parse_vars, state_dir

if TYPE_CHECKING:
    from ..engine.executor import StepExecutor, StepResult
    from ..engine.session import Session


def _print_lines(lines: list[str]) -> None:
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def catch_up(session: Session, executor: StepExecutor) -> None:
    """Settle runs an earlier wizard left behind: record finished ones, follow running ones to their end."""
    from ..engine.runs import finish_reattached, reconcile

    for item in reconcile(session, on_output=None):
        step = item.run.step
        if item.state == "running":
            print(f"[{step}] still running from an earlier session; following it to its end", file=sys.stderr)
            finish_reattached(session, item)
        elif item.state == "interrupted":
            print(f"[{step}] was interrupted (no exit code): re-run it, or decide with the TUI", file=sys.stderr)
        else:
            print(f"[{step}] finished while the wizard was closed", file=sys.stderr)
        result = executor.resume(step, on_output=_print_lines)
        if result is not None:
            print(f"[{step}] {result.status.value}: {result.summary}", file=sys.stderr)


def report(result: StepResult) -> None:
    print(f"{result.step}: {result.status.value.upper()} — {result.summary}")
    for finding in result.findings:
        print(f"  finding: {finding}")
    for entry in result.troubleshooting:
        goto = f" (step {entry.goto})" if entry.goto else ""
        print(f"  troubleshooting: {entry.symptom} → {entry.solution}{goto}")


def run(args: argparse.Namespace) -> int:
    from ..engine.executor import NeedsAnswers, NeedsConfirmation, StepError, StepExecutor
    from ..engine.session import SessionError
    from ..engine.state import StepStatus
    from ..runbook.templates import TemplateError
    from ..runbook.variables import VariableError

    runbook = load_or_exit(args.runbook)
    try:
        step = runbook.model.step(args.step_id)
    except KeyError:
        ids = " ".join(runbook.model.steps_by_id)
        raise CommandError(f"no step {args.step_id!r}; steps: {ids}", 2) from None
    answers = parse_vars(args.answer)
    session = open_session(runbook, state_dir(args.state_dir), parse_vars(args.var), new=args.new)
    try:
        from .tui import default_nice

        executor = StepExecutor(session, nice=default_nice())
        catch_up(session, executor)
        if not session.state.setup_accepted:
            session.accept_setup()
        if args.skip:
            executor.skip(step.id, args.skip)
            print(f"{step.id}: SKIPPED — {args.skip}")
            return 0
        print(f"== {step.id} {step.title} ({step.kind}) — session {session.id}")
        for command in executor.shell_commands(step):
            print("$ " + command.rstrip("\n").replace("\n", "\n  "))
        sys.stdout.flush()
        result = executor.run(step.id, answers=answers, confirmed=args.yes, on_output=_print_lines)
    except NeedsConfirmation as exc:
        if exc.preview:
            print(exc.preview)
        raise CommandError(str(exc), 2) from None
    except NeedsAnswers as exc:
        for fld in exc.fields:
            hint = f" ({' / '.join(fld.options)})" if fld.options else ""
            hint += f"  — the log suggests: {exc.suggested[fld.id]}" if fld.id in exc.suggested else ""
            print(f"  {fld.id}: {fld.label}{hint}")
        raise CommandError(str(exc), 2) from None
    except (StepError, SessionError, TemplateError, VariableError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        session.close()
    report(result)
    return 0 if result.status in (StepStatus.PASSED, StepStatus.RUNNING) else 1
