"""Walk the whole runbook through the real TUI, on a rehearsal sandbox, with the keyboard only."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from amxwizard.engine.runner import display_line
from amxwizard.engine.state import StepStatus
from amxwizard.ui.app import WizardApp
from amxwizard.ui.screens.commit import CommitScreen
from amxwizard.ui.screens.criteria import CriteriaScreen
from amxwizard.ui.screens.dialogs import ChoiceDialog, ConfirmScreen, DiffScreen, NoteScreen
from amxwizard.ui.screens.forms import ChoiceScreen, FormScreen
from amxwizard.ui.screens.main import MainScreen
from amxwizard.ui.screens.record import RecordScreen
from amxwizard.ui.screens.setup import SetupScreen
from amxwizard.ui.widgets.outline import StepOutline
from amxwizard.ui.widgets.runlog import RunLog

from .conftest import World, settle, wait_until


def _status(app: WizardApp, step_id: str) -> StepStatus:
    return app.session.state.step(step_id).status


def _selected(app: WizardApp) -> str | None:
    item = app.main.query_one(StepOutline).current if app.main else None
    return item.id if item else None


async def test_walk_the_runbook_from_setup_to_the_last_phase(world: World) -> None:
    session = world.new_session()
    app = WizardApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        # Setup comes first and nothing runs before it is accepted.
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen), what="the setup screen")
        assert not session.state.setup_accepted
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        assert session.state.setup_accepted and session.state.accepted_values is not None

        # A new session opens on the checklist: what a check decides is ticked with what it found, and the one
        # item nothing here can check (pre-1) waits for the person, who ticks it with a note.
        assert _selected(app) == "checklist"
        await wait_until(pilot, lambda: len(session.state.checklist) == 3, what="the checks to tick their items")
        assert all(session.state.checklist[i].auto for i in ("pre-2", "pre-3", "pre-4"))
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note for pre-1")
        await pilot.press(*"short prompts work here", "enter")
        await wait_until(pilot, lambda: "pre-1" in session.state.checklist, what="pre-1 ticked")
        await pilot.press("n")
        await pilot.pause(0.1)
        assert _selected(app) == "1.0"

        # 1.0 configures build/ only where it is not configured: the sandbox's is, so it says so and moves on.
        await pilot.press("r")
        await settle(pilot, app)
        assert _status(app, "1.0") is StepStatus.PASSED
        [configure_run] = session.state.step("1.0").runs
        assert "already configured: nothing to do" in Path(session.state.runs[configure_run].log).read_text()
        assert _selected(app) == "1.1"

        # 1.1 backup: r, and the cursor moves on by itself.
        await pilot.press("r")
        await settle(pilot, app)
        assert _status(app, "1.1") is StepStatus.PASSED

        # The benchmarks before the fix, on the build as it is, before any edit: what phase 4 compares with.
        for step_id in ("bench-pp-before", "bench-tg-before"):
            assert _selected(app) == step_id
            await pilot.press("r")
            await settle(pilot, app)
            assert _status(app, step_id) is StepStatus.PASSED, app.session.state.step(step_id).summary
        assert _selected(app) == "1.2"

        # 1.2 and 1.3: r shows the diff, y applies it.
        for step_id in ("1.2", "1.3"):
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff")
            await pilot.press("y")
            await settle(pilot, app)
            assert _status(app, step_id) is StepStatus.PASSED
        assert "GGML_DEBUG_TENSOR_COPY" in (world.sandbox.repo / "ggml/src/CMakeLists.txt").read_text()

        # 1.4 cleans the build: it asks first, then its real output streams into the log pane.
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y")
        await settle(pilot, app)
        assert _status(app, "1.4") is StepStatus.PASSED
        log = app.main.query_one(RunLog)
        log.flush()
        assert any("Built target llama-cli" in line for line in log.lines)
        # The pane holds the run's whole output, first line included, exactly as the log on disk has it.
        [run_id] = session.state.step("1.4").runs
        on_disk = Path(session.state.runs[run_id].log).read_text().splitlines()
        assert [line for line in log.lines if line] == [display_line(line) for line in on_disk if line]

        # 1.5 runs the long prompt on the debug build; 1.6's form opens with the log's findings filled in.
        await pilot.press("r")
        await settle(pilot, app)
        assert _status(app, "1.5") is StepStatus.PASSED
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, FormScreen), what="the analysis form")
        tensor = app.screen.query_one("#field-tensor", Input)
        assert tensor.value == "blk.0.attn_q.weight"
        # The person corrects one answer; leaving the field records it at once.
        src = app.screen.query_one("#field-src_buffer", Input)
        src.focus()
        src.value = "AMX (buffer type AMX_BUF)"
        await pilot.press("tab")
        await wait_until(
            pilot,
            lambda: session.state.answer("src_buffer") == "AMX (buffer type AMX_BUF)",
            what="the answer to be saved on leaving the field",
        )
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert _status(app, "1.6") is StepStatus.PASSED
        analysis = Path(session.state.exports["BACKUP_DIR"]) / "analysis.txt"
        assert "Source buffer: AMX (buffer type AMX_BUF)" in analysis.read_text()
        assert session.state.answers["src_buffer"].suggested == "AMX"  # what the log said is kept beside it

        # 2.choose: the approach, with its "use if"; the others are skipped as not chosen.
        assert _selected(app) == "2.choose"
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the choice")
        await pilot.press("enter")
        await settle(pilot, app)
        assert session.state.approach == "2.A"
        assert _status(app, "2.B") is StepStatus.SKIPPED
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="approach A's diff")
        await pilot.press("y")
        await settle(pilot, app)
        assert _status(app, "2.A") is StepStatus.PASSED

        # The runbook never rebuilds after the fix: the wizard says so before a test runs an old binary, and offers
        # to rebuild first (its choices are named keys).
        assert _selected(app) == "test-1"
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the stale-build question")
        assert "old binary" in app.screen.title_text
        assert [key for key, _, _ in app.screen.choices] == ["b", "a"]
        await pilot.press("b")  # rebuild now: 1.4 runs, then test-1 on the new binary
        await wait_until(pilot, lambda: _status(app, "test-1") is StepStatus.PASSED, 60, "test-1 after the rebuild")
        await settle(pilot, app)
        assert session.state.step("1.4").attempts == 2
        assert not session.state.step("test-1").acknowledged  # it did not run stale

        for step_id in ("test-2", "test-3", "test-4", "test-5", "bench-pp", "bench-tg"):
            assert _selected(app) == step_id
            await pilot.press("r")
            await settle(pilot, app)
            assert _status(app, step_id) is StepStatus.PASSED, app.session.state.step(step_id).summary

        # Phase 5: remove the logging, rebuild, commit, document.
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="5.1's diff")
        await pilot.press("y")
        await settle(pilot, app)
        await pilot.press("r", "y")
        await settle(pilot, app)
        assert _status(app, "5.2") is StepStatus.PASSED

        # Phase 4 measured a build with the diagnostic logging in it, so it compared nothing; with the logging out
        # again, the benchmarks run once more (a passed step asks first) and compare with the run before the fix.
        assert "not comparable" in session.state.step("bench-tg").summary
        for step_id in ("bench-pp", "bench-tg"):
            app.main.query_one(StepOutline).select_step(step_id)
            await pilot.pause(0.1)
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="run it again?")
            await pilot.press("y")
            await settle(pilot, app)
        assert session.state.step("bench-tg").evidence["basis"] == "before_fix"
        app.main.query_one(StepOutline).select_step("5.3")
        await pilot.pause(0.1)

        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, CommitScreen), what="the commit screen")
        await pilot.press(*"Added ggml_tensor_is_weight and a guard in ggml_backend_tensor_copy")
        await pilot.press("tab", *"weight guard")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the commit confirmation")
        await pilot.press("y")
        await settle(pilot, app)
        assert _status(app, "5.3") is StepStatus.PASSED, session.state.step("5.3").summary
        assert session.state.commit is not None
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the documents' diff")
        await pilot.press("y")
        await settle(pilot, app)
        assert _status(app, "5.4") is StepStatus.PASSED

        # Criteria: all met from the evidence; a tick by hand asks for a note.
        await pilot.press("k")
        await wait_until(pilot, lambda: isinstance(app.screen, CriteriaScreen), what="the criteria")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note")
        await pilot.press(*"watched it run twice", "enter")
        await wait_until(pilot, lambda: "long-prompts" in session.state.criteria, what="the tick")
        assert session.state.criteria["long-prompts"].note == "watched it run twice"
        await pilot.press("escape", "f")
        await wait_until(pilot, lambda: isinstance(app.screen, RecordScreen), what="the record")
        await wait_until(pilot, lambda: app.screen.shown, what="the record's state")
        # Every step and criterion is done and the checklist confirmed (three items by their checks, one by hand).
        from amxwizard.report import build_record

        assert build_record(session).status.label == "COMPLETE", build_record(session).status.label
        assert app.screen.complete

    session.close()
