"""Every blocker a plan can carry has its dialog, with named keys that resolve it; the flows a person meets most
(a stale binary, a change by hand, a step that needs another first) end where they should."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.claims import Claim
from amxwizard.engine.executor import StepExecutor
from amxwizard.engine.state import StepStatus
from amxwizard.engine.steps import base
from amxwizard.runbook import models as m
from amxwizard.runbook.load import RunbookFile
from amxwizard.ui import flow
from amxwizard.ui.app import WizardApp
from amxwizard.ui.screens.dialogs import ChoiceDialog, ConfirmScreen, DiffScreen
from amxwizard.ui.screens.forms import ChoiceScreen
from amxwizard.ui.widgets.outline import StepOutline

from .conftest import World, settle, wait_until

# blocker, the screen it shows, the key that approves, what that decides
CASES: list[tuple[base.Blocker, type, str, Any]] = [
    (base.MissingAnswers(step="2.choose"), ChoiceScreen, "enter", flow.Replan()),
    (base.Confirm(question="Clean and rebuild?"), ConfirmScreen, "y", flow.Grant(base.Approval(confirmed=True))),
    (
        base.ReviewChanges(question="apply 1 file change?", diff="+x"),
        DiffScreen,
        "y",
        flow.Grant(base.Approval(confirmed=True)),
    ),
    (
        base.StaleBuild(edited="/r/a.cpp", edit_step="2.A", build_step="1.4", built_at="t"),
        ChoiceDialog,
        "a",
        flow.Grant(base.Approval(run_stale=True)),
    ),
    (
        base.StaleBuild(edited="/r/a.cpp", edit_step="2.A", build_step="1.4", built_at="t"),
        ChoiceDialog,
        "b",
        flow.RunFirst("1.4", confirmed=True),
    ),
    (base.ManualEdit(path=Path("/r/a.cpp"), line=12), ChoiceDialog, "e", flow.OpenEditor()),
    (base.Prerequisite(reason="back up first", step="1.1"), ChoiceDialog, "r", flow.RunFirst("1.1")),
    (
        base.AlreadyPassed(step="2.choose", summary="chose 2.A"),
        ConfirmScreen,
        "y",
        flow.Grant(base.Approval(again=True)),
    ),
    (
        base.UnprovenClaims(claims=(Claim("perf", "No performance degradation", "bench-tg not run", proven=False),)),
        ChoiceDialog,
        "y",
        flow.Grant(base.Approval(allow_unproven=True)),
    ),
]


def test_every_blocker_type_has_its_dialog() -> None:
    assert set(flow.BLOCKER_SCREENS) == set(base.BLOCKER_TYPES)
    assert {type(case[0]) for case in CASES} == set(base.BLOCKER_TYPES)
    assert set(flow.ANSWER_SCREENS) | set(flow.REVIEW_SCREENS) <= set(flow.PLAN_TYPES)


async def _decide(app: WizardApp, blocker: base.Blocker, screen: type, keys: list[str]) -> Any:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        plan = await asyncio.to_thread(app.executor.plan, "2.choose")
        worker = app.run_worker(flow.BLOCKER_SCREENS[type(blocker)](app, plan, blocker), exit_on_error=False)
        await wait_until(pilot, lambda: isinstance(app.screen, screen), what=screen.__name__)
        if isinstance(app.screen, ChoiceDialog):
            shown = app.screen.query_one("#choice-keys").render()
            assert "esc cancel" in str(shown)
        await pilot.press(*keys)
        await wait_until(pilot, lambda: worker.is_finished, what="the decision")
        return worker.result


@pytest.mark.parametrize(("blocker", "screen", "key", "decision"), CASES, ids=lambda c: getattr(c, "KIND", None))
async def test_each_blocker_shows_its_choices_and_its_key_resolves_it(
    world: World, blocker: base.Blocker, screen: type, key: str, decision: Any
) -> None:
    session = world.new_session()
    session.accept_setup()
    assert await _decide(WizardApp(session, catch_up=False), blocker, screen, [key]) == decision
    session.close()


@pytest.mark.parametrize(("blocker", "screen"), [(c[0], c[1]) for c in CASES[:4]] + [(CASES[5][0], CASES[5][1])])
async def test_escape_leaves_the_step_as_it_is(world: World, blocker: base.Blocker, screen: type) -> None:
    session = world.new_session()
    session.accept_setup()
    before = session.state.last_seq
    assert await _decide(WizardApp(session, catch_up=False), blocker, screen, ["escape"]) == flow.Cancel()
    recorded = [e.kind for e in session.store.events(after=before)]
    # The app notes the machine it runs on and ticks the checklist items whose checks pass; the step records nothing.
    assert set(recorded) <= {"machine_observed", "checklist_ticked"}
    session.close()


async def test_a_stale_binary_run_anyway_is_recorded_as_such(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    StepExecutor(session).run("1.1")
    session.record(ev.StepStarted(step="1.4"))
    session.record(ev.StepFinished(step="1.4", status="passed", summary="built"))
    path = str(world.sandbox.repo / "ggml/src/ggml-backend.cpp")
    session.record(ev.FileEdited(step="2.A", path=path, before_sha256=None, after_sha256="x", how="snippet"))
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        app.main.query_one(StepOutline).select_step("test-1")
        await pilot.pause(0.2)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the stale-build question")
        status = str(app.main.query_one("#runstatus").render())
        assert "running" not in status and app.busy is None  # nothing says "running" while the question is open
        await pilot.press("a")
        await wait_until(pilot, lambda: session.state.step("test-1").attempts == 1, what="test-1 to start")
        await settle(pilot, app)
    assert session.state.step("test-1").acknowledged[0]["blocker"] == "stale_build"
    session.close()


async def test_r_on_a_change_by_hand_opens_the_editor_choice_and_records_nothing_as_failed(
    world: World, runbook_file: RunbookFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    approach = runbook_file.model.step("2.B")
    assert isinstance(approach, m.ApproachStep)
    manual = approach.model_copy(
        update={"edits": [m.Edit(file=approach.edits[0].file, function="ggml_backend_tensor_copy", action="manual")]}
    )
    phases = [
        p.model_copy(update={"steps": [manual if s.id == "2.B" else s for s in p.steps]})
        for p in runbook_file.model.phases
    ]
    model = runbook_file.model.model_copy(update={"phases": phases})
    for cached in ("steps_by_id", "phase_of", "fields", "args_variables", "edited_files"):
        model.__dict__.pop(cached, None)  # computed from the phases the copy replaced
    world.runbook = RunbookFile(model, None, "runbook.yaml", runbook_file.sha256, runbook_file.text)
    session = world.new_session()
    session.accept_setup()
    StepExecutor(session).run("1.1")
    editor = tmp_path / "editor.sh"  # a person's edit, made by "their editor": appends one line at the place
    editor.write_text('#!/bin/sh\nfor last; do :; done\necho "// changed by hand" >> "$last"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("VISUAL", str(editor))
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        app.main.query_one(StepOutline).select_step("2.B")
        await pilot.pause(0.2)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the editor choice")
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert session.state.step("2.B").status is StepStatus.PENDING
        assert session.state.step("2.B").attempts == 0  # nothing started, nothing failed
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the editor choice again")
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff of the edit")
        assert "// changed by hand" in app.screen.diff
        await pilot.press("escape")
        await wait_until(pilot, lambda: session.state.step("2.B").status is StepStatus.PASSED, what="2.B to pass")
    assert [e["how"] for e in session.state.edits] == ["editor"]
    session.close()


async def test_a_step_that_needs_another_runs_it_first_then_itself(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        app.main.query_one(StepOutline).select_step("1.2")
        await pilot.pause(0.2)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the prerequisite")
        assert "1.1" in app.screen.title_text
        await pilot.press("r")  # run 1.1 now
        await wait_until(pilot, lambda: isinstance(app.screen, DiffScreen), what="1.2's diff after the backup")
        assert session.state.step("1.1").status is StepStatus.PASSED
        await pilot.press("y")
        await wait_until(pilot, lambda: session.state.step("1.2").status is StepStatus.PASSED, what="1.2 to pass")
    session.close()
