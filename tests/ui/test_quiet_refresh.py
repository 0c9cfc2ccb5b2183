"""What a step's start and a flood ask of the UI thread, kept small without changing what is shown: the detail pane
updates in place (and leaves an unchanged part alone), the log pane measures its lines without a thread per write,
the footer is rebuilt once when a step starts (its keys work meanwhile), and what running a step imports is imported
before the first run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rich.console import RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from amxwizard.engine.session import Session
from amxwizard.engine.state import StepStatus
from amxwizard.ui.app import STARTING_SECONDS, WizardApp
from amxwizard.ui.screens.dialogs import ConfirmScreen
from amxwizard.ui.screens.main import KEY_BURST_SECONDS, PENDING_SECONDS, MainScreen
from amxwizard.ui.widgets.detail import CodeBlock, DetailPane
from amxwizard.ui.widgets.outline import StepOutline
from amxwizard.ui.widgets.runlog import OutputFeed, RunLog

from .conftest import World, settle, wait_until

T = TypeVar("T")


class _Detail(App[None]):
    def compose(self) -> ComposeResult:
        yield DetailPane(id="detail")


def _code(text: str) -> Syntax:
    return Syntax(text, "bash", theme="ansi_dark", word_wrap=False, background_color="default")


async def test_the_detail_pane_updates_its_parts_in_place_and_leaves_unchanged_ones_alone() -> None:
    app = _Detail()
    async with app.run_test(size=(40, 20)) as pilot:
        pane = app.query_one(DetailPane)
        wide = "echo " + "x" * 80
        pane.show([Text("· pending"), _code(wide), Text("r run")])
        await pilot.pause(0.1)
        first = list(pane.children)
        assert [type(w) for w in first] == [Static, CodeBlock, Static]
        block = first[1]
        assert isinstance(block, CodeBlock)
        block.scroll_to(x=10, animate=False)
        await pilot.pause(0.1)
        # A step started: its status changed, its code did not. Same widgets; the code keeps its sideways scroll.
        pane.show([Text("▶ running"), _code(wide), Text("r run")])
        await pilot.pause(0.1)
        assert list(pane.children) == first
        assert "▶ running" in pane.text and block.scroll_x == 10
        # Other code in the same place: shown from its left edge, as a new block would be.
        pane.show([Text("▶ running"), _code("make -j " + "y" * 80), Text("r run")])
        await pilot.pause(0.1)
        assert list(pane.children) == first
        assert block.code.code.startswith("make -j") and block.scroll_x == 0
        # Parts of other kinds: the widgets up to the first that differs in kind are kept; the rest is built again.
        pane.show([Text("a checklist item"), Text("t tick")])
        await pilot.pause(0.1)
        assert [type(w) for w in pane.children] == [Static, Static] and pane.text.startswith("a checklist item")
        assert pane.children[0] is first[0] and pane.children[1] is not first[2]


async def test_the_detail_pane_keeps_the_widgets_a_longer_or_shorter_detail_shares() -> None:
    app = _Detail()
    async with app.run_test(size=(40, 20)) as pilot:
        pane = app.query_one(DetailPane)
        # A step's detail while its plan is worked out, then the plan: the first parts stay, the rest is added.
        pane.show([Text("after  After"), Text("· pending"), Text("…")])
        await pilot.pause(0.1)
        short = list(pane.children)
        pane.show([Text("after  After"), Text("· pending"), Text("Commands"), _code("true"), Text("r run")])
        await pilot.pause(0.1)
        full = list(pane.children)
        assert full[:3] == short and [type(w) for w in full[3:]] == [CodeBlock, Static]
        assert pane.text.splitlines() == ["after  After", "· pending", "Commands", "true", "r run"]
        # Back to fewer parts: the first ones stay, the others go.
        pane.show([Text("work  Work"), Text("▶ running"), Text("…")])
        await pilot.pause(0.1)
        assert list(pane.children) == short
        assert [str(w.render()) for w in pane.query(Static)] == ["work  Work", "▶ running", "…"]
        # Two shows before the first is laid out: the pane still holds one widget per part, in order.
        pane.show([Text("a"), _code("b"), Text("c")])
        pane.show([Text("a"), Text("b"), _code("c"), Text("d")])
        await pilot.pause(0.1)
        assert [type(w) for w in pane.children] == [Static, Static, CodeBlock, Static]
        assert pane.text.splitlines() == ["a", "b", "c", "d"]
        assert [str(w.render()) for w in pane.children if isinstance(w, Static)] == ["a", "b", "d"]


class _Log(App[None]):
    def compose(self) -> ComposeResult:
        yield RunLog(OutputFeed(keep=50), id="log")


async def test_the_log_pane_is_as_wide_as_its_widest_line_measured_on_the_ui_thread() -> None:
    import threading

    app = _Log()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(RunLog)
        before = threading.active_count()
        log.add(["short", "a" * 70, "tab\there", "宽" * 30])  # 60 cells: wide characters count twice
        await pilot.pause(0.2)
        assert log.virtual_size.width == 70
        log.add(["宽" * 40])
        await pilot.pause(0.2)
        assert log.virtual_size.width == 80
        assert threading.active_count() <= before  # no thread per write


def test_warming_up_imports_what_a_run_needs() -> None:
    code = (
        "import sys\n"
        "from amxwizard.engine.executor import StepExecutor\n"
        "before = {'git', 'sh'} & set(sys.modules)\n"
        "StepExecutor.warm_up()\n"
        "print(sorted(before), sorted({'git', 'sh', 'amxwizard.engine.runs'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[] ['amxwizard.engine.runs', 'git', 'sh']"


def _sleepy_session(tmp_path: Path) -> Session:
    """A session whose first step runs ``sleep 30``, set up and accepted."""
    from amxwizard.bench.feel import _RUNBOOK
    from amxwizard.runbook import load_runbook

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    path = tmp_path / "runbook.yaml"
    path.write_text(_RUNBOOK.format(command='"sleep 30"'))
    session = Session.create(tmp_path / "state", load_runbook(path), {"repo": str(repo)})
    session.accept_setup()
    return session


@asynccontextmanager
async def _sleepy_wizard(tmp_path: Path) -> AsyncIterator[tuple[Pilot[None], WizardApp, MainScreen]]:
    """The wizard at 80x24 on :func:`_sleepy_session`, once its main screen is up and its detail and checks done."""
    session = _sleepy_session(tmp_path)
    app = WizardApp(session, catch_up=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
            main = app.screen
            assert isinstance(main, MainScreen)
            await pilot.pause(0.5)
            yield pilot, app, main
            if app.busy is not None:
                app.cancel_running()
                await wait_until(pilot, lambda: app.busy is None, what="the cancel")
    finally:
        session.close()


def _footer_rebuilds(main: MainScreen) -> list[float]:
    """When the footer is rebuilt from now on (monotonic seconds)."""
    rebuilt: list[float] = []
    main.bindings_updated_signal.subscribe(main, lambda _screen: rebuilt.append(time.monotonic()))
    return rebuilt


async def test_a_step_start_rebuilds_the_footer_once(tmp_path: Path) -> None:
    async with _sleepy_wizard(tmp_path) as (pilot, _app, main):
        rebuilt = _footer_rebuilds(main)
        began = time.monotonic()
        await pilot.press("r")
        await pilot.pause(STARTING_SECONDS + 0.4)
        assert main.run_handle is not None
        # Busy, the run's handle, the running state: three changes of the keys, one rebuild, after the start.
        assert len(rebuilt) == 1 and rebuilt[0] - began >= STARTING_SECONDS * 0.9
        assert "Cancel" in {key.description for key in main.query(FooterKey)}


async def test_keys_work_before_the_footer_shows_them(tmp_path: Path) -> None:
    async with _sleepy_wizard(tmp_path) as (pilot, app, main):
        began = time.monotonic()
        await pilot.press("r")
        await wait_until(pilot, lambda: main.run_handle is not None, what="the run's start")
        assert "Cancel" not in {key.description for key in main.query(FooterKey)}  # not shown yet
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the cancel's question")
        assert time.monotonic() - began < 5
        await pilot.press("y")
        await wait_until(pilot, lambda: app.busy is None, what="the cancel")
        assert app.session.state.step("work").status is not StepStatus.RUNNING
        assert time.monotonic() - began < 15  # cancelled, not waited out (sleep 30)


async def test_the_footer_waits_while_the_cursor_moves_then_follows_once(tmp_path: Path) -> None:
    async with _sleepy_wizard(tmp_path) as (pilot, _app, main):
        rebuilt = _footer_rebuilds(main)
        outline = main.query_one(StepOutline)
        await pilot.press("r")
        # The cursor moved every 60 ms (an arrow held down moves it faster; pilot.press waits for a whole
        # frame), for longer than the footer is held after a start: the footer waits for the keys to rest.
        pressing = time.monotonic()
        for i in range(12):
            outline.action_cursor_down() if i % 2 == 0 else outline.action_cursor_up()
            await asyncio.sleep(0.06)
        rested = time.monotonic()
        assert rested - pressing > STARTING_SECONDS + KEY_BURST_SECONDS
        assert rebuilt == [], "the footer was rebuilt while the cursor moved"
        await wait_until(pilot, lambda: bool(rebuilt), what="the footer once the keys rest")
        await pilot.pause(0.3)
        assert len(rebuilt) == 1 and rebuilt[0] >= rested
        assert "Cancel" in {key.description for key in main.query(FooterKey)}


def _patient_plans(app: WizardApp, slow: set[str], gate: threading.Event) -> list[str]:
    """Make planning ``slow`` steps wait for ``gate`` (a plan that reads a large log, say); the steps planned."""
    planned: list[str] = []
    plan = app.executor.plan

    def patient(step_id: str, request: object = None) -> object:
        planned.append(step_id)
        if step_id in slow:
            gate.wait(10)
        return plan(step_id, request)  # type: ignore[arg-type]

    app.executor.plan = patient  # type: ignore[method-assign,assignment]
    return planned


def _shown(pane: DetailPane) -> list[str]:
    """Each text the pane is given from now on, as plain text."""
    said: list[str] = []
    show = pane.show

    def recording(parts: Sequence[RenderableType]) -> None:
        show(parts)
        said.append(pane.text)

    pane.show = recording  # type: ignore[method-assign]
    return said


async def test_a_quick_plan_replaces_the_detail_at_once_a_slow_one_says_it_is_being_worked_out(tmp_path: Path) -> None:
    gate = threading.Event()
    async with _sleepy_wizard(tmp_path) as (pilot, app, main):
        try:
            outline, pane = main.query_one(StepOutline), main.query_one(DetailPane)
            slow: set[str] = set()
            _patient_plans(app, slow, gate)
            said = _shown(pane)
            # Quick plans: the pane goes from one step's plan to the other's, never through the placeholder.
            outline.select_step("after")
            await wait_until(pilot, lambda: "After" in pane.text, what="after's plan")
            outline.select_step("work")
            await wait_until(pilot, lambda: "sleep 30" in pane.text, what="work's plan")
            await pilot.pause(PENDING_SECONDS + 0.1)
            assert said and not any(s.strip().endswith("…") for s in said), said
            # A slow one: what was shown stays no longer than PENDING_SECONDS, then the placeholder with the
            # step's name and state says its plan is being worked out, and the plan replaces it when it comes.
            slow.add("after")
            said.clear()
            outline.select_step("after")
            await wait_until(pilot, lambda: pane.text.strip().endswith("…"), what="the placeholder")
            assert "After" in pane.text and "sleep 30" not in pane.text
            gate.set()
            await wait_until(pilot, lambda: not pane.text.strip().endswith("…"), what="after's plan")
            assert "After" in pane.text and [s.strip().endswith("…") for s in said] == [True, False]
        finally:
            gate.set()


def _late_first(fn: Callable[..., T], gate: threading.Event) -> tuple[Callable[..., T], list[tuple[Any, ...]]]:
    """``fn`` whose first call's result — worked out at once, from the state as it was then — is handed back only
    when ``gate`` is set (a slow disk, say); the arguments of each call so far."""
    calls: list[tuple[Any, ...]] = []

    def late(*args: Any) -> T:
        made = fn(*args)
        calls.append(args)
        if len(calls) == 1:
            gate.wait(10)
        return made

    return late, calls


async def test_a_plan_that_finishes_after_a_later_one_is_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    async with _sleepy_wizard(tmp_path) as (pilot, app, main):
        try:
            pane = main.query_one(DetailPane)
            main.query_one(StepOutline).select_step("after")
            await wait_until(pilot, lambda: "after  After" in pane.text, what="after's plan")
            # A plan worked out from the state as it is now, delivered late...
            from amxwizard.ui.screens import main as main_module

            late, calls = _late_first(main_module.step_detail, gate)
            monkeypatch.setattr(main_module, "step_detail", late)
            main.refresh_detail()
            await wait_until(pilot, lambda: len(calls) == 1, what="the first plan")
            # ...then the step is skipped and planned again, quickly.
            app.executor.skip("after", "not needed here")
            main.refresh_detail()
            await wait_until(pilot, lambda: "skipped" in pane.text, what="the plan of the skipped step")
            said = _shown(pane)
            gate.set()  # the first plan arrives now, later than the second: the pane never shows it
            await pilot.pause(0.3)
            assert [plan.step.id for _, plan in calls[:2]] == ["after", "after"]
            assert not any("pending" in text for text in said), said
            assert "skipped" in pane.text and "not needed here" in pane.text
        finally:
            gate.set()


async def test_a_checklist_check_that_finishes_after_a_later_one_is_not_shown(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from amxwizard.engine import preflight
    from amxwizard.engine.preflight import Check

    session = world.new_session()
    session.accept_setup()
    item = next(i for i in world.runbook.model.checklist if i.check.kind == "head_commit")
    app = WizardApp(session, catch_up=False)
    gate = threading.Event()
    # The first check, of the repo as it was, delivered late; the second, of the repo as it is now.
    answers = iter([Check(item.id, "fail", "HEAD was not the expected commit then")])
    now = Check(item.id, "ok", "HEAD is the expected commit now")
    check, calls = _late_first(lambda checked, values: next(answers, now), gate)

    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
            main = app.screen
            assert isinstance(main, MainScreen)
            await settle(pilot, app)
            monkeypatch.setattr(preflight, "check_checklist_item", check)
            pane = main.query_one(DetailPane)
            main.query_one(StepOutline).select("check", item.id)
            await wait_until(pilot, lambda: len(calls) == 1, what="the first check to begin")
            main.refresh_detail()  # asked again (an event came), answered at once
            await wait_until(pilot, lambda: "expected commit now" in pane.text, what="the second check")
            said = _shown(pane)
            gate.set()  # the first check ends now, after the second: the pane never shows it
            await pilot.pause(0.3)
            assert [checked.id for checked, _ in calls] == [item.id, item.id]
            assert not any("HEAD was not" in text for text in said), said
            assert "expected commit now" in pane.text
    finally:
        gate.set()
        session.close()
