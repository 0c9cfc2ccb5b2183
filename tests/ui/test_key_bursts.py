"""Held or fast-tapped arrow keys move only the cursor; once the keys rest the detail pane and the footer show the
step the cursor stopped on, exactly as a single move shows it at once."""

from __future__ import annotations

from amxwizard.ui.app import WizardApp
from amxwizard.ui.screens.main import KEY_BURST_SECONDS
from amxwizard.ui.widgets.detail import DetailPane
from amxwizard.ui.widgets.outline import StepOutline

from .conftest import World, wait_until


def _detail(app: WizardApp) -> str:
    """The detail pane's text (its prose and its code blocks, as plain text)."""
    assert app.main is not None
    return app.main.query_one(DetailPane).text


async def test_a_burst_of_moves_ends_showing_the_step_it_stopped_on(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session, catch_up=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.main is not None and app.main.is_mounted, what="the main screen")
        await pilot.pause(KEY_BURST_SECONDS * 2)
        outline = app.main.query_one(StepOutline)  # type: ignore[union-attr]
        first = outline.current
        assert first is not None and first.id in _detail(app)

        # A lone move: the detail follows at once (within the frame after it).
        await pilot.press("down")
        await pilot.pause(0.05)
        lone = outline.current
        assert lone is not None and lone.id != first.id
        assert f"{lone.id}  " in _detail(app)

        # A burst: the cursor moves with each key; the detail waits for the keys to rest, then shows the last one.
        await pilot.pause(KEY_BURST_SECONDS * 2)
        await pilot.press("down", "down", "down")
        stopped = outline.current
        assert stopped is not None
        await wait_until(pilot, lambda: f"{stopped.id}  " in _detail(app), 5, "the detail of the step stopped on")
        # ...and the footer's keys are those of that step (what a fresh look at check_action gives).
        main = app.main
        assert main is not None
        await pilot.pause(KEY_BURST_SECONDS)
        assert main._bindings_shown is not None
        expected = tuple(main.check_action(b.action, ()) for b in main.BINDINGS)  # type: ignore[union-attr]
        assert main._bindings_shown[-1] == expected
    session.close()
