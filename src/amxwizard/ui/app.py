"""The Textual app: turns engine events into messages, runs steps in a worker thread, and owns the screens."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .host import WizardHost
from .messages import EventRecorded, RunStarted, StepEnded, ToastRequested
from .screens.dialogs import ConfirmScreen, DiffScreen, is_dialog
from .widgets.runlog import OutputFeed

# The engine and the runbook's models are imported where they are used, not here: the wizard's first frame (the
# outline, from the runbook cache) is drawn before any of them is needed (see ``Opening``).
if TYPE_CHECKING:
    from ..engine.notify import Notice, NotifySettings
    from ..engine.session import Session
    from ..engine.steps.base import Approval, Plan, PlanInput, StepResult
    from ..engine.store import Event
    from ..engine.watchdog import Flag, Watch
    from ..runbook import models as m
    from ..runbook.cache import Outline
    from .screens.main import MainScreen


# How long a step's start takes to settle on the screen (its run's handle, its running state): the footer, which
# each of these changes would rebuild, is brought up to date once, after it.
STARTING_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class Opening:
    """How the app gets its session when it starts without one: ``outline`` is drawn at once (titles, no states),
    ``open`` runs in a worker thread after that first frame and returns the open session, or raises (the app then
    exits and ``WizardApp.open_error`` holds what it raised, for the command line to report)."""

    outline: Outline
    open: Callable[[], Session]
    # Banner notices that say something of the opened session (how it was resumed, where it stands).
    notes: Callable[[Session], list[str]] | None = None


class WizardApp(WizardHost):
    TITLE = "amxwizard"
    CSS_PATH = Path(__file__).with_name("wizard.tcss")  # absolute: subclasses live elsewhere (probes, tests)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    # The footer shows keys that work on every screen, also while a field has the focus (where ? types). A bare q
    # quits only from the main screen: on a form it is a letter.
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        session: Session | None = None,
        *,
        opening: Opening | None = None,
        nice: int = 10,
        catch_up: bool = True,
        notes: list[str] | None = None,
        notify: NotifySettings | None = None,
    ) -> None:
        super().__init__()
        if (session is None) == (opening is None):
            raise ValueError("WizardApp needs a session, or an Opening that opens one (not both)")
        self.opening = opening
        self.open_error: BaseException | None = None  # what opening the session raised (the app then exited)
        self.opened_notes: list[str] = []  # the Opening's notes, as they were when the session opened
        self.nice = nice
        self.busy: str | None = None  # the step whose commands or changes are being applied
        self.walking = False  # a step is on its way through its dialogs
        self.main: MainScreen | None = None
        self.output_feed = OutputFeed()  # filled by the runner's thread, drained by the log pane
        self._catch_up = catch_up
        self.resume_notes: list[str] = []  # every banner notice shown, in order
        # Banner notices waiting for the main screen (key -> text, sticky): how the wizard was opened, what happened
        # while it was closed.
        self.pending_notices: dict[str, tuple[str, bool]] = {f"note-{i}": (n, False) for i, n in enumerate(notes or [])}
        self.resume_notes.extend(notes or [])
        self._held_toasts: list[ToastRequested] = []
        self._notify_problem = ""
        self._notify_settings = notify
        if session is not None:
            self._bind(session)

    @property
    def is_open(self) -> bool:
        """The session is open (always, unless the app started with an ``Opening`` still at work)."""
        return "session" in self.__dict__

    def _bind(self, session: Session) -> None:
        """Take the open session: everything the app does with it starts here."""
        from ..engine.executor import StepExecutor
        from ..engine.notify import Notifier, NotifyError, NotifySettings, Terminal, load_settings
        from ..engine.watchdog import Watchdog

        self.session = session
        self.runbook = session.runbook.model
        self.executor = StepExecutor(session, nice=self.nice)
        notify = self._notify_settings
        if notify is None:
            try:
                notify = load_settings(session.dir)
            except NotifyError as exc:
                notify, self._notify_problem = NotifySettings(channels=frozenset(), source="broken settings"), str(exc)
        # The terminal is known once mounted (set_terminal); until then notices reach tmux and the command only.
        self.notifier = Notifier(notify, Terminal(), self.write_terminal)
        self.watchdog = Watchdog(session, self._flagged)
        session.subscribe(self._event_recorded)

    # -- start ---------------------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.opening is not None and not self.is_open:
            from .screens.opening import OpeningScreen

            self.push_screen(OpeningScreen(self.opening.outline))
            # The session opens once the outline is on the screen (a worker: the cursor moves meanwhile).
            self.call_after_refresh(self._open_session)
            return
        self._start()

    @work(thread=True, exit_on_error=False, group="open")
    def _open_session(self) -> None:
        assert self.opening is not None
        try:
            session = self.opening.open()
            from .screens import main  # noqa: F401  (its imports are the engine's: here, not on the UI thread)
        except BaseException as exc:  # reported by the command line once the terminal is given back
            self.open_error = exc
            with contextlib.suppress(RuntimeError):
                self.call_from_thread(self._open_failed)
            return
        try:
            self.call_from_thread(self._opened, session)
        except RuntimeError:  # the person quit while it opened: nobody else will close it
            session.close()

    def _open_failed(self) -> None:
        # A quit asked for meanwhile stands as it was asked (its result and code are not replaced); the command line
        # says why the session could not open either way.
        if not self._exit:
            self.exit(return_code=1)

    def _opened(self, session: Session) -> None:
        """The session is open: the main screen, drawn from it, takes the opening screen's place."""
        from .screens.opening import OpeningScreen

        if not self.is_running or self._exit:  # quitting: the session is not the app's to keep
            session.close()
            return
        self._bind(session)
        notes = self.opening.notes(session) if self.opening is not None and self.opening.notes is not None else []
        self.opened_notes = notes
        for i, note in enumerate(notes, start=len(self.resume_notes)):
            self.pending_notices[f"note-{i}"] = (note, False)
            self.resume_notes.append(note)
        while not isinstance(self.screen, OpeningScreen) and len(self.screen_stack) > 1:
            self.pop_screen()  # help, opened meanwhile (the stack changes at once; the screen goes later)
        opening = self.screen
        self._start(opening.chosen if isinstance(opening, OpeningScreen) else None)

    def _start(self, chosen: tuple[str, str] | None = None) -> None:
        """Show the main screen (on the row ``chosen``, else where the work is) and start what follows an open."""
        from .screens.main import MainScreen
        from .screens.opening import OpeningScreen

        self.main = MainScreen(chosen=chosen)
        if isinstance(self.screen, OpeningScreen):
            self.switch_screen(self.main)
        else:
            self.push_screen(self.main)
        if not self.session.state.setup_accepted:
            from .screens.setup import SetupScreen

            self.push_screen(SetupScreen(), self._setup_closed)
        else:
            self.pretick_checklist()
        if self.session.recovery is not None:
            self.notify(str(self.session.recovery), severity="warning", timeout=20)
        if self._notify_problem:
            self.notify(f"notifications off: {self._notify_problem}", severity="warning", timeout=15)
        self._attach_notifications()
        left = self.session.state.running_runs()
        running = left[0].step if left else self._step_left_running()
        if self._catch_up and running:
            self.busy = running  # from now, not from when the worker thread starts: no step may start meanwhile
            self.catch_up()
        self.observe_machine()
        # Everything created so far lives as long as the app; keeping it out of the collector shortens GC pauses.
        self.call_after_refresh(gc.freeze)
        self.call_after_refresh(self._compile_for_next_start)
        # While the person reads the first screen, not while the first run starts under their keys.
        self.set_timer(0.3, self._warm_up)

    @work(thread=True, exit_on_error=False, group="warm")
    def _warm_up(self) -> None:
        self.executor.warm_up()

    @work(thread=True, exit_on_error=False, group="bytecode")
    def _compile_for_next_start(self) -> None:
        """Where no bytecode was written (PYTHONDONTWRITEBYTECODE, editable installs), compile it for next time."""
        from ..bytecode import compile_stale

        compile_stale()

    @work(thread=True, exit_on_error=False, group="machine")
    def observe_machine(self) -> None:
        """Record the machine the session runs on (nvidia-smi can take seconds: never on the UI thread)."""
        from ..engine.session import SessionError
        from ..report.machine import observe_machine

        # On a read-only or full disk nothing is recorded: the record then says the machine facts are not verified.
        with contextlib.suppress(SessionError):
            self.session.observe(observe_machine())

    def _refresh_main(self) -> None:
        if self.main is not None:
            self.main.refresh_all()

    def _setup_closed(self, accepted: bool | None) -> None:
        self._refresh_main()
        if accepted:
            self.pretick_checklist()

    @work(thread=True, exit_on_error=False, group="checklist")
    def pretick_checklist(self) -> None:
        """Before the first step, tick each checklist item whose check passes, with what the check found (the event
        says the check decided it). Items a person must confirm, and items whose check does not pass, stay open;
        an item someone already ticked or unticked is theirs."""
        from ..engine.checklist import ChecklistError, tick
        from ..engine.session import SessionError

        state = self.session.state
        if any(state.step(s.id).attempts or state.step(s.id).status.done for _, s in self.runbook.iter_steps()):
            return
        values = self.executor.values()
        for item in self.runbook.checklist:
            if item.check.kind == "manual" or item.id in state.checklist:
                continue
            with contextlib.suppress(ChecklistError, SessionError):
                tick(self.session, item.id, values=values)
        self.call_from_thread(self._refresh_main)

    # -- notices: the banner, and toasts that never cover a question ---------------------------------------------

    def set_notice(self, key: str, text: str, *, sticky: bool = False) -> None:
        """Say something in the main screen's banner (from any thread)."""
        self.post_message(ToastRequested(text, kind="banner", key=key, sticky=sticky))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Literal["information", "warning", "error"] = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A toast, as Textual shows it, except that while a question is open it waits for the answer: nothing may
        cover a dialog. Thread-safe, like Textual's."""
        self.post_message(ToastRequested(message, title=title, severity=severity, timeout=timeout, markup=markup))

    def on_toast_requested(self, message: ToastRequested) -> None:
        if message.kind == "banner":
            self.resume_notes.append(message.message)
            if self.main is not None and self.main.is_mounted:
                self.main.set_notice(message.key, message.message, sticky=message.sticky)
            else:
                self.pending_notices[message.key] = (message.message, message.sticky)
            return
        if is_dialog(self.screen):
            self._held_toasts.append(message)
            if len(self._held_toasts) == 1:
                self.set_timer(0.2, self._release_toasts)
            return
        super().notify(
            message.message,
            title=message.title,
            severity=message.severity,
            timeout=message.timeout,
            markup=message.markup,
        )

    def _release_toasts(self) -> None:
        """Show the toasts held for a dialog once no dialog is open (checked again shortly while one is)."""
        if not self._held_toasts:
            return
        if is_dialog(self.screen):
            self.set_timer(0.2, self._release_toasts)
            return
        held, self._held_toasts = self._held_toasts, []
        for message in held:
            self.on_toast_requested(message)

    def _step_left_running(self) -> str | None:
        from ..engine.state import StepStatus

        state = self.session.state
        return next((s.id for _, s in self.runbook.iter_steps() if state.step(s.id).status is StepStatus.RUNNING), None)

    @work(thread=True, exit_on_error=False, group="step")
    def catch_up(self) -> None:
        """Settle what happened while the wizard was closed; follow a run that is still going."""
        try:
            self._settle_runs()
        except Exception as exc:  # busy was set before this thread started: release it whatever went wrong
            self.busy = None
            self.post_message(StepEnded("", error=exc))

    def _settle_runs(self) -> None:
        from ..engine.runs import finish_reattached, reconcile
        from ..engine.settle import settle
        from ..engine.state import StepStatus

        # What ended while no wizard watched is recorded and judged first, exactly as if it had been watched; the
        # banner says how it ended.
        for done in settle(self.session, nice=self.executor.nice):
            if done.status is StepStatus.RUNNING:
                continue
            if done.status is StepStatus.INTERRUPTED and "resume_at" in self.session.state.step(done.step).evidence:
                self.set_notice(
                    done.step, f"{done.step} stopped between two commands — select it and press r to run the rest"
                )
            elif done.status is StepStatus.INTERRUPTED:
                self.set_notice(
                    done.step,
                    f"{done.step} was interrupted while the wizard was closed — select it and press m to decide",
                )
            else:
                summary = f", {done.summary}" if done.summary else ""
                self.set_notice(done.step, f"{done.step} finished while you were away: {done.status.value}{summary}")
            if done.result is not None:
                self.post_message(StepEnded(done.step, result=done.result))
        left = self.session.state.running_runs()
        if left and self.main is not None:
            # Claim the log pane before the replay starts, so no replayed line lands before the pane is reset.
            self.call_from_thread(self.main.begin, left[0].step, left[0].started)
        away: dict[str, str] = {}  # step -> how its outcome is introduced, once it is judged
        # Only one step runs at a time, so whatever a reattached run prints belongs to the step being followed.
        for item in reconcile(self.session, on_output=self._pane_output("")):
            step_id = item.run.step
            if item.state == "running":
                self.set_notice(step_id, f"{step_id} is still running; following it", sticky=True)
                self.busy = step_id
                self.post_message(RunStarted(step_id, item.handle, item.run.log))
                finish_reattached(self.session, item)
                away[step_id] = f"{step_id} (left running when the wizard closed) finished"
            elif item.state == "interrupted":
                self.set_notice(
                    step_id, f"{step_id} was interrupted while the wizard was closed — select it and press m to decide"
                )
            else:
                away[step_id] = f"{step_id} finished while you were away"
        self._judge_left_running()
        for step_id, intro in away.items():
            state = self.session.state.step(step_id)
            if state.status.done or state.status in (StepStatus.FAILED, StepStatus.INTERRUPTED):
                summary = f", {state.summary}" if state.summary else ""
                self.set_notice(step_id, f"{intro}: {state.status.value}{summary}")
        self.busy = None
        self.post_message(StepEnded("", None))

    def _judge_left_running(self) -> None:
        """Judge (or finish running) each step an earlier wizard left running."""
        from ..engine.state import StepStatus

        for _, step in self.runbook.iter_steps():
            if self.session.state.step(step.id).status is StepStatus.RUNNING:
                # A run this wizard followed to its end: the attempt goes on (the rest of its commands) and is
                # judged here, watched.
                self.busy = step.id
                try:
                    result = self.executor.resume(
                        step.id, on_output=self._pane_output(step.id), on_started=partial(self._started, step.id)
                    )
                except Exception as exc:
                    self.post_message(StepEnded(step.id, error=exc))
                    continue
                if result is not None:
                    self.post_message(StepEnded(step.id, result=result))

    # -- notifications and the watchdog ---------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="notify")
    def _attach_notifications(self) -> None:
        """Learn where the person is (tty, tmux) and install the hook that notifies when no wizard is attached."""
        from ..engine.notify import Terminal, attach

        terminal = Terminal.here()
        self.notifier.terminal = terminal
        titles = {step.id: step.title for _, step in self.runbook.iter_steps()}
        try:
            attach(self.session.dir, terminal, titles, self.notifier.settings)
        except OSError as exc:
            self.call_from_thread(self.notify, f"a run that outlives the wizard will not notify: {exc}", timeout=10)

    def reattach_notifications(self) -> None:
        """After the settings changed: install (or remove) the end-of-run hook to match."""
        self._attach_notifications()

    def write_terminal(self, text: str) -> None:
        """Put ``text`` (a notification escape, the bell) on the terminal, in order with the frames. UI thread."""
        if self._driver is not None and not self.is_headless:
            self._driver.write(text)

    def send_notice(self, notice: Notice, *, force: bool = False) -> None:
        """Send ``notice`` through the session's channels: the terminal now, tmux and the command in a thread."""
        if not force and not self.notifier.worth_it(notice):
            return
        problems = self.notifier.send_terminal(notice)
        self._send_others(notice, problems)

    @work(thread=True, exit_on_error=False, group="notify")
    def _send_others(self, notice: Notice, problems: list[str]) -> None:
        problems = problems + self.notifier.send_others(notice)
        if problems:
            self.call_from_thread(self.notify, "notification: " + "; ".join(problems), severity="warning", timeout=10)

    def watch_tick(self) -> Watch | None:
        """One look by the watchdog (the main screen's clock calls it every second); the running step as seen."""
        self.watchdog.check(compute_usual=False)
        return self.watchdog.last

    @work(thread=True, exit_on_error=False, group="usual")
    def _learn_usual(self, step_id: str) -> None:
        self.watchdog.usual(step_id)  # reads this and other sessions' stores: never on the UI thread

    def _flagged(self, flag: Flag, seen: Watch) -> None:
        from ..engine.notify import Notice
        from ..engine.watchdog import flag_notice_state

        text = seen.silence_text() if flag == "silent" else seen.usual_text()
        self.notify(text, severity="warning", timeout=15)
        self.send_notice(
            Notice(
                event=flag,
                step=seen.step,
                state=flag_notice_state(flag, seen),
                title=self.runbook.step(seen.step).title,
                duration=seen.elapsed,
                session=self.session.id,
            )
        )

    def _notify_end(self, result: StepResult) -> None:
        from ..engine.notify import Notice
        from ..engine.watchdog import epoch

        runs = self.session.state.attempt_runs(result.step)
        if not runs:
            return  # no command ran: the person was answering or reviewing, and is looking at the screen
        started = epoch(runs[0].started)
        self.send_notice(
            Notice(
                event="ended",
                step=result.step,
                state=result.status.value,
                summary=result.summary,
                title=self.runbook.step(result.step).title,
                duration=None if started is None else max(0.0, time.time() - started),
                session=self.session.id,
            )
        )

    # -- running steps -------------------------------------------------------------------------------------------

    def start_step(self, step_id: str) -> None:
        """Walk ``step_id`` from its plan through the dialogs its blockers need to its end (a worker)."""
        if self.busy is not None or self.walking:
            self.notify(f"{self.busy or 'a step'} is still in progress", severity="warning")
            return
        self.run_worker(self._walk_worker(step_id), group="flow", exit_on_error=False, name=f"walk {step_id}")

    def answer_step(self, step_id: str) -> None:
        """Open the answers of ``step_id`` (its form, the choice); a form or choice then completes its step."""
        if self.busy is not None or self.walking:
            return
        self.run_worker(self._answer_worker(step_id), group="flow", exit_on_error=False, name=f"answer {step_id}")

    async def _walk_worker(self, step_id: str) -> None:
        self.walking = True
        try:
            await self.walk(step_id)
        finally:
            self.walking = False
            self._refresh_main()

    async def _answer_worker(self, step_id: str) -> None:
        from ..engine.steps.base import ChooseApproach, PlanInput, SaveAnswers
        from .flow import ANSWER_SCREENS

        self.walking = True
        try:
            plan = await self._plan(step_id, PlanInput())
            if plan is None or type(plan) not in ANSWER_SCREENS:
                return
            done = await self.push_screen_wait(ANSWER_SCREENS[type(plan)](plan))
            if done and isinstance(plan, SaveAnswers | ChooseApproach):
                await self.walk(step_id)
        finally:
            self.walking = False
            self._refresh_main()

    async def walk(self, step_id: str, approval: Approval | None = None) -> StepResult | None:
        """Plan ``step_id``, resolve each blocker with its screen (planning again after answers), then apply it.

        ``None`` when the person cancelled or the step could not start; otherwise how it ended.
        """
        from ..engine.state import StepStatus
        from ..engine.steps.base import Approval, PlanInput
        from .flow import BLOCKER_SCREENS, REVIEW_SCREENS, Cancel, Grant, OpenEditor, Replan, RunFirst, merge

        approval = approval or Approval()
        request = PlanInput()
        reviewed = False
        while True:
            plan = await self._plan(step_id, request)
            if plan is None:
                return None
            review = REVIEW_SCREENS.get(type(plan))
            if review is not None and not reviewed:
                reviewed = True
                outcome = await review(self, plan)
                if outcome is None:
                    return None
                request, approval = outcome[0], merge(approval, outcome[1])
                continue
            left = plan.unresolved(approval)
            if not left:
                break
            decision = await BLOCKER_SCREENS[type(left[0])](self, plan, left[0])
            if isinstance(decision, Cancel):
                return None
            if isinstance(decision, Grant):
                approval = merge(approval, decision.approval)
            elif isinstance(decision, Replan):
                request = decision.request or request
            elif isinstance(decision, RunFirst):
                first = await self.walk(decision.step_id, Approval(confirmed=decision.confirmed))
                if first is None or first.status is not StepStatus.PASSED:
                    return None
            elif isinstance(decision, OpenEditor):
                await self.edit_step(plan.step)
        return await self.execute(plan, approval)

    async def _plan(self, step_id: str, request: PlanInput) -> Plan | None:
        """The plan, computed off the UI thread (it reads files, git and logs)."""
        from ..engine.session import SessionError
        from ..engine.steps.base import StepError

        try:
            return await asyncio.to_thread(self.executor.plan, step_id, request)
        except (StepError, SessionError) as exc:
            self.notify(str(exc), severity="error", timeout=10)
        except Exception as exc:
            self._internal_error(exc)
        return None

    async def execute(self, plan: Plan, approval: Approval) -> StepResult | None:
        """Apply an approved plan in a worker thread; its output streams to the log pane."""
        step_id = plan.step.id
        self.busy = step_id
        if self.main is not None:
            self.main.begin(step_id)
            self.main.hold_bindings(STARTING_SECONDS)
        result: StepResult | None = None
        error: Exception | None = None
        try:
            result = await asyncio.to_thread(
                self.executor.apply,
                plan,
                approval,
                on_output=self._pane_output(step_id),
                on_started=partial(self._started, step_id),
            )
        except Exception as exc:
            error = exc
        finally:
            self.busy = None
        self.on_step_ended(StepEnded(step_id, result=result, error=error))
        return result

    async def edit_step(self, step: m.Step) -> None:
        """Open the person's editor at the step's place; record what they changed and show its diff."""
        from ..engine.steps.base import StepError
        from .editor import open_editor

        try:
            path, line = await asyncio.to_thread(self.executor.edit_target, step)
        except StepError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        if not open_editor(self, path, line):
            return
        await asyncio.to_thread(self.executor.record_hand_edits, step)
        diff = await asyncio.to_thread(self.executor.file_diff, path)
        await self.push_screen_wait(DiffScreen(f"git diff {path.name}", diff, readonly=True))

    def _pane_output(self, step_id: str) -> Any:
        """The output callback for the log pane: a ring, so a follower far behind may skip what it would drop."""
        from ..engine.runner import TailOutput

        return TailOutput(partial(self._output, step_id), self.output_feed.keep, self.output_feed.skip)

    def _output(self, step_id: str, lines: list[str]) -> None:
        self.output_feed.put(lines)  # only one step runs at a time: the pane shows whatever is running

    def _started(self, step_id: str, handle: Any) -> None:
        self.post_message(RunStarted(step_id, handle, str(handle.started.log)))

    def _event_recorded(self, event: Event) -> None:
        self.post_message(EventRecorded(event))

    def cancel_running(self) -> None:
        self.run_worker(self._cancel, thread=True, exit_on_error=False, group="cancel")

    def _cancel(self) -> None:
        if not self.executor.cancel():
            # A run reattached at start-up is followed by catch_up, not by the executor: stop it through its handle.
            handle = self.main.run_handle if self.main is not None else None
            if handle is not None:
                handle.cancel()

    # -- engine events become screen updates ---------------------------------------------------------------------

    def on_event_recorded(self, message: EventRecorded) -> None:
        if not self.is_running:
            return  # the wizard is quitting: events still queued from a worker have no screen to refresh
        if self.main is not None and self.main.is_mounted:
            self.main.refresh_all_soon()
        refresh = getattr(self.screen, "refresh_table", None) or getattr(self.screen, "refresh_state", None)
        if refresh is not None and self.screen is not self.main:
            refresh()

    def on_run_started(self, message: RunStarted) -> None:
        if self.main is not None:
            self.main.run_started_here(message.step_id, message.handle, message.log_path)
        self._learn_usual(message.step_id)

    def on_step_ended(self, message: StepEnded) -> None:
        from ..engine.state import StepStatus

        if message.step_id == self.busy or not message.step_id:
            self.busy = None
        if self.main is not None and message.step_id:
            self.main.step_ended(message.step_id, message.result)
        elif (
            self.main is not None
            and self.main.run_step is not None
            and self.session.state.step(self.main.run_step).status is not StepStatus.RUNNING
        ):
            # The catch-up is over and the run it claimed the pane for ended unseen (interrupted): free the pane.
            self.main.step_ended(self.main.run_step, None)
        error = message.error
        if error is not None:
            self._step_error(message.step_id, error)
        elif message.result is not None:
            # The verdict goes to the status line above the output (and the detail pane, which stays on a failed
            # step): a toast would cover the output's newest lines, or a dialog that opens next.
            if self.main is not None:
                self.main.show_result(message.result)
            self._notify_end(message.result)
        if self.main is not None:
            self.main.refresh_bindings()

    def _step_error(self, step_id: str, error: Exception) -> None:
        from ..engine.session import SessionError
        from ..engine.steps.base import StepError

        if isinstance(error, StepError | SessionError):
            self.notify(str(error), severity="error", timeout=10)
        else:
            self._internal_error(error)

    def safely(self, action: Callable[..., Any], *args: Any) -> bool:
        """Record something a person did; a failure to (disk full, read-only) is a message, not a crash."""
        from ..engine.session import SessionError
        from ..engine.steps.base import StepError

        try:
            action(*args)
        except (StepError, SessionError) as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return False
        return True

    def _internal_error(self, error: Exception) -> None:
        """A bug, not a person's mistake: keep the traceback in the session folder and say where."""
        path = self.session.dir / "wizard-errors.log"
        try:
            with path.open("a", encoding="utf-8") as fh:
                fh.write("".join(traceback.format_exception(error)) + "\n")
        except OSError:
            pass
        self.notify(f"internal error: {error} (details in {path})", severity="error", timeout=15)

    # -- app-wide actions ----------------------------------------------------------------------------------------

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        if not self.is_open:
            self.exit()  # the session, if it opens meanwhile, is closed by the worker that opened it
            return

        def leave() -> None:
            self.executor.detach()  # no further command starts; a running one goes on without us
            if self.main is not None and self.main.run_handle is not None:
                self.main.run_handle.detach()  # a reattached run: else the follower holds the exit until it ends
            self.exit()

        if self.busy is None or self.main is None or self.main.run_handle is None:
            leave()
            return

        def go(yes: bool | None) -> None:
            if yes:
                leave()

        self.push_screen(
            ConfirmScreen(
                "A command is running. Quit anyway?",
                "It keeps running; the next start follows it and records how it ended.",
            ),
            go,
        )

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        from .palette import WizardPalette

        if not self.is_open:
            self.notify("the session is still opening", timeout=2)
            return
        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(WizardPalette(id="--command-palette"))

    def palette_shortcut(self, typed: str) -> Callable[[], None] | None:
        """What Enter on ``typed`` does at once in the palette: go to the step it names, if it names one."""
        from .palette import typed_step

        step_id = typed_step(typed, [s.id for _, s in self.runbook.iter_steps()])
        return partial(self._goto, step_id) if step_id is not None else None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        if main is None:
            return
        step = main.step
        if step is not None:
            yield SystemCommand(
                f"Run {step.id}", f"run the selected step: {step.title}", self._on_main(main.action_run)
            )
            yield SystemCommand(
                f"Skip {step.id}", "mark the selected step skipped, with a reason", self._on_main(main.action_skip)
            )
            yield SystemCommand(
                f"Full log of {step.id}", "its last run's whole log, from disk", self._on_main(main.action_full_log)
            )
        yield SystemCommand("Next pending step", "the first step not done yet", self._on_main(main.action_next_step))
        yield SystemCommand("Checklist", "the pre-implementation checklist", self._on_main(main.action_checklist))
        yield SystemCommand("Success criteria", "each criterion and its evidence", self._on_main(main.action_criteria))
        yield SystemCommand("Reviewer's record", "the state of the record; write it", self._on_main(main.action_record))
        yield SystemCommand("Variables", "the setup: variables and preflight", self._on_main(main.action_setup))
        yield SystemCommand(
            "Finish the session", "on the record screen, after a confirmation", self._on_main(main.action_finish)
        )
        yield SystemCommand("Help", "the keys of this screen", self.action_help)
        for phase, each in self.runbook.iter_steps():
            yield SystemCommand(
                f"Go to {each.id} {each.title}", f"phase {phase.id}: {phase.title}", partial(self._goto, each.id)
            )

    def _on_main(self, action: Callable[[], object]) -> Callable[[], None]:
        """An action of the main screen, from wherever the palette was opened."""

        def run() -> None:
            self._to_main()
            action()

        return run

    def _to_main(self) -> None:
        while self.screen is not self.main and len(self.screen_stack) > 1:
            self.pop_screen()

    def _goto(self, step_id: str) -> None:
        self._to_main()
        if self.main is not None:
            from .widgets.outline import StepOutline

            self.main.query_one(StepOutline).select_step(step_id)
