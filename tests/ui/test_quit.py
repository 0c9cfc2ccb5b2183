"""Quitting while a step's events are still on their way to the screen."""

from __future__ import annotations

import threading

from amxwizard.engine.executor import StepExecutor
from amxwizard.ui.app import WizardApp

from .conftest import World


async def test_events_still_queued_when_the_wizard_quits_are_no_error(world: World) -> None:
    session = world.new_session()
    session.accept_setup()
    app = WizardApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        # Its events are queued as the wizard quits: the step runs while the UI thread waits for it. (In a thread of
        # its own, as the wizard runs steps: a command started on the thread of a running event loop has sh report
        # its end to that loop, closed by then.)
        runner = threading.Thread(target=StepExecutor(session).run, args=("1.0",), kwargs={"confirmed": True})
        runner.start()
        runner.join()
    session.close()
