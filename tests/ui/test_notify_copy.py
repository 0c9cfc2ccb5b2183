"""Issue 19 in the TUI: the end of a step and a silent step reach the terminal as a notification, the watchdog
shows on the main screen, y copies commands, log lines and the record's path (OSC 52), and the setup screen sets
the session's notifications."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from amxwizard.engine import events as ev
from amxwizard.engine.notify import NotifySettings
from amxwizard.engine.session import Session
from amxwizard.engine.steps.base import RunCommands
from amxwizard.runbook import load_runbook
from amxwizard.ui.app import WizardApp
from amxwizard.ui.screens.dialogs import NoteScreen
from amxwizard.ui.screens.fulllog import FullLogScreen, parse_range
from amxwizard.ui.screens.main import MainScreen
from amxwizard.ui.screens.record import RecordScreen
from amxwizard.ui.screens.setup import SetupScreen
from amxwizard.ui.widgets.outline import StepOutline

from .conftest import World, settle, wait_until

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "notify" / "steps.yaml"


@pytest.fixture(autouse=True)
def _outside_tmux(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TMUX", "TMUX_PANE", "AMXWIZARD_NOTIFY", "AMXWIZARD_NOTIFY_COMMAND", "AMXWIZARD_NOTIFY_AFTER"):
        monkeypatch.delenv(name, raising=False)


def _accepted(session: Session) -> Session:
    session.record(ev.SetupAccepted(values=session.values()))
    return session


def _capture(app: WizardApp) -> list[str]:
    written: list[str] = []
    app.notifier.write = written.append  # what would go to the terminal through the driver
    return written


async def test_a_steps_end_notifies_and_y_copies_its_commands_and_log_lines(world: World) -> None:
    session = _accepted(world.new_session())
    app = WizardApp(session, notify=NotifySettings(after=0))
    async with app.run_test(size=(120, 40)) as pilot:
        written = _capture(app)
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        plan = app.executor.plan("1.0")
        assert isinstance(plan, RunCommands)
        app.main.query_one(StepOutline).select_step("1.0")  # a new session opens on the checklist
        await pilot.pause(0.1)
        await pilot.press("y")
        await wait_until(pilot, lambda: bool(app.clipboard), what="the copy")
        assert app.clipboard.startswith(f"cd {plan.cwd}\n")
        for command in plan.commands:
            assert command.rstrip("\n") in app.clipboard  # exactly as it will run

        await pilot.press("r")
        await settle(pilot, app)
        notices = [w for w in written if "\x1b]9;" in w]
        assert notices and notices[-1].startswith("\x1b]9;amxwizard: 1.0 passed after ")
        assert notices[-1].endswith("\x07\x07")

        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, FullLogScreen), what="the full log")
        log = Path(session.state.runs[session.state.step("1.0").runs[-1]].log)
        lines = log.read_text().splitlines()
        await pilot.pause(0.3)
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the range prompt")
        prompt = app.screen.query_one(Input)
        assert prompt.value == f"1-{len(lines)}"  # the lines on screen are offered
        prompt.value = "1-1"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.clipboard == lines[0] + "\n", what="the copied line")


async def test_y_on_the_record_screen_copies_the_records_path(world: World) -> None:
    session = _accepted(world.new_session())
    app = WizardApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen), what="the record screen")
        await pilot.press("y")
        assert app.clipboard == str(session.dir)  # nothing written yet: the session folder, and it says so
        record = session.dir / "out.md"
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the path prompt")
        app.screen.query_one(Input).value = str(record)
        await pilot.press("enter")
        await wait_until(pilot, record.exists, what="the record")
        await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen) and app.screen.written == record)
        await pilot.press("y")
        assert app.clipboard == str(record)


async def test_a_silent_step_is_flagged_on_screen_and_by_a_notification(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    session = _accepted(Session.create(tmp_path / "state", load_runbook(FIXTURE), {"repo": str(tmp_path / "work")}))
    app = WizardApp(session, notify=NotifySettings(after=60))
    async with app.run_test(size=(120, 40)) as pilot:
        written = _capture(app)
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        app.main.query_one("StepOutline").select_step("quiet")  # type: ignore[union-attr]
        await pilot.pause(0.1)
        await pilot.press("r")
        status = app.main.query_one("#runstatus", Static)  # type: ignore[union-attr]
        await wait_until(pilot, lambda: "silent" in str(status.render()), timeout=20, what="the silence flag")
        assert "(limit 1 s)" in str(status.render())
        assert any("\x1b]9;amxwizard: quiet silent: nothing printed for" in w for w in written)
        assert app.busy == "quiet"  # flagged, still running
        await settle(pilot, app)
        assert session.state.step("quiet").status.value == "passed"
        assert not any("quiet passed" in w for w in written)  # a 3 s step, under the 60 s 'after': no end notice


async def test_the_setup_screen_sets_the_sessions_notifications(world: World) -> None:
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen), what="the setup screen")
        assert app.screen.query_one("#set-notify", Input).value == "on"
        app.screen.query_one("#set-notify", Input).value = "loudly"
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert isinstance(app.screen, SetupScreen) and not session.state.setup_accepted  # refused, said why
        app.screen.query_one("#set-notify", Input).value = "bell,tmux"
        app.screen.query_one("#set-notify-command", Input).value = "ntfy publish 'my builds'"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
    saved = json.loads((session.dir / "notify.json").read_text())["settings"]
    assert saved["channels"] == ["bell", "tmux"] and saved["command"] == ["ntfy", "publish", "my builds"]
    assert app.notifier.settings.channels == {"bell", "tmux"}


def test_a_line_range_is_checked() -> None:
    assert parse_range("3-7", 10) == (3, 7) and parse_range(" 4 ", 10) == (4, 4)
    assert parse_range("0-3", 10) == "lines 0-3 are not within 1-10"
    assert parse_range("a-b", 10) == "'a-b' is not a line range (like 120-180)"
