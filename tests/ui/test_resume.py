"""Close the wizard at any moment — mid-command, mid-form — and lose nothing."""

from __future__ import annotations

import os
import signal
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from amxwizard.engine.session import Session
from amxwizard.engine.state import StepStatus
from amxwizard.engine.steps.base import Approval
from amxwizard.ui.app import WizardApp
from amxwizard.ui.screens.dialogs import ConfirmScreen, DecideScreen, DiffScreen, NoteScreen
from amxwizard.ui.screens.forms import FormScreen
from amxwizard.ui.screens.main import MainScreen
from amxwizard.ui.widgets.outline import StepOutline
from amxwizard.ui.widgets.runlog import RunLog

from .conftest import World, accept_setup, settle, wait_until

LINES = 40


def _slow_cmake(world: World, tmp_path: Path) -> str:
    """A cmake that takes a few seconds (printing numbered lines) before the sandbox's stand-in builds."""
    script = tmp_path / "slow-cmake"
    script.write_text(
        "#!/bin/bash\n"
        'case " $* " in *" clean "*) ;; *) '
        f'for i in $(seq 1 {LINES}); do echo "slow build line $i"; sleep 0.1; done ;; esac\n'
        f'exec {world.sandbox.overrides["cmake"]} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def _start_slow_build(world: World, session: Session, pilot: object, app: WizardApp) -> None:
    await accept_setup(pilot, app)
    app.main.query_one(StepOutline).select_step("1.4")
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
    await pilot.press("y")
    log = app.main.query_one(RunLog)
    await wait_until(pilot, lambda: any("slow build line 5" in line for line in log.lines), what="output")


async def test_quit_mid_command_then_a_new_wizard_follows_it_to_the_end(world: World, tmp_path: Path) -> None:
    session = world.new_session(cmake=_slow_cmake(world, tmp_path))
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await _start_slow_build(world, session, pilot, app)
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
        await pilot.press("y")
    session.close()

    # The build goes on without a wizard.
    reopened = world.open(session)
    assert reopened.state.step("1.4").status is StepStatus.RUNNING
    [run] = reopened.state.running_runs()
    assert os.getpgid(run.pid) == run.pid  # its own process group, alive

    app = WizardApp(reopened)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(
            pilot,
            lambda: reopened.state.step("1.4").status is StepStatus.PASSED,
            timeout=60,
            what="the followed run to be judged",
        )
        await settle(pilot, app)
        assert any("still running" in note for note in app.resume_notes)
        log = app.main.query_one(RunLog)
        log.flush()
        numbered = [line for line in log.lines if line.startswith("slow build line ")]
        assert numbered == [f"slow build line {i}" for i in range(1, LINES + 1)]  # none lost, none twice
        assert any("Built target llama-bench" in line for line in log.lines)
    finished = [e for e in reopened.store.events() if e.kind == "command_finished"]
    assert len(finished) == 1 and finished[0].data["exit_code"] == 0
    reopened.close()


async def test_an_interrupted_run_waits_for_the_person_to_decide(world: World, tmp_path: Path) -> None:
    session = world.new_session(cmake=_slow_cmake(world, tmp_path))
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await _start_slow_build(world, session, pilot, app)
        pid = app.main.run_handle.started.pid
        await pilot.press("q", "y")
    session.close()
    os.killpg(pid, signal.SIGKILL)  # the machine took the build down before it could write its exit code

    reopened = world.open(session)
    app = WizardApp(reopened)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(
            pilot, lambda: reopened.state.step("1.4").status is StepStatus.INTERRUPTED, what="the interrupted verdict"
        )
        await settle(pilot, app)
        assert any("interrupted" in note for note in app.resume_notes)
        app.main.query_one(StepOutline).select_step("1.4")
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, DecideScreen), what="the decision")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note")
        await pilot.press(*"the box rebooted", "enter")
        await wait_until(pilot, lambda: reopened.state.step("1.4").status is StepStatus.FAILED, what="the verdict")
        assert "the box rebooted" in reopened.state.step("1.4").summary
    reopened.close()


async def test_cancel_stops_the_command_and_not_the_wizard(world: World, tmp_path: Path) -> None:
    session = world.new_session(cmake=_slow_cmake(world, tmp_path))
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await _start_slow_build(world, session, pilot, app)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the cancel question")
        await pilot.press("y")
        await settle(pilot, app)
        state = session.state.step("1.4")
        assert state.status is StepStatus.FAILED and "cancelled" in state.summary
        assert app.is_running
    session.close()


async def test_answers_are_saved_as_each_field_is_left(world: World) -> None:
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await accept_setup(pilot, app)
        app.main.query_one(StepOutline).select_step("1.6")
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="the form")
        field = app.screen.query_one("#field-tensor", Input)
        field.focus()
        await pilot.press(*"blk.7.ffn_up.weight", "tab")
        await wait_until(pilot, lambda: session.state.answer("tensor") == "blk.7.ffn_up.weight", what="the save")
        # A second reader (a crash right now, then a restart) already sees it on disk.
        peek = Session.peek(session.dir, world.runbook)
        assert peek.state.answer("tensor") == "blk.7.ffn_up.weight"
        peek.close()
    session.close()


async def test_edit_in_editor_records_the_change_and_shows_the_diff(
    world: World, tmp_path: Path, monkeypatch: object
) -> None:
    editor = tmp_path / "editor"
    # An "editor" that appends a line to the file it is given (after the +LINE argument).
    editor.write_text('#!/bin/bash\necho "// edited by hand" >> "$2"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))  # type: ignore[attr-defined]
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await accept_setup(pilot, app)
        app.main.query_one(StepOutline).select_step("1.1")  # (1.0, the configure step, comes first)
        await pilot.press("r")  # 1.1: the backup comes before any edit
        await settle(pilot, app)
        app.main.query_one(StepOutline).select_step("2.B")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the git diff")
        assert "+// edited by hand" in app.screen.diff
        edits = [e for e in session.state.edits if e["how"] == "editor"]
        assert len(edits) == 1 and edits[0]["path"].endswith("ggml-backend.cpp")
        # Approach B is a change the wizard makes (the host-buffer guard); the hand edit stays under it.
        await pilot.press("escape", "r")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="approach B's diff")
        assert "&& ggml_backend_buffer_is_host(src->buffer)) {" in app.screen.diff
        await pilot.press("y")
        await settle(pilot, app)
        assert session.state.step("2.B").status is StepStatus.PASSED
        text = (world.sandbox.repo / "ggml" / "src" / "ggml-backend.cpp").read_text()
        assert "// edited by hand" in text and "&& ggml_backend_buffer_is_host(src->buffer)) {" in text
    session.close()


async def test_help_and_command_palette_need_no_mouse(world: World) -> None:
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await accept_setup(pilot, app)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape", "ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"test-3")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: app.main.query_one(StepOutline).current.id == "test-3", what="the palette to jump to test-3"
        )
    session.close()


async def test_the_log_pane_keeps_the_first_lines_of_a_fast_command(world: World, tmp_path: Path) -> None:
    eager = tmp_path / "eager-cmake"
    eager.write_text('#!/bin/bash\ncase " $* " in *" clean "*) exit 0 ;; esac\nseq 1 1500\n')
    eager.chmod(0o755)
    session = world.new_session(cmake=str(eager))
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await accept_setup(pilot, app)
        app.run_worker(app.execute(app.executor.plan("1.4"), Approval(confirmed=True)))
        await pilot.pause(0.1)
        await settle(pilot, app)
        log = app.main.query_one(RunLog)
        log.flush()
        numbers = [line for line in log.lines if line.isdigit()]
        assert numbers == [str(i) for i in range(1, 1501)]
    session.close()


async def _leave_a_slow_build_running(world: World, tmp_path: Path) -> Session:
    session = world.new_session(cmake=_slow_cmake(world, tmp_path))
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await _start_slow_build(world, session, pilot, app)
        await pilot.press("q", "y")
    session.close()
    return world.open(session)


async def test_cancel_stops_a_run_followed_from_an_earlier_wizard(world: World, tmp_path: Path) -> None:
    reopened = await _leave_a_slow_build_running(world, tmp_path)
    app = WizardApp(reopened)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.main.run_handle is not None, what="the run to be followed")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the cancel question")
        await pilot.press("y")
        await settle(pilot, app)
        state = reopened.state.step("1.4")
        assert state.status is StepStatus.FAILED and "cancelled" in state.summary
    reopened.close()


async def test_quit_lets_go_of_a_run_followed_from_an_earlier_wizard(world: World, tmp_path: Path) -> None:
    reopened = await _leave_a_slow_build_running(world, tmp_path)
    app = WizardApp(reopened)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.main.run_handle is not None, what="the run to be followed")
        handle = app.main.run_handle
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the quit question")
        await pilot.press("y")
    # Let go at once: a follower still waiting for the build would hold the wizard's exit until the build ends.
    result = handle.wait(timeout=2)
    assert result is not None and result.outcome == "detached"
    assert os.getpgid(handle.started.pid) == handle.started.pid  # and the build goes on
    reopened.close()


async def test_the_log_pane_is_freed_when_the_run_it_waited_for_was_interrupted(world: World, tmp_path: Path) -> None:
    reopened = await _leave_a_slow_build_running(world, tmp_path)
    [run] = reopened.state.running_runs()
    reopened.close()
    os.killpg(run.pid, signal.SIGKILL)
    reopened = world.open(reopened)
    app = WizardApp(reopened)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(
            pilot, lambda: reopened.state.step("1.4").status is StepStatus.INTERRUPTED, what="the interrupted verdict"
        )
        await settle(pilot, app)
        assert app.main.run_step is None
        assert "running" not in str(app.main.query_one("#runstatus").render())
    reopened.close()


async def test_no_step_starts_while_the_wizard_settles_runs_left_behind(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from amxwizard.engine import runs

    reopened = await _leave_a_slow_build_running(world, tmp_path)
    release = threading.Event()
    settle_runs = runs.reconcile

    def slow_reconcile(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)  # a slow `git status` of a big checkout, say
        return settle_runs(*args, **kwargs)

    monkeypatch.setattr(runs, "reconcile", slow_reconcile)
    app = WizardApp(reopened)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        app.main.query_one(StepOutline).select_step("1.1")
        await pilot.press("r")
        await pilot.pause(0.3)
        assert reopened.state.step("1.1").status is StepStatus.PENDING
        release.set()
        await wait_until(
            pilot,
            lambda: reopened.state.step("1.4").status is StepStatus.PASSED,
            timeout=60,
            what="the followed run to be judged",
        )
        await settle(pilot, app)
    reopened.close()


async def test_an_editor_command_that_cannot_be_split_is_one_line_not_a_crash(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDITOR", "vim '")  # an unbalanced quote
    monkeypatch.delenv("VISUAL", raising=False)
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await accept_setup(pilot, app)
        app.main.query_one(StepOutline).select_step("1.1")  # (1.0, the configure step, comes first)
        await pilot.press("r")  # 1.1: the backup comes before any edit
        await settle(pilot, app)
        app.main.query_one(StepOutline).select_step("2.B")
        await pilot.press("e")
        await pilot.pause(0.2)
        assert app.is_running and isinstance(app.screen, MainScreen)
        assert any("editor command" in n.message for n in app._notifications)
    session.close()


async def test_keys_that_undo_work_ask_first(world: World) -> None:
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await accept_setup(pilot, app)
        app.main.query_one(StepOutline).select_step("1.0")  # the configure step: harmless to run twice
        await pilot.press("r")
        await settle(pilot, app)
        events = session.state.last_seq
        app.main.query_one(StepOutline).select_step("1.0")
        await pilot.press("r")  # again: a passed step asks before running
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("n")
        assert session.state.last_seq == events
        # Unticking a checklist item (which lost its note) asks too.
        app.main.query_one(StepOutline).move_cursor(app.main.query_one(StepOutline).root.children[0].children[0])
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note")
        await pilot.press(*"HEAD checked by hand", "enter")
        await wait_until(pilot, lambda: session.state.checklist.get("pre-1") is not None, what="the tick")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the untick question")
        await pilot.press("n")
        assert session.state.checklist["pre-1"].ticked
    session.close()
