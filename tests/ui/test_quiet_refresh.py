"""What a step's start and a flood ask of the UI thread, kept small without changing what is shown: the detail pane
updates in place (and leaves an unchanged part alone), the log pane measures its lines without a thread per write,
the footer is rebuilt once when a step starts (its keys work meanwhile), and what running a step imports is imported
before the first run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

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
from amxwizard.ui.screens.main import MainScreen
from amxwizard.ui.widgets.detail import CodeBlock, DetailPane
from amxwizard.ui.widgets.runlog import OutputFeed, RunLog

from .conftest import wait_until


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
        # Parts of other kinds: the pane is built again.
        pane.show([Text("a checklist item"), Text("t tick")])
        await pilot.pause(0.1)
        assert [type(w) for w in pane.children] == [Static, Static] and pane.text.startswith("a checklist item")


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


async def _main_screen(pilot: Pilot[None], app: WizardApp) -> MainScreen:
    """The main screen, once it is up and its detail pane and checks are done."""
    await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
    main = app.screen
    assert isinstance(main, MainScreen)
    await pilot.pause(0.5)
    return main


async def test_a_step_start_rebuilds_the_footer_once(tmp_path: Path) -> None:
    session = _sleepy_session(tmp_path)
    app = WizardApp(session, catch_up=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            main = await _main_screen(pilot, app)
            rebuilt: list[float] = []
            main.bindings_updated_signal.subscribe(main, lambda _screen: rebuilt.append(time.monotonic()))
            began = time.monotonic()
            await pilot.press("r")
            await pilot.pause(STARTING_SECONDS + 0.4)
            assert main.run_handle is not None
            # Busy, the run's handle, the running state: three changes of the keys, one rebuild, after the start.
            assert len(rebuilt) == 1 and rebuilt[0] - began >= STARTING_SECONDS * 0.9
            assert "Cancel" in {key.description for key in main.query(FooterKey)}
            app.cancel_running()
            await wait_until(pilot, lambda: app.busy is None, what="the cancel")
    finally:
        session.close()


async def test_keys_work_before_the_footer_shows_them(tmp_path: Path) -> None:
    session = _sleepy_session(tmp_path)
    app = WizardApp(session, catch_up=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            main = await _main_screen(pilot, app)
            began = time.monotonic()
            await pilot.press("r")
            await wait_until(pilot, lambda: main.run_handle is not None, what="the run's start")
            assert "Cancel" not in {key.description for key in main.query(FooterKey)}  # not shown yet
            await pilot.press("c")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the cancel's question")
            assert time.monotonic() - began < 5
            await pilot.press("y")
            await wait_until(pilot, lambda: app.busy is None, what="the cancel")
            assert session.state.step("work").status is not StepStatus.RUNNING
            assert time.monotonic() - began < 15  # cancelled, not waited out (sleep 30)
    finally:
        session.close()
