"""The engineer's flow at 80x24 (a tmux pane): what leads, what each dialog asks, what is reachable, what is said.

Each test drives the real TUI with Pilot on a real rehearsal sandbox (real git, real stand-in programs, real files).
"""

from __future__ import annotations

import os
import re
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from rich.syntax import Syntax
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Static
from textual.widgets._footer import FooterKey
from textual.widgets._toast import Toast

from amxwizard.engine import events as ev
from amxwizard.engine.edits import edit_function
from amxwizard.engine.executor import StepExecutor
from amxwizard.engine.session import Session
from amxwizard.engine.state import StepStatus
from amxwizard.engine.steps.base import Blocked
from amxwizard.runbook import models as m
from amxwizard.ui.app import WizardApp
from amxwizard.ui.keys import key_label
from amxwizard.ui.screens.criteria import CriteriaScreen
from amxwizard.ui.screens.dialogs import (
    ChoiceDialog,
    ConfirmScreen,
    DecideScreen,
    Dialog,
    DiffScreen,
    NoteScreen,
)
from amxwizard.ui.screens.fulllog import FullLogScreen
from amxwizard.ui.screens.main import MainScreen
from amxwizard.ui.screens.setup import SetupScreen
from amxwizard.ui.widgets.detail import CodeBlock, DetailPane
from amxwizard.ui.widgets.logview import LogView
from amxwizard.ui.widgets.outline import StepOutline

from .conftest import World, accept_setup, settle, wait_until

SIZE = (80, 24)


def _run(session: Session, *step_ids: str, **approval: bool) -> None:
    """Carry steps out for real, outside the UI (what a person did before this test's moment).

    In a thread of its own, as the wizard runs steps: a command started on the test's event-loop thread would have
    sh signal that loop when its output ends, after the test may have closed it."""
    executor = StepExecutor(session)
    with ThreadPoolExecutor(1) as pool:
        for step_id in step_ids:
            result = pool.submit(executor.run, step_id, confirmed=True, **approval).result()
            assert not isinstance(result, Blocked), result.blockers
            assert result.status is StepStatus.PASSED, (step_id, result.summary)


def _text(widget: Any) -> str:
    return str(widget.render())


def _footer_keys(app: WizardApp) -> list[tuple[str, str, Any]]:
    """The footer's keys as shown: (key, description, region) in order."""
    footer = app.screen.query_one(Footer)
    return [(k.key, k.description, k.region) for k in footer.query(FooterKey)]


# --- 2. the checklist leads ------------------------------------------------------------------------------------


async def test_a_new_session_opens_on_the_checklist_with_what_its_checks_decide_ticked(world: World) -> None:
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await accept_setup(pilot, app)
        outline = app.main.query_one(StepOutline)
        assert outline.current is not None and outline.current.kind == "checklist"
        assert outline.scroll_y == 0  # in view, at the top
        await wait_until(pilot, lambda: len(session.state.checklist) == 3, what="the checks")
        for item in ("pre-2", "pre-3", "pre-4"):
            tick = session.state.checklist[item]
            assert tick.ticked and tick.auto and tick.finding  # ticked by its check, with what it found
        assert "pre-1" not in session.state.checklist  # nothing on this machine can check it: the person's
        await pilot.pause(0.2)
        gate = app.main.query_one(DetailPane).text
        assert "Pre-implementation checklist  3/4" in gate
        assert "☐ pre-1" in gate and "yours to confirm" in gate
        assert "✔ pre-2" in gate and "checked: HEAD" in gate
        # t on the checklist ticks the first open item (pre-1: a note, optional).
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note")
        await pilot.press(*"seen it", "enter")
        await wait_until(pilot, lambda: "pre-1" in session.state.checklist, what="the tick")
        assert not session.state.checklist["pre-1"].auto
    session.close()


async def test_a_session_already_under_way_opens_on_its_next_step(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    _run(session, "1.0")
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        assert app.main.item is not None and app.main.item.id == "1.1"
        assert not session.state.checklist  # and nothing is ticked behind the person's back mid-session
    session.close()


# --- 3. dialogs ask what they mean -----------------------------------------------------------------------------


DIALOGS = [
    pytest.param(lambda: ConfirmScreen("Clean and rebuild?", "It cannot be undone."), id="confirm"),
    pytest.param(lambda: NoteScreen("Why skip 1.5?"), id="note"),
    pytest.param(lambda: DiffScreen("1.2", "+added\n", question="Apply 1 file change?"), id="diff-to-apply"),
    pytest.param(lambda: DiffScreen("git diff ggml-backend.cpp", "+by hand\n", readonly=True), id="diff-read-only"),
    pytest.param(lambda: DecideScreen("1.4", "the run vanished"), id="decide"),
    pytest.param(
        lambda: ChoiceDialog(
            "test-1 would run an old binary", "…", [("b", "rebuild now", "b"), ("a", "run anyway", "a")]
        ),
        id="stale-build",
    ),
]


@pytest.mark.parametrize("make", DIALOGS)
async def test_every_dialog_says_the_keys_its_footer_shows(world: World, make: Any) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        dialog: Dialog[Any] = make()
        app.push_screen(dialog)
        await pilot.pause(0.3)
        footer = [(key, desc) for key, desc, _ in _footer_keys(app) if desc not in ("Help", "Quit", "palette")]
        inside = " ".join(_text(w) for w in dialog.query(".dialog-keys, .dialog-keys-line"))
        assert footer, "a dialog without keys in its footer"
        for key, desc in footer:
            assert f"{key_label(key)} {desc.lower()}" in inside, (key, desc, inside)
        said = re.findall(r"(?:^|· |  )(\S+) ([a-z][a-z ]*?)(?= ·|  |$)", inside)
        assert len(said) == len(footer), (said, footer)
        if isinstance(dialog, DiffScreen) and dialog.readonly:
            assert footer == [("escape", "Close")] and "esc close" in inside
            assert "apply" not in inside.lower()
    session.close()


async def test_no_toast_covers_a_dialog(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:  # (tests show no toasts unless asked)
        await pilot.pause(0.2)
        asked: list[bool | None] = []
        app.push_screen(ConfirmScreen("Clean and rebuild?"), asked.append)
        await pilot.pause(0.1)
        app.notify("the record was written", timeout=30)
        await pilot.pause(0.3)
        assert not list(app.screen.query(Toast))  # held while the question is open
        await pilot.press("n")
        await wait_until(pilot, lambda: list(app.screen.query(Toast)) != [], what="the toast after the answer")
        assert isinstance(app.screen, MainScreen) and asked == [False]
        # And toasts sit at the top: the output's newest lines are at the bottom.
        toast = app.screen.query_one(Toast)
        assert toast.region.y < app.screen.size.height // 2
    session.close()


async def test_a_step_result_goes_to_the_status_line_not_a_toast(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(StepOutline).select_step("1.0")
        await pilot.pause(0.2)
        await pilot.press("r")
        await settle(pilot, app)
        assert session.state.step("1.0").status is StepStatus.PASSED
        assert "1.0 passed" in _text(app.main.query_one("#runstatus"))
        assert not [n for n in app._notifications if "1.0" in n.message]
    session.close()


async def test_the_verdict_stays_on_the_status_line_when_the_steps_last_events_arrive(world: World) -> None:
    """A step's end is shown at once; its events, still queued from the worker, refresh the screen after it (seen on
    a loaded machine): the verdict must stay until the next step begins."""
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        with ThreadPoolExecutor(1) as pool:  # as the wizard's worker would (see _run)
            result = pool.submit(StepExecutor(session).run, "1.0", confirmed=True).result()
        assert not isinstance(result, Blocked)
        await pilot.pause(0.3)  # its events reach the screen
        app.main.show_result(result)
        app.main.refresh_all()  # what each queued EventRecorded does
        assert "1.0 passed" in _text(app.main.query_one("#runstatus"))
        app.main.begin("1.1")  # the next step: the line is its own again
        assert "1.1 running" in _text(app.main.query_one("#runstatus"))
    session.close()


async def test_after_running_a_stale_binary_the_advice_is_to_rebuild_first(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    executor = StepExecutor(session)
    _run(session, "1.1", "1.2", "1.3", "1.4", "1.5")
    executor.accept_suggestions(executor.plan("1.6"))  # the analysis as the diagnostic log suggests it
    _run(session, "1.6")
    executor.answer("2.choose", "approach", "A")
    _run(session, "2.choose", "2.A")  # the fix is in the source; the binary was built before it
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(StepOutline).select_step("test-1")
        await pilot.pause(0.2)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the stale-build question")
        await pilot.press("a")  # run anyway
        await wait_until(pilot, lambda: session.state.step("test-1").status is StepStatus.FAILED, 60, "test-1")
        await settle(pilot, app)
        status = _text(app.main.query_one("#runstatus"))
        assert "test-1 failed" in status and "Rebuild (step 1.4) and run test-1 again" in status
        assert "Approach B" not in status
        # The detail pane is rendered off the UI thread: wait for it to show the failed run's advice.
        await wait_until(
            pilot, lambda: "Try Approach B" in app.main.query_one(DetailPane).text, what="the detail's advice"
        )
        detail = app.main.query_one(DetailPane).text
        rebuild = detail.index("Rebuild (step 1.4) and run test-1 again")
        switch = detail.index("Try Approach B")
        assert rebuild < switch and "If it still fails on the rebuilt binary" in detail
        await pilot.press("g")
        await pilot.pause(0.2)
        assert app.main.item is not None and app.main.item.id == "1.4"
    session.close()


# --- 4. everything reachable at 80x24 --------------------------------------------------------------------------


async def test_preflight_on_setup_scrolls_with_the_keyboard_failures_first(world: World) -> None:
    session = world.new_session(amx_flag="--amx")  # the runbook's own flag: llama-cli refuses it
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen), what="setup")
        results = app.screen.query_one("#preflight-results", Static)
        await wait_until(pilot, lambda: "checking" not in _text(results), 120, "the preflight")
        lines = [line for line in _text(results).splitlines() if line.strip()]
        statuses = [line.split()[1] for line in lines if line[:1] in "✔▲✘"]
        assert statuses == sorted(statuses, key=lambda s: {"fail": 0, "warn": 1}.get(s, 2))
        assert "--amx" in _text(results)
        pane = app.screen.query_one("#preflight", VerticalScroll)
        # More than fits at 80x24 (the pane is laid out again a frame after its text changed).
        await wait_until(pilot, lambda: pane.max_scroll_y > 0, 10, "the results laid out")
        await pilot.press("f2")
        assert app.screen.focused is pane
        await pilot.press("pagedown")
        await pilot.pause(0.2)
        assert pane.scroll_y > 0
        await pilot.press("end")
        await pilot.pause(0.2)
        assert pane.scroll_y == pane.max_scroll_y
        await pilot.press("f2")  # back to the field it came from
        assert isinstance(app.screen.focused, Input)
    session.close()


async def test_the_selected_row_shows_its_whole_name(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        title = world.runbook.model.step("1.2").title
        assert len(title) > 30  # longer than the outline is wide
        app.main.query_one(StepOutline).select_step("1.2")
        await pilot.pause(0.3)
        shown = app.main.query_one("#outline-selected", Static)
        assert " ".join(_text(shown).split()) == f"· 1.2 {title}"
        assert shown.region.width <= 30 and shown.region.height >= 2  # wrapped under the outline, not cut
    session.close()


async def test_the_footer_keeps_quit_and_help_on_a_step_with_many_keys(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    _run(session, "1.0")
    session.record(ev.StepStarted(step="test-1"))
    session.record(ev.StepFinished(step="test-1", status="failed", summary="crashed", evidence={"findings": []}))
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(StepOutline).select_step("test-1")
        await pilot.pause(0.3)
        keys = _footer_keys(app)
        shown = [desc for _, desc, _ in keys]
        assert len([d for d in shown if d not in ("Quit", "Help", "palette")]) >= 7
        visible = [desc for _, desc, region in keys if region.right <= SIZE[0]]
        assert visible[:3] == ["Quit", "Help", "Run"]  # the most important first, never cut
    session.close()


async def test_code_and_commands_scroll_sideways_instead_of_wrapping(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(StepOutline).select_step("1.2")
        await wait_until(pilot, lambda: bool(app.main.query(CodeBlock)), what="the code")
        await pilot.pause(0.3)
        blocks = list(app.main.query(CodeBlock))
        wide = [b for b in blocks if b.wider_than_pane]
        assert wide, "the 1.2 snippet has lines wider than the pane at 80 columns"
        block = wide[0]
        assert isinstance(block.code, Syntax) and not block.code.word_wrap
        inner = block.query_one(Static)
        longest = max(len(line) for line in block.code.code.splitlines())
        assert block.size.width < longest <= inner.size.width  # whole lines, wider than the pane
        await pilot.press("right", "right")
        await pilot.pause(0.2)
        assert block.scroll_x == 16
        await pilot.press("left")
        await pilot.pause(0.2)
        assert block.scroll_x == 8
        assert app.main.item is not None and app.main.item.id == "1.2"  # the arrows did not move the outline
    session.close()


async def test_zoom_grows_the_output_pane_at_80x24(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        pane = app.main.query_one("#logpane")
        before = pane.region.height
        await pilot.press("z")
        await pilot.pause(0.2)
        assert pane.region.height > before
    session.close()


# --- 5. editing ------------------------------------------------------------------------------------------------


def _recording_editor(bin_dir: Path, record: Path, name: str = "nano") -> None:
    bin_dir.mkdir(exist_ok=True)
    editor = bin_dir / name
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize("step_id", ["1.2", "2.A", "2.B"])
async def test_e_opens_the_editor_at_the_functions_line(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step_id: str
) -> None:
    record = tmp_path / "editor-args"
    _recording_editor(tmp_path / "bin", record)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    session = world.new_session()
    session.accept_setup()
    _run(session, "1.1")
    step = world.runbook.model.step(step_id)
    assert isinstance(step, m.EditStepBase)
    path = world.sandbox.repo / step.edits[0].file.replace("{{repo}}/", "")
    span = edit_function(step.edits[0], path.read_text())
    assert span is not None and span.start_line > 1
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(StepOutline).select_step(step_id)
        await pilot.pause(0.2)
        await pilot.press("e")
        await wait_until(pilot, record.exists, what="the editor")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff after the editor")
    assert record.read_text().split() == [f"+{span.start_line}", str(path)]
    session.close()


async def test_e_finds_a_renamed_function_by_what_it_does(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork renamed the scheduler's function: 2.B's edit finds it by the op-offload decision, and so does e."""
    backend = world.sandbox.repo / "ggml" / "src" / "ggml-backend.cpp"
    text = backend.read_text().replace("ggml_backend_sched_backend_id_from_cur", "sched_pick_backend")
    backend.write_text(text)
    import subprocess

    subprocess.run(["git", "commit", "-qam", "a fork renames the function"], cwd=world.sandbox.repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=world.sandbox.repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    record = tmp_path / "editor-args"
    _recording_editor(tmp_path / "bin", record, name="vi")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(tmp_path / "bin" / "vi"))
    session = world.new_session(expected_commit=head[:8])
    session.accept_setup()
    _run(session, "1.1")
    step = world.runbook.model.step("2.B")
    assert isinstance(step, m.ApproachStep)
    span = edit_function(step.edits[0], text)
    assert span is not None and span.name == "sched_pick_backend"
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(StepOutline).select_step("2.B")
        await pilot.pause(0.2)
        await pilot.press("e")
        await wait_until(pilot, record.exists, what="the editor")
    line = int(record.read_text().split()[0].removeprefix("+"))
    assert line == span.start_line and "sched_pick_backend" in text.splitlines()[line - 1]
    session.close()


# --- 6. setup --------------------------------------------------------------------------------------------------


async def test_setup_focuses_the_first_field_and_q_types_instead_of_quitting(world: World) -> None:
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen), what="setup")
        await pilot.pause(0.2)
        first = next(iter(world.runbook.model.variables))
        field = app.screen.focused
        assert isinstance(field, Input) and field.id == f"var-{first}"
        before = field.value
        await pilot.press("end", "q")
        assert field.value == before + "q" and app.is_running
        await pilot.press("f2", "q")  # the preflight pane: no field to type into, and still no quitting
        await pilot.pause(0.2)
        assert app.is_running and isinstance(app.screen, SetupScreen)
    session.close()


async def test_flag_variables_are_read_against_the_programs_help(world: World) -> None:
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen), what="setup")
        hint = app.screen.query_one("#hint-fa_flag", Static)
        await wait_until(pilot, lambda: "--help lists" in _text(hint), what="the fa_flag check")
        assert "llama-cli --help lists -fa / --flash-attn" in _text(hint)
        assert "not installed" not in _text(hint)
        app.screen.query_one("#var-amx_flag", Input).value = "--amx"
        amx = app.screen.query_one("#hint-amx_flag", Static)
        await wait_until(pilot, lambda: "does not list --amx" in _text(amx), what="the amx_flag check")
        app.screen.query_one("#var-fa_flag", Input).value = "-fa"
        await wait_until(pilot, lambda: "takes a value" in _text(hint), what="-fa without its value")
    session.close()


async def test_reopened_mid_session_setup_calls_the_wizards_edits_its_own(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    _run(session, "1.1", "1.2")  # 1.2 edits ggml-backend.cpp: the tree is no longer clean, by the wizard's hand
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen), what="setup")
        results = app.screen.query_one("#preflight-results", Static)
        await wait_until(pilot, lambda: "checking" not in _text(results), 120, "the preflight")
        line = next(line for line in _text(results).splitlines() if "clean_tree" in line)
        assert line.startswith("✔ ok") and "this session's own edits: ggml/src/ggml-backend.cpp" in line
    session.close()


# --- 7. banners ------------------------------------------------------------------------------------------------


def _slow_cmake(world: World, tmp_path: Path, lines: int = 20) -> str:
    script = tmp_path / "slow-cmake"
    script.write_text(
        "#!/bin/bash\n"
        'case " $* " in *" clean "*) ;; *) '
        f'for i in $(seq 1 {lines}); do echo "slow build line $i"; sleep 0.1; done ;; esac\n'
        f'exec {world.sandbox.overrides["cmake"]} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


async def test_a_banner_says_how_a_run_ended_while_away_and_goes_once_read(world: World, tmp_path: Path) -> None:
    session = world.new_session(cmake=_slow_cmake(world, tmp_path))
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await accept_setup(pilot, app)
        app.main.query_one(StepOutline).select_step("1.4")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.main.run_handle is not None, what="the build to start")
        pid = app.main.run_handle.started.pid
        await pilot.press("q", "y")
    session.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the build ends while no wizard is open
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)

    reopened = world.open(session)
    app = WizardApp(reopened)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: reopened.state.step("1.4").status is StepStatus.PASSED, 60, "the verdict")
        await settle(pilot, app)
        banner = app.main.query_one("#notice", Static)
        said = _text(banner)
        assert "1.4 finished while you were away: passed" in said
        assert reopened.state.step("1.4").summary in said
        assert banner.display
        await pilot.press("down")  # read: the person acts
        await pilot.pause(0.2)
        assert not banner.display
    reopened.close()


async def test_a_followed_run_trades_still_running_for_its_outcome(world: World, tmp_path: Path) -> None:
    session = world.new_session(cmake=_slow_cmake(world, tmp_path, lines=30))
    app = WizardApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await accept_setup(pilot, app)
        app.main.query_one(StepOutline).select_step("1.4")
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.main.run_handle is not None, what="the build to start")
        await pilot.press("q", "y")
    session.close()
    reopened = world.open(session)
    app = WizardApp(reopened)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.main.query_one("#notice", Static)
        await wait_until(pilot, lambda: "still running; following it" in _text(banner), what="the sticky banner")
        await pilot.press("down")  # a key while it runs: a sticky notice stays
        await pilot.pause(0.2)
        assert "still running" in _text(banner) and banner.display
        await wait_until(pilot, lambda: reopened.state.step("1.4").status is StepStatus.PASSED, 60, "the verdict")
        await settle(pilot, app)
        assert "still running" not in _text(banner)
        assert "1.4 (left running when the wizard closed) finished: passed" in _text(banner)
    reopened.close()


# --- 8. the full log -------------------------------------------------------------------------------------------


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "run.log"
    lines = [f"line {i}" + (" needle" if i in (20, 70) else "") for i in range(1, 121)]
    log.write_text("\n".join(lines) + "\n")
    return log


async def test_the_full_log_numbers_lines_and_marks_the_linked_one(world: World, tmp_path: Path) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = FullLogScreen(_log(tmp_path), start_line=69)  # "log line 70; ctrl+l opens it there"
        app.push_screen(screen)
        view = screen.query_one(LogView) if screen.is_mounted else None
        await wait_until(pilot, lambda: screen.is_mounted and screen.query_one(LogView).ready, what="the index")
        view = screen.query_one(LogView)
        row = 69 - view.scroll_offset.y
        strip = view.render_line(row)
        text = "".join(segment.text for segment in strip)
        assert text.startswith(" 70› line 70 needle")
        highlight = view.get_component_rich_style("logview--highlight")
        body = [s for s in strip if "line 70" in s.text]
        assert body and body[0].style is not None and body[0].style.bgcolor == highlight.bgcolor
        other = "".join(s.text for s in view.render_line(row + 1))
        assert other.startswith(" 71  line 71")
    session.close()


async def test_search_goes_both_ways_with_a_visible_input_and_jumps_to_a_line(world: World, tmp_path: Path) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = FullLogScreen(_log(tmp_path), start_line=49)
        app.push_screen(screen)
        await wait_until(pilot, lambda: screen.is_mounted and screen.query_one(LogView).ready, what="the index")
        view = screen.query_one(LogView)
        await pilot.press("slash")
        field = screen.query_one("#log-input", Input)
        assert screen.focused is field and field.region.width >= 40  # wide enough to read what is typed
        await pilot.press(*"needle")
        assert field.value == "needle"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert view.highlight_line == 69  # below line 50
        await pilot.press("n")  # nothing further below: round to the top
        await pilot.pause(0.1)
        assert view.highlight_line == 19 and "from the top" in _text(screen.query_one("#log-status"))
        await pilot.press("N")  # and back up: round to the end
        await pilot.pause(0.1)
        assert view.highlight_line == 69
        await pilot.press("N")
        await pilot.pause(0.1)
        assert view.highlight_line == 19
        await pilot.press("colon", *"100", "enter")
        await pilot.pause(0.1)
        assert view.highlight_line == 99
        top = view.scroll_offset.y
        assert top <= 99 < top + view.size.height
        await pilot.press("colon", *"999", "enter")
        await pilot.pause(0.1)
        assert "no line '999'" in _text(screen.query_one("#log-status")) and view.highlight_line == 99
    session.close()


# --- 10. the palette -------------------------------------------------------------------------------------------


async def test_enter_on_a_typed_step_id_goes_there_at_once(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press("ctrl+p", *"test-3", "enter")  # no pause for the matches to arrive
        await pilot.pause(0.05)
        assert isinstance(app.screen, MainScreen)
        assert app.main.item is not None and app.main.item.id == "test-3"
    session.close()


async def test_the_palette_reaches_every_screen_and_action(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main.query_one(StepOutline).select_step("1.5")
        await pilot.pause(0.2)
        names = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in (
            "Run 1.5",
            "Skip 1.5",
            "Full log of 1.5",
            "Success criteria",
            "Reviewer's record",
            "Variables",
            "Finish the session",
            "Checklist",
            "Go to test-3 Test 3: CPU-Only Mode",
        ):
            assert any(name.startswith(wanted) for name in names), wanted
        await pilot.press("ctrl+p", *"Success criteria")
        await pilot.pause(0.8)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CriteriaScreen), what="the criteria")
    session.close()
