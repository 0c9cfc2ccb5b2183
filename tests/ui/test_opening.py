"""The first frame comes from the runbook cache's outline while the session opens behind it: it claims no state, the
cursor moves, and the main screen (drawn from the opened session) takes over where the person left the cursor.
Whatever happens meanwhile — opening fails, the person quits, help is open — nothing is lost or left locked."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from textual.widgets.tree import TreeNode

from amxwizard.engine.executor import StepExecutor
from amxwizard.engine.session import Session, SessionError
from amxwizard.engine.state import StepStatus
from amxwizard.runbook.cache import Outline, read_outline
from amxwizard.ui.app import Opening, WizardApp
from amxwizard.ui.screens.help import HelpScreen
from amxwizard.ui.screens.main import MainScreen
from amxwizard.ui.screens.opening import UNKNOWN, OpeningOutline, OpeningScreen

from .conftest import World, wait_until

ROOT = Path(__file__).resolve().parents[2]


class Gate:
    """An opener that waits for the test to let it open the session (or raise ``error``)."""

    def __init__(self, world: World, session_dir: Path, error: Exception | None = None) -> None:
        self.world, self.session_dir, self.error = world, session_dir, error
        self.go = threading.Event()
        self.opened: list[Session] = []

    def __call__(self) -> Session:
        assert self.go.wait(30)
        if self.error is not None:
            raise self.error
        session = Session.open(self.session_dir, self.world.runbook)
        self.opened.append(session)
        return session


def _accepted_session(world: World) -> Path:
    session = world.new_session("opening")
    session.accept_setup()
    first = next(step for _, step in world.runbook.model.iter_steps())
    StepExecutor(session).skip(first.id, "done by hand before the wizard")
    session.close()
    return session.dir


def _labels(node: TreeNode[Any]) -> list[str]:
    out: list[str] = []
    for child in node.children:
        out.append(str(child.label))
        out.extend(_labels(child))
    return out


async def test_the_first_frame_shows_the_titles_and_no_state_then_the_session_takes_over(world: World) -> None:
    session_dir = _accepted_session(world)
    gate = Gate(world, session_dir)
    outline = Outline.of(world.runbook.model)
    app = WizardApp(opening=Opening(outline, gate), catch_up=False)
    first = next(step for _, step in world.runbook.model.iter_steps())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OpeningScreen), what="the opening screen")
        await pilot.pause(0.1)
        tree = app.screen.query_one(OpeningOutline)
        labels = _labels(tree.root)
        step_rows = [label for label in labels if label.startswith(UNKNOWN + " ")]
        assert len(step_rows) == sum(1 for _ in world.runbook.model.iter_steps())
        assert any(first.title in label for label in step_rows)
        # No state is claimed before the session is read: no step marked skipped, pending or passed.
        assert not any(label.startswith(("↷", "·", "✔", "✘", "▶", "!")) for label in labels)
        assert not app.is_open
        # The cursor moves while the session is still closed; the main screen keeps the row chosen.
        for _ in range(4):
            await pilot.press("down")
        chosen = tree.cursor_node.data if tree.cursor_node is not None else None
        assert chosen is not None and chosen[0] in ("phase", "step", "checklist")
        gate.go.set()
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        await pilot.pause(0.2)
        assert app.is_open and app.session is gate.opened[0]
        main = app.screen
        assert isinstance(main, MainScreen)
        assert main.item is not None and (main.item.kind, main.item.id) == chosen
        # The states, now read, are shown: the first step was skipped before the wizard opened.
        assert app.session.state.step(first.id).status is StepStatus.SKIPPED
        from amxwizard.ui.widgets.outline import StepOutline

        labels = {node.data.id: str(node.label) for node in main.query_one(StepOutline)._by_item.values() if node.data}
        assert labels[first.id].startswith("↷")
    assert app.return_code in (0, None)


async def test_without_a_move_the_main_screen_starts_where_the_work_is(world: World) -> None:
    session_dir = _accepted_session(world)
    gate = Gate(world, session_dir)
    gate.go.set()
    app = WizardApp(opening=Opening(Outline.of(world.runbook.model), gate), catch_up=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        await pilot.pause(0.2)
        main = app.screen
        assert isinstance(main, MainScreen)
        expected = "checklist" if main.checklist_leads() else main.next_pending()
        assert main.item is not None and expected in (main.item.id, main.item.kind)


async def test_a_session_that_cannot_open_ends_the_app_with_what_it_raised(world: World) -> None:
    session_dir = _accepted_session(world)
    gate = Gate(world, session_dir, error=SessionError("session opening is damaged beyond reading"))
    gate.go.set()
    app = WizardApp(opening=Opening(Outline.of(world.runbook.model), gate))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: not app.is_running or app.open_error is not None, what="the app to end")
        await pilot.pause(0.2)
    assert isinstance(app.open_error, SessionError)
    assert not app.is_open


async def test_quitting_while_the_session_opens_leaves_it_closed(world: World) -> None:
    session_dir = _accepted_session(world)
    gate = Gate(world, session_dir)
    app = WizardApp(opening=Opening(Outline.of(world.runbook.model), gate))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OpeningScreen), what="the opening screen")
        await pilot.press("ctrl+q")
        await pilot.pause(0.1)
        gate.go.set()
    deadline = time.monotonic() + 30
    # Awaited, not slept: the worker hands the session to the app on this event loop (Pilot runs the app on the
    # test's loop), and the app, quitting, closes it there.
    while not gate.opened and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert gate.opened, "the worker never opened the session"
    assert not app.is_open
    # The worker that opened it closed it: another wizard can take it for writing.
    writable = False
    for _ in range(200):
        try:
            again = Session.open(session_dir, world.runbook)
        except SessionError:  # still held: the worker closes it as soon as it sees the app gone
            await asyncio.sleep(0.05)
            continue
        writable = not again.readonly
        again.close()
        if writable:
            break
        await asyncio.sleep(0.05)
    assert writable


async def test_help_opened_while_the_session_opens_gives_way_to_the_main_screen(world: World) -> None:
    session_dir = _accepted_session(world)
    gate = Gate(world, session_dir)
    app = WizardApp(opening=Opening(Outline.of(world.runbook.model), gate), catch_up=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OpeningScreen), what="the opening screen")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        gate.go.set()
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        await pilot.pause(0.2)
        assert not any(isinstance(s, OpeningScreen | HelpScreen) for s in app.screen_stack)


def test_the_first_frame_needs_neither_pydantic_nor_the_engine() -> None:
    """What the command line imports before the first frame (the TUI's path): the session, the models and
    pydantic come after it, in the worker that opens the session."""
    code = (
        "import sys\n"
        "import amxwizard.cli, amxwizard.commands, amxwizard.commands.tui, amxwizard.commands.notify\n"
        "import amxwizard.runbook.cache, amxwizard.ui.app, amxwizard.ui.screens.opening\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    )
    for module in (
        "pydantic",
        "yaml",
        "sqlite3",
        "git",
        "sh",
        "amxwizard.runbook.models",
        "amxwizard.engine.session",
        "amxwizard.engine.steps",
        "amxwizard.engine.executor",
        "amxwizard.ui.screens.main",
    ):
        assert module not in loaded, f"{module} is imported before the first frame"


def test_the_real_entry_point_opens_from_the_outline_and_shows_the_same_screen(tmp_path: Path) -> None:
    """Through the real ``amxwizard`` in a pseudo-terminal: without a cached outline the session opens before the
    first frame; with one the first frame comes from it. Both starts end on the same main screen."""
    from amxwizard.bench.feel import World as BenchWorld
    from amxwizard.bench.terminal import PtyApp

    bench = BenchWorld()
    try:
        argv = bench.session("true")
        runbook = Path(argv[2])
        env = {"AMXWIZARD_CACHE_DIR": str(tmp_path / "cache"), "AMXWIZARD_NOTIFY": "off"}

        def screen() -> str:
            app = PtyApp(argv, cols=100, rows=30, env=env, cwd=bench.root)
            try:
                shown = app.wait_until(lambda a: a.contains("passed of") and a.contains("Commands, exactly"), 60)
                assert shown is not None, app.text()
                time.sleep(1.0)  # the detail pane and the machine observation settle
                return app.text()
            finally:
                app.close()

        assert read_outline(runbook, folder=tmp_path / "cache") is None
        cold = screen()
        assert read_outline(runbook, folder=tmp_path / "cache") is not None
        warm = screen()
        assert warm == cold
    finally:
        bench.close()


def test_an_error_while_the_session_opens_is_one_line_once_the_screen_is_gone(tmp_path: Path) -> None:
    """Through the real ``amxwizard``: the first frame is up (the outline is cached) when opening the session fails;
    the wizard gives the terminal back and says why in one line, exit 1, no traceback."""
    from amxwizard.bench.feel import World as BenchWorld
    from amxwizard.bench.terminal import PtyApp
    from amxwizard.runbook.cache import load_cached

    bench = BenchWorld()
    try:
        argv = bench.session("true")
        load_cached(Path(argv[2]), folder=tmp_path / "cache")  # the outline the first frame is drawn from
        env = {"AMXWIZARD_CACHE_DIR": str(tmp_path / "cache"), "AMXWIZARD_NOTIFY": "off"}
        app = PtyApp([*argv, "--var", "nosuch=1"], cols=80, rows=24, env=env, cwd=bench.root)
        try:
            code = app.process.wait(60)
            time.sleep(0.3)  # the last bytes reach the screen
            text = app.text()
        finally:
            app.close()
    finally:
        bench.close()
    assert code == 1, text
    assert "amxwizard: unknown variable 'nosuch' (the runbook has: repo)" in text
    assert "Traceback" not in text and "Error" not in text


async def test_a_session_that_fails_to_open_after_the_person_quit_leaves_the_quit_as_it_was(world: World) -> None:
    session_dir = _accepted_session(world)
    app: WizardApp

    def fails_once_quitting() -> Session:
        # An open that fails while the app is already on its way out (Textual runs the worker's last call then).
        deadline = time.monotonic() + 30
        while not app._exit and time.monotonic() < deadline:
            time.sleep(0.001)
        raise SessionError(f"{session_dir}: held by another wizard")

    app = WizardApp(opening=Opening(Outline.of(world.runbook.model), fails_once_quitting))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OpeningScreen), what="the opening screen")
        app.exit("quit")  # as ^q does, with a result the test can see
        await pilot.pause(0.2)
    assert isinstance(app.open_error, SessionError)  # the command line still says why it could not open
    assert app.return_value == "quit" and app.return_code == 0
    assert not app.is_open
