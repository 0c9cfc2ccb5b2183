"""``amxwizard step ID``: plan one step of the current session, show what it needs, apply it (no TUI).

Each thing a step can need has its own flag: ``--yes`` confirms a destructive step or the changes shown,
``--accept-suggestions`` takes the answers the evidence suggests, ``--run-stale`` runs a binary older than the last
edit, ``--again`` runs a passed step once more, ``--allow-unproven`` commits claims the evidence does not back.
Everything still needed is listed on the first call. Exit codes: 0 passed, 1 failed, 2 usage, 3 blocked.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from . import EXIT_BLOCKED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, find_session, parse_vars, state_dir

if TYPE_CHECKING:
    from ..engine.executor import StepExecutor
    from ..engine.notify import Notice
    from ..engine.session import Session
    from ..engine.steps.base import Blocker, Plan, StepResult
    from ..engine.watchdog import Watch


def say(text: str = "", *, err: bool = False) -> None:
    """Print one message with every terminal control sequence removed: a log line, an answer or a file name that
    holds one cannot move, retitle, clear or recolour the person's terminal."""
    from ..engine.terminal import safe_for_terminal

    print(safe_for_terminal(text), file=sys.stderr if err else sys.stdout)


def _print_lines(lines: list[str]) -> None:
    from ..engine.terminal import safe_for_terminal

    sys.stdout.write("".join(safe_for_terminal(line) + "\n" for line in lines))
    sys.stdout.flush()


def catch_up(session: Session, executor: StepExecutor, step_id: str | None = None) -> StepResult | None:
    """Settle what happened while no wizard watched (see :mod:`amxwizard.engine.settle`), then follow runs still
    going to their end. Returns the verdict of ``step_id`` when following its run finished its attempt here."""
    from ..engine.runs import finish_reattached, reconcile
    from ..engine.settle import settle

    for item in settle(session, nice=executor.nice):
        if item.status.value != "running":
            say(f"amxwizard: {item.describe()} (while no wizard watched)", err=True)
    own: StepResult | None = None
    for followed in reconcile(session, on_output=None):
        step = followed.run.step
        say(f"[{step}] still running from an earlier session; following it to its end", err=True)
        finish_reattached(session, followed)
        if step == step_id:
            # Watched from here on: the rest of its commands run, then it is judged; no new attempt.
            own = executor.resume(step, on_output=_print_lines)
            continue
        for item in settle(session, nice=executor.nice):
            say(f"amxwizard: {item.describe()}", err=True)
    return own


def report(result: StepResult) -> None:
    say(f"{result.step}: {result.status.value.upper()} — {result.summary}")
    for finding in result.findings:
        say(f"  finding: {finding}")
    for entry in result.troubleshooting:
        goto = f" (step {entry.goto})" if entry.goto else ""
        say(f"  troubleshooting: {entry.symptom} → {entry.solution}{goto}")


def show_blocker(blocker: Blocker) -> None:
    """What a blocker needs, in full, on standard output (the one-line summary goes to standard error)."""
    from ..engine.steps.base import MissingAnswers, ReviewChanges, UnprovenClaims

    if isinstance(blocker, MissingAnswers):
        for needed in blocker.needed:
            fld = needed.field
            hint = f" ({' / '.join(fld.options)})" if fld.options else ""
            if needed.suggestion is not None:
                hint += f"  — {needed.suggestion.source} suggests: {needed.suggestion.value}"
            say(f"  {fld.id}: {fld.label}{hint}")
    elif isinstance(blocker, ReviewChanges):
        say(blocker.diff.rstrip("\n"))
    elif isinstance(blocker, UnprovenClaims):
        for claim in blocker.claims:
            say(f"  unproven: {claim.sentence} — measured: {claim.measured}")


class _Notifications:
    """The CLI's notifications: the watchdog while the step runs, the notice when it ends (to this terminal)."""

    def __init__(self, session: Session) -> None:
        from ..engine.notify import (
            Notifier,
            NotifyError,
            NotifySettings,
            Terminal,
            attach,
            load_settings,
            own_terminal_writer,
        )
        from ..engine.watchdog import Watchdog

        self.session = session
        try:
            settings = load_settings(session.dir)
        except NotifyError as exc:
            print(f"amxwizard: notifications off: {exc}", file=sys.stderr)
            settings = NotifySettings(channels=frozenset(), source="broken settings")
        terminal = Terminal.here()
        self.notifier = Notifier(settings, terminal, own_terminal_writer())
        titles = {step.id: step.title for _, step in session.runbook.model.iter_steps()}
        try:
            attach(session.dir, terminal, titles, settings)
        except OSError as exc:
            print(f"amxwizard: a run that outlives this command will not notify: {exc}", file=sys.stderr)
        self.watchdog = Watchdog(session, self._flagged).start()
        self.started = time.monotonic()

    def _flagged(self, flag: str, seen: Watch) -> None:
        from ..engine.notify import Notice
        from ..engine.watchdog import flag_notice_state

        text = seen.silence_text() if flag == "silent" else seen.usual_text()
        print(f"amxwizard: [{seen.step}] {text}", file=sys.stderr)
        notice = Notice(
            event="silent" if flag == "silent" else "overdue",
            step=seen.step,
            state=flag_notice_state("silent" if flag == "silent" else "overdue", seen),
            title=self.session.runbook.model.step(seen.step).title,
            duration=seen.elapsed,
            session=self.session.id,
        )
        self._send(notice)

    def ended(self, result: StepResult) -> None:
        from ..engine.notify import Notice

        self.watchdog.stop()
        notice = Notice(
            event="ended",
            step=result.step,
            state=result.status.value,
            summary=result.summary,
            title=self.session.runbook.model.step(result.step).title,
            duration=time.monotonic() - self.started,
            session=self.session.id,
        )
        self._send(notice)

    def _send(self, notice: Notice) -> None:
        for problem in self.notifier.send(notice):
            print(f"amxwizard: notification: {problem}", file=sys.stderr)


def _print_plan(plan: Plan) -> None:
    for line in plan.describe():
        say(line)
    for note in plan.notes:
        say(f"note: {note}")
    for blocker in plan.blockers:
        say(f"needs: {blocker.describe()}")


def run(args: argparse.Namespace) -> int:
    from ..engine.executor import StepExecutor
    from ..engine.session import Session, SessionError
    from ..engine.state import StepStatus
    from ..engine.steps.base import Approval, PlanChanged, RunCommands, StepError
    from ..report.machine import observe_machine
    from ..runbook.templates import TemplateError
    from ..runbook.variables import VariableError
    from .tui import default_nice

    info, runbook = find_session(state_dir(args.state_dir), args.runbook, args.session)
    try:
        step = runbook.model.step(args.step_id)
    except KeyError:
        ids = " ".join(runbook.model.steps_by_id)
        raise CommandError(f"no step {args.step_id!r}; steps: {ids}", EXIT_USAGE) from None
    answers = parse_vars(args.answer)
    overrides = parse_vars(args.var)
    try:
        # --plan reads the session without taking it: the store and the repository stay byte for byte as they are.
        session = Session.peek(info.dir, runbook) if args.plan else Session.open(info.dir, runbook)
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    try:
        if not session.state.setup_accepted:
            raise CommandError(
                f"session {session.id}: the setup is not accepted yet; accept it with "
                "'amxwizard setup --var NAME=VALUE ... --accept' (or in the wizard)",
                EXIT_USAGE,
            )
        executor = StepExecutor(session, nice=default_nice())
        if args.plan:
            if overrides or answers:
                raise CommandError("--plan changes nothing: give --var and --answer without it", EXIT_USAGE)
            plan = executor.plan(step.id)
            say(f"== {step.id} {step.title} ({step.kind}) — session {session.id} — plan only, nothing changes")
            _print_plan(plan)
            return EXIT_OK
        if session.recovery is not None:
            say(f"amxwizard: {session.recovery}", err=True)
        followed = catch_up(session, executor, step.id)
        if followed is not None:
            result = followed  # its run was still going: followed to its end and judged here, no new attempt
            return _verdict_code(result)
        session.observe(observe_machine())  # the machine this step runs on, when it is not the one recorded
        changed = {name: value for name, value in overrides.items() if session.state.overrides.get(name) != value}
        if changed:
            session.set_variables(changed)
        if args.skip:
            executor.skip(step.id, args.skip)
            say(f"{step.id}: SKIPPED — {args.skip}")
            return EXIT_OK
        for field_id, value in answers.items():
            executor.answer(step.id, field_id, value)
        state = session.state.step(step.id)
        if state.settled and state.status in (StepStatus.PASSED, StepStatus.FAILED) and not args.again:
            # Its run finished while no wizard watched and was judged from its logs: that is its verdict. Running
            # it again would redo a finished run (a 20-minute build); that takes --again.
            print(f"== {step.id} {step.title} ({step.kind}) — session {session.id}")
            print(f"{step.id}: {state.status.value.upper()} — {state.summary}")
            print(
                f"amxwizard: step {step.id} finished while no wizard watched and was judged from its logs; "
                "run it again with --again",
                file=sys.stderr,
            )
            return EXIT_OK if state.status is StepStatus.PASSED else EXIT_FAILED
        plan = executor.plan(step.id)
        if args.accept_suggestions and executor.accept_suggestions(plan):
            plan = executor.plan(step.id)
        approval = Approval(
            confirmed=args.yes, run_stale=args.run_stale, again=args.again, allow_unproven=args.allow_unproven
        )
        say(f"== {step.id} {step.title} ({step.kind}) — session {session.id}")
        if isinstance(plan, RunCommands):
            for line in plan.describe():
                say(line)
        sys.stdout.flush()
        left = plan.unresolved(approval)
        if left:
            for blocker in left:
                show_blocker(blocker)
            for blocker in left:
                say(f"amxwizard: blocked: {blocker.describe()}", err=True)
            return EXIT_BLOCKED
        notifications = _Notifications(session)
        try:
            result = executor.apply(plan, approval, on_output=_print_lines)
        finally:
            notifications.watchdog.stop()
    except PlanChanged as exc:
        raise CommandError(f"{exc}", EXIT_BLOCKED) from None
    except (StepError, SessionError, TemplateError, VariableError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        session.close()
    code = _verdict_code(result)
    notifications.ended(result)
    return code


def _verdict_code(result: StepResult) -> int:
    from ..engine.state import StepStatus

    report(result)
    sys.stdout.flush()
    return EXIT_OK if result.status in (StepStatus.PASSED, StepStatus.RUNNING) else EXIT_FAILED
