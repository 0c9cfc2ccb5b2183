"""Quitting while a step's events are still on their way to the screen."""

from __future__ import annotations

from amxwizard.engine.executor import StepExecutor
from amxwizard.ui.app import WizardApp

from .conftest import World


async def test_events_still_queued_when_the_wizard_quits_are_no_error(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        StepExecutor(session).run("1.0", confirmed=True)  # its events are queued as the wizard quits
    session.close()
