"""The main screen: the runbook outline, the selected step in detail, and the live output of the running step."""

from __future__ import annotations

import asyncio
import shlex
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static, Tree

from ...engine.checklist import item_text
from ...engine.state import StepStatus
from ...engine.steps import kind_of
from ...engine.watchdog import Watch, minutes
from ...runbook import models as m
from ..clipboard import copy_text
from ..host import WizardHost
from ..keys import GLOBAL_KEYS
from ..render import pending_detail, step_detail
from ..tones import tone
from ..widgets.detail import DetailPane
from ..widgets.outline import Item, StepOutline
from ..widgets.quiet import set_text
from ..widgets.runlog import RunLog
from .dialogs import ConfirmScreen, DecideScreen, NoteScreen

if TYPE_CHECKING:
    from ...engine.executor import StepResult


KEY_BURST_SECONDS = 0.15  # cursor moves closer together than this are one burst (see _show_highlighted)
PENDING_SECONDS = 0.1  # a step's plan taking longer than this is said to be being worked out (see refresh_detail)


class MainScreen(Screen[None]):
    TITLE = "Runbook"
    # In the order of importance: the footer cuts what does not fit at 80 columns from the end (Quit and Help first,
    # so they are never the ones cut); keys that do nothing for the selection are not shown at all.
    BINDINGS = [
        *GLOBAL_KEYS,
        Binding("r", "run", "Run"),
        Binding("a", "answer", "Answer"),
        Binding("t", "tick", "Tick"),
        Binding("c", "cancel", "Cancel"),
        Binding("m", "decide", "Decide"),
        Binding("g", "goto", "Go to fix"),
        Binding("e", "edit", "Edit"),
        Binding("l", "full_log", "Full log"),
        Binding("s", "skip", "Skip"),
        Binding("n", "next_step", "Next"),
        Binding("k", "criteria", "Criteria"),
        Binding("f", "record", "Record"),
        Binding("v", "setup", "Variables"),
        Binding("z", "zoom_log", "Zoom log", show=False),
        Binding("q", "app.quit", "Quit", show=False),
        # The outline has the focus and scrolls itself with the arrows it does not use: these belong to the detail.
        Binding("right", "sideways(8)", "Scroll code right", show=False, priority=True),
        Binding("left", "sideways(-8)", "Scroll code left", show=False, priority=True),
        Binding("pagedown", "detail_page(1)", "Detail page down", show=False, priority=True),
        Binding("pageup", "detail_page(-1)", "Detail page up", show=False, priority=True),
        Binding("y", "copy", "Copy", show=False),
    ]

    app: WizardHost

    def __init__(self, chosen: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.chosen = chosen  # (kind, id) of the row to start on, when the person chose one before the session opened
        self.run_step: str | None = None
        self.run_started = 0.0
        self.run_handle: Any = None
        self.last_log: str | None = None
        self.result_shown = False  # the status line says how the last step ended (until the next one begins)
        self._detail_due = False
        self._detail_asked = 0  # refresh_detail calls so far: a plan shows only if no later call was made
        self._detail_shown = 0  # the call whose plan the pane shows
        self._pending_timer: Timer | None = None  # says "…" when a plan takes longer than PENDING_SECONDS
        self._suggested_line: int | None = None  # the diagnostic log's line the selected form's evidence is on
        # The banner: what happened while the wizard was closed, each until it is read (the next key pressed).
        # A sticky one ("still running; following it") stays until it is replaced by its outcome.
        self.notices: dict[str, tuple[str, bool]] = {}
        self._notices_seen = False
        self._refresh_due = False  # a refresh_all is scheduled for the next frame
        self._last_move = 0.0  # when the cursor last moved (monotonic)
        self._rest_timer: Timer | None = None  # shows the selection once a burst of cursor moves ends

    def compose(self) -> ComposeResult:
        yield Static(id="topbar")
        yield Static(id="notice", classes="hidden")
        with Horizontal(id="body"):
            with Vertical(id="outline-col"):
                yield StepOutline(self.app.runbook, self.app.session.state, self.app.executor.values, id="outline")
                yield Static(id="outline-selected")
            yield DetailPane(id="detail-scroll")
        with Vertical(id="logpane"):
            yield Static(id="runstatus")
            yield RunLog(self.app.output_feed, id="log")
        yield Footer()

    def on_mount(self) -> None:
        outline = self.query_one(StepOutline)
        outline.focus()
        if self.chosen is not None and outline.select(*self.chosen):
            pass  # where the person moved the cursor while the session opened
        elif self.checklist_leads():
            outline.select_checklist()
        elif nxt := self.next_pending():
            outline.select_step(nxt)
        self.query_one(StepOutline).refresh_labels()
        for key, (text, sticky) in self.app.pending_notices.items():
            self.set_notice(key, text, sticky=sticky)
        self.app.pending_notices.clear()
        self.refresh_topbar()
        self.refresh_runstatus()
        # The detail (syntax highlighting, file lookups) comes one frame later: the outline is usable at once.
        self.call_after_refresh(self.refresh_all)
        self.set_interval(1.0, self._tick)

    # -- what is selected ----------------------------------------------------------------------------------------

    @property
    def item(self) -> Item | None:
        """The selected row; None also before the screen is composed (Textual may ask for its keys by then)."""
        from textual.css.query import NoMatches

        try:
            return self.query_one(StepOutline).current
        except NoMatches:
            return None

    @property
    def step(self) -> m.Step | None:
        item = self.item
        if item is None or item.kind != "step":
            return None
        return self.app.runbook.step(item.id)

    def checklist_leads(self) -> bool:
        """A session that has not started a step yet, with its checklist still open, opens on the checklist."""
        from ...engine.checklist import progress

        state = self.app.session.state
        if not self.app.runbook.checklist or progress(self.app.runbook, state).complete:
            return False
        return not any(
            state.step(s.id).attempts or state.step(s.id).status.done for _, s in self.app.runbook.iter_steps()
        )

    def next_pending(self) -> str | None:
        state = self.app.session.state
        for _, step in self.app.runbook.iter_steps():
            if not state.step(step.id).status.done:
                return step.id
        return None

    # -- refreshing ----------------------------------------------------------------------------------------------

    def refresh_all(self) -> None:
        self.query_one(StepOutline).refresh_labels()
        self.refresh_topbar()
        self.refresh_detail()
        self.refresh_runstatus()
        self.refresh_bindings()

    def refresh_all_soon(self) -> None:
        """:meth:`refresh_all` once for all the events recorded before the next frame (a step's start records
        several, and each refresh rebuilds every outline label and plans the selected step again)."""
        if not self._refresh_due:
            self._refresh_due = True
            self.call_after_refresh(self._refresh_all_due)

    def _refresh_all_due(self) -> None:
        self._refresh_due = False
        if self.app.is_running and self.is_attached:  # not while the wizard quits and the screen is taken down
            self.refresh_all()

    def refresh_topbar(self) -> None:
        rb, state = self.app.runbook, self.app.session.state
        steps = [s for _, s in rb.iter_steps()]
        statuses = [state.step(s.id).status for s in steps]
        passed, skipped = statuses.count(StepStatus.PASSED), statuses.count(StepStatus.SKIPPED)
        done, failed = passed + skipped, statuses.count(StepStatus.FAILED)
        width = 12
        filled = round(width * done / max(len(steps), 1))
        bar = Text.assemble(("█" * filled, tone("good")), ("░" * (width - filled), "dim"))
        text = Text.assemble(
            ("amxwizard ", "bold"),
            (rb.title, tone("accent", bold=True)),
            "  ",
            bar,
            # The counts the record gives: "12 passed, 2 skipped of 24".
            f" {passed} passed" + (f", {skipped} skipped" if skipped else "") + f" of {len(steps)}",
            (f" · {failed} failed" if failed else "", tone("error")),
            (f"  session {self.app.session.id}", "dim"),
        )
        set_text(self.query_one("#topbar", Static), text)

    def refresh_detail(self) -> None:
        item = self.item
        detail = self.query_one(DetailPane)
        self.refresh_selected()
        self._detail_asked += 1  # whatever a plan still being worked out says, it is no longer the latest
        if self._pending_timer is not None:
            self._pending_timer.stop()
            self._pending_timer = None
        if item is None:
            detail.show([])
        elif item.kind == "step":
            # Most plans take a few milliseconds: the pane keeps what it shows until the plan comes (one change, not
            # a placeholder and then the plan, each a layout in the frames of the keys being pressed), and says the
            # plan is being worked out only when it takes longer than a person would notice.
            self._pending_timer = self.set_timer(
                PENDING_SECONDS, partial(self._show_pending, item.id, self._detail_asked)
            )
            self._plan_detail(item.id, self._detail_asked)
        elif item.kind == "check":
            detail.show([self._checklist_detail(item.id)])
        elif item.kind == "phase":
            phase = next(p for p in self.app.runbook.phases if p.id == item.id)
            detail.show(
                [
                    Text.assemble(
                        (f"Phase {phase.id}: {phase.title}\n", "bold reverse"),
                        (f"{phase.tag}\n" if phase.tag else "", "dim"),
                        (phase.goal or "") + "\n\n",
                        ("n next pending step · k criteria · f record", "dim italic"),
                    )
                ]
            )
        else:
            detail.show([self._checklist_gate()])

    def refresh_selected(self) -> None:
        """The highlighted row's whole name under the outline (the outline itself cuts long names)."""
        outline = self.query_one(StepOutline)
        node = outline.cursor_node
        label = node.label if node is not None else ""
        text = label.copy() if isinstance(label, Text) else Text(str(label))
        text.no_wrap = False
        set_text(self.query_one("#outline-selected", Static), text)

    def _checklist_gate(self) -> Text:
        """The checklist before the first step: each item, ticked or not, and what its check found."""
        from ...engine.checklist import progress

        rb, state = self.app.runbook, self.app.session.state
        done = progress(rb, state)
        text = Text.assemble(
            (f"Pre-implementation checklist  {done.confirmed}/{done.total}\n", "bold reverse"),
            "Confirm each item before the first step. Items a check can decide were checked against the repo and "
            "ticked when it passed; the others are yours to tick.\n\n",
        )
        for item in rb.checklist:
            tick = state.checklist.get(item.id)
            ticked = bool(tick and tick.ticked)
            text.append("✔ " if ticked else "☐ ", style=tone("good") if ticked else tone("warn", bold=True))
            text.append(f"{item.id}  ", style="bold")
            text.append(item_text(item, self.app.executor.values()) + "\n")
            if tick is not None and tick.ticked:
                how = (
                    "checked: " + tick.finding
                    if tick.auto
                    else f"ticked by {tick.by}" + (f": {tick.note}" if tick.note else "")
                )
                text.append(f"     {how}\n", style="dim")
            elif item.check.kind == "manual":
                text.append("     yours to confirm: nothing on this machine can check it\n", style="dim")
            else:
                text.append(f"     {item.check.kind} check: select it to see what it finds\n", style="dim")
        text.append("\n↓ select an item · t tick it · n the first pending step", style="dim italic")
        return text

    def _show_pending(self, step_id: str, asked: int) -> None:
        self._pending_timer = None
        if asked == self._detail_asked and self._detail_shown != asked:
            self.query_one(DetailPane).show(pending_detail(self.app.executor, self.app.runbook.step(step_id)))

    @work(thread=True, exclusive=True, group="detail", exit_on_error=False)
    def _plan_detail(self, step_id: str, asked: int) -> None:
        # Planning reads files, git and logs: never on the UI thread.
        executor = self.app.executor
        try:
            plan = executor.plan(step_id)
            rendered = step_detail(executor, plan)
        except Exception as exc:
            rendered = [Text(f"cannot work out what {step_id} will do: {exc}", style=tone("error", bold=True))]
            plan = None
        line = getattr(plan, "evidence_line", None)
        self.app.call_from_thread(self._show_detail, asked, rendered, line)

    def _show_detail(self, asked: int, rendered: list[RenderableType], evidence_line: int | None) -> None:
        # Only the latest plan asked for: an earlier one, for another row or for the state before the last event,
        # may finish after it.
        if asked == self._detail_asked:
            self._detail_shown = asked
            self._suggested_line = evidence_line
            self.query_one(DetailPane).show(rendered)

    def _checklist_detail(self, item_id: str, check: Any = None) -> Text:
        """An item's text, its tick, and its automatic check (``check``: its result, once the worker has it)."""
        item = next(i for i in self.app.runbook.checklist if i.id == item_id)
        tick = self.app.session.state.checklist.get(item_id)
        text = Text.assemble((f"{item.id}  {item_text(item, self.app.executor.values())}\n", "bold reverse"))
        if item.check.kind == "manual":
            text.append("confirmed by you (nothing on this machine can check it)\n", style="dim")
        elif check is None:
            text.append(f"check ({item.check.kind}): checking…\n", style="dim")
            self._check_item(item_id, self._detail_asked)
        else:
            style = {"ok": tone("good"), "warn": tone("warn"), "fail": tone("error", bold=True)}.get(check.status, "")
            text.append(f"check ({item.check.kind}): {check.status} — {check.finding}\n", style=style)
        if tick is not None:
            state = "ticked" if tick.ticked else "unticked"
            who = "by its check" if tick.auto else f"by {tick.by}"
            text.append(
                f"{state} {who} at {tick.ts[:16].replace('T', ' ')} UTC"
                + (f": {tick.note}" if tick.note else "")
                + (f" ({tick.finding})" if tick.auto and tick.finding else "")
                + "\n"
            )
        text.append("\nt tick / untick", style="dim italic")
        return text

    @work(thread=True, exclusive=True, group="checklist-check", exit_on_error=False)
    def _check_item(self, item_id: str, asked: int) -> None:
        # git status on a large checkout takes a while: never on the UI thread, never for an item no longer shown.
        from ...engine.preflight import check_checklist_item
        from .setup import own_edits_expected

        item = next(i for i in self.app.runbook.checklist if i.id == item_id)
        values = self.app.executor.values()
        check = own_edits_expected(check_checklist_item(item, values), self.app.session, values)
        self.app.call_from_thread(self._show_check, asked, item_id, check)

    def _show_check(self, asked: int, item_id: str, check: Any) -> None:
        # Only the latest check asked for, as for a step's plan (_show_detail).
        if asked == self._detail_asked:
            self.query_one(DetailPane).show([self._checklist_detail(item_id, check)])

    def refresh_runstatus(self, seen: Watch | None = None) -> None:
        status = self.query_one("#runstatus", Static)
        if self.run_step is not None:
            elapsed = time.monotonic() - self.run_started
            pid = getattr(getattr(self.run_handle, "started", None), "pid", None)
            text = Text.assemble(
                ("▶ ", tone("warn", bold=True)),
                (self.run_step, "bold"),
                f" running · {_clock(elapsed)}" + (f" · pid {pid}" if pid else ""),
            )
            if seen is not None and seen.step == self.run_step:
                if seen.silent:  # the watchdog flags it; nothing is stopped
                    text.append(
                        f" · silent {minutes(seen.quiet)} (limit {minutes(seen.limit)})", tone("warn", bold=True)
                    )
                if seen.usual is not None:
                    usual = f" · usually {minutes(seen.usual.seconds)}"
                    text.append(usual, tone("warn", bold=True) if seen.overdue else "dim")
            text.append("  c cancel · l full log · z zoom", "dim")
            set_text(status, text)
        elif self.last_log is None and not self.result_shown:
            # (Events of a step that just ended may still be queued: a verdict already shown stays.)
            set_text(status, Text("output of the step you run appears here", style="dim"))

    def show_result(self, result: StepResult, elapsed: float | None = None) -> None:
        """How a step ended, on the status line above its output (never a toast over the output's newest lines):
        the verdict, the summary, and the first advice when it failed."""
        passed = result.status is StepStatus.PASSED
        text = Text.assemble(
            ("✔ " if passed else "✘ ", tone("good") if passed else tone("error", bold=True)),
            (f"{result.step} {result.status.value}", tone("good") if passed else tone("error", bold=True)),
            (f" after {_clock(elapsed)}" if elapsed is not None else ""),
            f" · {result.summary}",
        )
        if result.troubleshooting:
            first = result.troubleshooting[0]
            go = f" (g goes to {first.goto})" if first.goto else ""
            text.append(f"  → {first.solution}{go}", style=tone("warn"))
        self.result_shown = True
        set_text(self.query_one("#runstatus", Static), text)

    def _tick(self) -> None:
        seen = self.app.watch_tick()
        if self.run_step is not None:
            self.refresh_runstatus(seen)

    @on(Tree.NodeHighlighted)
    def _highlighted(self) -> None:
        # Coalesced: holding an arrow key moves the cursor many times per frame; the detail follows once.
        if not self._detail_due:
            self._detail_due = True
            self.call_after_refresh(self._show_highlighted)

    def _show_highlighted(self) -> None:
        self._detail_due = False
        now = time.monotonic()
        in_burst = now - self._last_move < KEY_BURST_SECONDS
        self._last_move = now
        if self._rest_timer is not None:
            self._rest_timer.stop()
            self._rest_timer = None
        if in_burst:
            # The cursor keeps moving (an arrow key held or tapped fast): only the outline follows each move; the
            # detail (a re-layout, and a plan worker that reads files and runs git, holding the GIL) and the
            # footer (rebuilt when the keys it shows differ) follow once the keys rest. Done for every move, they
            # cost 10-25 ms each on two busy cores and landed in the frame of the next move.
            self._rest_timer = self.set_timer(KEY_BURST_SECONDS, self._keys_rested)
        else:
            self._show_selection()

    def _show_selection(self) -> None:
        self.refresh_detail()
        self.query_one(DetailPane).scroll_home(animate=False)
        self.refresh_bindings()

    def _keys_rested(self) -> None:
        self._rest_timer = None
        self._show_selection()

    # -- the banner ----------------------------------------------------------------------------------------------

    def set_notice(self, key: str, text: str, *, sticky: bool = False) -> None:
        """Show ``text`` in the banner under ``key`` (a step id, say), replacing what that key said before.

        A plain notice goes once it is read (the next key pressed after it appeared); a sticky one stays until it is
        replaced ("1.4 is still running; following it" until 1.4 ends)."""
        self.notices[key] = (text, sticky)
        self._notices_seen = False
        self._render_notices()

    def drop_notice(self, key: str) -> None:
        self.notices.pop(key, None)
        self._render_notices()

    def _render_notices(self) -> None:
        notice = self.query_one("#notice", Static)
        if self.notices:
            set_text(notice, Text(" · ".join(text for text, _ in self.notices.values()), style="bold"))
            notice.remove_class("hidden")
        else:
            notice.add_class("hidden")

    def on_key(self, event: events.Key) -> None:
        # Read: the person acted after seeing it. The first key after a notice appears marks it seen, and takes
        # the read notices away.
        if not self.notices:
            return
        if self._notices_seen:
            return
        self._notices_seen = True
        self.call_after_refresh(self._drop_read)

    def _drop_read(self) -> None:
        self.notices = {k: v for k, v in self.notices.items() if v[1]}
        self._render_notices()

    # -- engine events (forwarded by the app) --------------------------------------------------------------------

    def begin(self, step_id: str, since: str = "") -> None:
        """A step is about to run (or to be followed, ``since`` its recorded start): the pane is its own from now on.

        Called on the UI thread before the worker starts, so no output of the step can arrive before the reset.
        """
        self.query_one(RunLog).reset()
        self.run_started = time.monotonic() - _seconds_since(since)
        self.run_step, self.run_handle = step_id, None
        self.result_shown = False
        self.refresh_runstatus()

    def run_started_here(self, step_id: str, handle: Any, log_path: str) -> None:
        if self.app.busy != step_id:
            # A command so quick that its step ended before this message came: the pane must not say "running"
            # again (nothing is), but its log is the one `l` opens.
            self.last_log = log_path
            self.refresh_bindings()
            return
        if self.run_step != step_id:
            self.begin(step_id)
        self.run_handle, self.last_log = handle, log_path
        self.refresh_runstatus()
        self.refresh_bindings()

    def step_ended(self, step_id: str, result: StepResult | None) -> None:
        if self.run_step == step_id:
            elapsed = time.monotonic() - self.run_started
            self.run_step, self.run_handle = None, None
            if result is not None:
                self.show_result(result, elapsed)
        item = self.item
        if result is not None and result.status is StepStatus.PASSED and item is not None and item.id == step_id:
            nxt = self.next_pending()  # a wizard moves on by itself; a failure stays in view
            if nxt:
                self.query_one(StepOutline).select_step(nxt)
        self.refresh_all()

    # -- actions -------------------------------------------------------------------------------------------------

    _bindings_shown: tuple[object, ...] | None = None

    _bindings_held_until = 0.0
    _bindings_hold: Timer | None = None

    def hold_bindings(self, seconds: float) -> None:
        """Leave the footer as it is for ``seconds``, then bring it up to date once.

        A step's start changes the keys it shows three times within ~100 ms (busy; the run's handle, so cancel; the
        running state, so no skip), and each change rebuilds every key of the footer while keys are being pressed.
        The keys themselves work meanwhile: Textual asks ``check_action`` when one is pressed."""
        self._bindings_held_until = time.monotonic() + seconds
        if self._bindings_hold is None:
            self._bindings_hold = self.set_timer(seconds, self._bindings_released)

    def _bindings_released(self) -> None:
        self._bindings_hold, self._bindings_held_until = None, 0.0
        if time.monotonic() - self._last_move < KEY_BURST_SECONDS:
            # The cursor is moving: the footer follows once the keys rest, as the detail does (_show_highlighted).
            self.hold_bindings(KEY_BURST_SECONDS)
            return
        self.refresh_bindings()

    def refresh_bindings(self) -> None:
        """Tell the footer only when what it would show changed: a footer refresh rebuilds and restyles every key,
        and most cursor moves (which ask for one) change nothing it shows."""
        from textual.css.query import NoMatches

        if time.monotonic() < self._bindings_held_until:
            return  # brought up to date when the hold ends
        app = self.app
        try:
            shown: tuple[object, ...] | None = (
                self.focused,
                app.app_focus,
                app.screen is self,
                len(app.screen_stack),
                tuple(self.check_action(binding.action, ()) for binding in self.BINDINGS),  # type: ignore[union-attr]
            )
        except NoMatches:  # not composed yet
            shown = None
        if shown is None or shown != self._bindings_shown:
            self._bindings_shown = shown
            super().refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        item, step = self.item, self.step
        busy = self.app.busy is not None or self.app.walking
        status = self.app.session.state.step(step.id).status if step else None
        kind = kind_of(step) if step is not None else None
        if action == "run":
            return step is not None and (not busy or None)
        if action == "answer":
            return kind is not None and step is not None and kind.asks(step) and (not busy or None)
        if action == "cancel":
            return self.app.busy is not None and self.run_handle is not None
        if action == "edit":
            return kind is not None and kind.edits_files and (not busy or None)
        if action == "full_log":
            return self._log_for_selection() is not None or self.last_log is not None
        if action == "decide":
            return status in (StepStatus.INTERRUPTED, StepStatus.FAILED) and not busy
        if action == "goto":
            return status is StepStatus.FAILED and self._troubleshooting_goto() is not None
        if action == "tick":
            return item is not None and (item.kind == "check" or (item.kind == "checklist" and self._open_item()))
        if action == "skip":
            return step is not None and status is not StepStatus.RUNNING and status is not StepStatus.SKIPPED
        if action == "setup":
            return not busy or None  # variables do not change under a running step
        return True

    def action_run(self) -> None:
        step = self.step
        if step is None:
            return
        if self.app.session.state.step(step.id).status is StepStatus.INTERRUPTED:
            self.action_decide()
        else:
            self.app.start_step(step.id)

    def action_answer(self) -> None:
        step = self.step
        if step is not None:
            self.app.answer_step(step.id)

    def action_cancel(self) -> None:
        if self.run_step is None:
            return
        step_id = self.run_step

        def go(yes: bool | None) -> None:
            if yes:
                self.app.cancel_running()

        self.app.push_screen(
            ConfirmScreen(
                f"Cancel {step_id}?",
                "SIGTERM, then SIGKILL after 5 s, to the command's whole process group. The wizard keeps running.",
            ),
            go,
        )

    def action_edit(self) -> None:
        step = self.step
        if step is not None:
            self.run_worker(self.app.edit_step(step), group="flow", exit_on_error=False)

    def _log_for_selection(self) -> tuple[Path, int | None] | None:
        step = self.step
        if step is None:
            return None
        source = getattr(step, "evidence_from", None) or step.id
        runs = self.app.session.state.step(source).runs
        if not runs:
            return None
        run = self.app.session.state.runs[runs[-1]]
        line = None
        if getattr(step, "evidence_from", None):
            line = self._suggested_line
        return Path(run.log), (line - 1 if line else None)

    def action_full_log(self) -> None:
        from .fulllog import FullLogScreen

        found = self._log_for_selection()
        if found is None and self.last_log:
            found = (Path(self.last_log), None)
        if found is None:
            return
        self.app.push_screen(FullLogScreen(found[0], start_line=found[1]))

    def action_decide(self) -> None:
        step = self.step
        if step is None:
            return
        summary = self.app.session.state.step(step.id).summary

        def picked(choice: str | None) -> None:
            if choice == "rerun":
                self.app.start_step(step.id)  # a destructive step still asks its own question
            elif choice in ("passed", "failed"):

                def noted(note: str | None) -> None:
                    if note:
                        self.app.safely(self.app.executor.decide, step.id, StepStatus(choice), note)

                self.app.push_screen(NoteScreen(f"Why mark {step.id} {choice}?"), noted)

        self.app.push_screen(DecideScreen(step.id, summary), picked)

    def _troubleshooting_goto(self) -> str | None:
        step = self.step
        if step is None:
            return None
        from ...engine.evidence.troubleshoot import matching

        state = self.app.session.state
        findings = state.step(step.id).evidence.get("findings", [])
        return next((e.goto for e in matching(self.app.runbook, state, step.id, findings) if e.goto), None)

    def action_goto(self) -> None:
        target = self._troubleshooting_goto()
        if target:
            self.query_one(StepOutline).select_step(target)

    def _open_item(self) -> bool:
        return self.query_one(StepOutline).first_open_item() is not None

    def action_tick(self) -> None:
        item = self.item
        if item is not None and item.kind == "checklist":
            first = self.query_one(StepOutline).first_open_item()
            if first is not None:  # the header: the first item still open, selected so its detail shows
                self.query_one(StepOutline).select_item(first)
                self.run_worker(self._tick_item(first), group="flow", exit_on_error=False)
            return
        if item is None or item.kind != "check":
            return
        tick = self.app.session.state.checklist.get(item.id)
        if tick is not None and tick.ticked:

            def untick(yes: bool | None) -> None:
                if yes:
                    self.app.safely(self.app.executor.tick_checklist, item.id, False, "")

            self.app.push_screen(
                ConfirmScreen(f"Untick {item.id}?", f"Its note was: {tick.note}" if tick.note else ""), untick
            )
            return
        self.run_worker(self._tick_item(item.id), group="flow", exit_on_error=False)

    async def _tick_item(self, item_id: str) -> None:
        """Tick an item: its check runs first (git, off the UI thread); one that does not pass asks why."""
        from ...engine.steps.base import StepError

        item = next(i for i in self.app.runbook.checklist if i.id == item_id)
        note: str | None = ""
        if item.check.kind == "manual":
            note = await self.app.push_screen_wait(NoteScreen(f"Tick {item_id}: a note (optional)", required=False))
            if note is None:
                return
        try:
            await asyncio.to_thread(self.app.executor.tick_checklist, item_id, True, note or "")
        except StepError as exc:
            own = await asyncio.to_thread(self._only_own_edits, item_id)
            if own:  # the tree differs only by what this session changed: that is no reason to ask
                self.app.safely(self.app.executor.tick_checklist, item_id, True, own)
                self.refresh_all()
                return
            note = await self.app.push_screen_wait(NoteScreen(f"{exc}. Confirm it anyway: why?"))
            if note:
                try:
                    await asyncio.to_thread(self.app.executor.tick_checklist, item_id, True, note)
                except StepError as again:
                    self.notify(str(again), severity="error", timeout=10)
        self.refresh_all()

    def _only_own_edits(self, item_id: str) -> str:
        """For a clean-tree item that fails only on this session's own edits, the note that says so; else ""."""
        from ...engine.preflight import check_checklist_item
        from .setup import own_edits_expected

        item = next(i for i in self.app.runbook.checklist if i.id == item_id)
        values = self.app.executor.values()
        check = check_checklist_item(item, values)
        if check.status == "ok" or check.name != "clean_tree":
            return ""
        adjusted = own_edits_expected(check, self.app.session, values)
        return f"checked by the wizard: {adjusted.finding}" if adjusted.status == "ok" else ""

    def action_skip(self) -> None:
        step = self.step
        if step is None:
            return

        def noted(reason: str | None) -> None:
            if reason:
                self.app.safely(self.app.executor.skip, step.id, reason)

        self.app.push_screen(NoteScreen(f"Why skip {step.id}?"), noted)

    def action_next_step(self) -> None:
        nxt = self.next_pending()
        if nxt:
            self.query_one(StepOutline).select_step(nxt)

    def action_criteria(self) -> None:
        from .criteria import CriteriaScreen

        self.app.push_screen(CriteriaScreen())

    def action_record(self) -> None:
        from .record import RecordScreen

        self.app.push_screen(RecordScreen())

    def action_finish(self) -> None:
        """The record screen, asking whether to finish the session (it says what the record still lacks)."""
        from .record import RecordScreen

        screen = RecordScreen()
        self.app.push_screen(screen)
        screen.call_after_refresh(screen.action_finish)

    def action_checklist(self) -> None:
        self.query_one(StepOutline).select_checklist()

    def action_setup(self) -> None:
        from .setup import SetupScreen

        self.app.push_screen(SetupScreen(), lambda _: self.refresh_all())

    def action_copy(self) -> None:
        """Copy the selected step's commands, exactly as they will run, to the local clipboard (OSC 52)."""
        step = self.step
        if step is None:
            self.notify("select a step to copy its commands", severity="warning")
            return
        self._copy_commands(step.id)

    @work(thread=True, exclusive=True, group="copy", exit_on_error=False)
    def _copy_commands(self, step_id: str) -> None:
        from ...engine.steps.base import RunCommands

        try:
            plan = self.app.executor.plan(step_id)
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"cannot work out {step_id}'s commands: {exc}", severity="error")
            return
        if not isinstance(plan, RunCommands) or not plan.commands:
            self.app.call_from_thread(self.notify, f"{step_id} runs no command; nothing to copy", severity="warning")
            return
        # As they will run: in their folder, with the shell variables earlier steps exported (BACKUP_DIR).
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(self.app.session.env().items()))
        text = f"cd {shlex.quote(str(plan.cwd))}\n{exports}" + "".join(c.rstrip("\n") + "\n" for c in plan.commands)
        what = f"{step_id}'s {len(plan.commands)} command(s)"
        self.app.call_from_thread(copy_text, self.app, text, what)

    def action_zoom_log(self) -> None:
        self.query_one("#logpane").toggle_class("zoomed")

    def action_sideways(self, columns: int) -> None:
        self.query_one(DetailPane).sideways(columns)

    def action_detail_page(self, pages: int) -> None:
        pane = self.query_one(DetailPane)
        pane.scroll_to(y=pane.scroll_y + pages * max(pane.size.height - 1, 1), animate=False)


def _seconds_since(iso: str) -> float:
    """Seconds from an event's timestamp until now (0 for no or an unreadable timestamp)."""
    from datetime import UTC, datetime

    try:
        return max((datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds(), 0.0) if iso else 0.0
    except ValueError:
        return 0.0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
