"""Render screenshots/*.svg from the app itself, on a rehearsal sandbox walked with real commands.

    python scripts/screenshots.py            # writes screenshots/*.svg (80x24 and 120x40 where useful)

Run it after a UI change and commit the SVGs with it; the README shows them.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from amxwizard.engine.executor import StepExecutor
from amxwizard.engine.session import Session
from amxwizard.rehearsal.sandbox import build_sandbox
from amxwizard.runbook import bundled_runbook, load_runbook
from amxwizard.ui.app import WizardApp
from amxwizard.ui.screens.fulllog import FullLogScreen
from amxwizard.ui.widgets.logview import LogView
from amxwizard.ui.widgets.outline import StepOutline

OUT = Path(__file__).resolve().parent.parent / "screenshots"


def prepare(root: Path, *, upto: str) -> Session:
    """A session in a fresh sandbox with every step before ``upto`` carried out for real."""
    sandbox = build_sandbox(root / "sandbox")
    session = Session.create(root / "state", load_runbook(bundled_runbook()), sandbox.overrides, session_id="rehearsal")
    session.accept_setup()
    executor = StepExecutor(session)
    executor.answer(
        "5.3",
        "solution_details",
        "Added ggml_tensor_is_weight() and a guard that refuses weight copies in ggml_backend_tensor_copy",
    )
    executor.answer("5.3", "backend_changes", "weight filter helper + guard")
    # The checklist first, as the wizard leads: what a check decides is checked, the rest confirmed by a person.
    for item in session.runbook.model.checklist:
        executor.tick_checklist(item.id, True, "confirmed by the person rehearsing")
    for _, step in session.runbook.model.iter_steps():
        if step.id == upto:
            break
        if step.id == "1.6":  # the analysis as the diagnostic log suggests it
            executor.accept_suggestions(executor.plan(step.id))
        if step.id == "2.choose":
            executor.answer(step.id, "approach", "A")
        if step.id == "test-1":  # the runbook forgets to rebuild after the fix; a person would
            executor.run("1.4", confirmed=True)
        if session.state.step(step.id).status.done:
            continue
        # The stand-ins cannot prove the performance claims of the commit message (no reference machine): a person
        # rehearsing commits anyway, and the record says which claims were unproven.
        executor.run(step.id, confirmed=True, allow_unproven=step.id == "5.3")
    return session


async def shoot(
    session: Session, name: str, size: tuple[int, int], action: Callable[[Pilot[None]], Awaitable[None]]
) -> None:
    app = WizardApp(session)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        await action(pilot)
        await pilot.pause(0.5)
        app.save_screenshot(f"{name}.svg", path=str(OUT))
    print(f"screenshots/{name}.svg")


def select(step_id: str, *keys: str, wait: float = 0.3) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def action(pilot: Pilot[None]) -> None:
        pilot.app.main.query_one(StepOutline).select_step(step_id)
        await pilot.pause(0.2)
        if keys:
            await pilot.press(*keys)
            await pilot.pause(wait)

    return action


async def run_and_show(pilot: Pilot[None]) -> None:
    """Select 1.5 and run it, so the log pane holds its real output."""
    pilot.app.main.query_one(StepOutline).select_step("1.5")
    await pilot.press("r")
    for _ in range(100):
        await pilot.pause(0.1)
        if pilot.app.busy is None and pilot.app.session.state.step("1.5").status.done:
            break
    pilot.app.main.query_one(StepOutline).select_step("1.5")
    await pilot.pause(0.3)


async def main() -> int:
    OUT.mkdir(exist_ok=True)
    # A fixed place, so regenerated screenshots differ only where the UI did.
    work = Path(tempfile.gettempdir()) / "amxwizard-rehearsal"
    shutil.rmtree(work, ignore_errors=True)
    try:
        fresh = Session.create(
            work / "fresh-state",
            load_runbook(bundled_runbook()),
            build_sandbox(work / "fresh").overrides,
            session_id="rehearsal",
        )
        await shoot(fresh, "setup-80x24", (80, 24), lambda p: p.pause(1.5))
        fresh.accept_setup()
        # Accepted: a new session opens on the checklist, what its checks decide already ticked.
        await shoot(fresh, "checklist-80x24", (80, 24), lambda p: p.pause(1.5))
        fresh.close()

        early = prepare(work / "early", upto="1.5")
        await shoot(early, "main-80x24", (80, 24), run_and_show)
        await shoot(early, "main-120x40", (120, 40), select("1.5"))
        await shoot(early, "palette-80x24", (80, 24), select("1.6", "ctrl+p", *"1.6", wait=1.0))
        await shoot(early, "analysis-form-80x24", (80, 24), select("1.6", "a"))
        await shoot(early, "edit-diff-120x40", (120, 40), select("2.A", "r"))
        await shoot(early, "choice-80x24", (80, 24), select("2.choose", "a"))
        log = Path(early.state.runs[early.state.step("1.5").runs[-1]].log)

        async def full_log(pilot: Pilot[None]) -> None:
            screen = FullLogScreen(log)
            pilot.app.push_screen(screen)
            for _ in range(50):
                await pilot.pause(0.1)
                if screen.is_mounted and screen.query_one(LogView).ready:
                    break
            # Searched from the end: the match above is found, numbered and marked.
            await pilot.press("slash", *"AMX buffer", "enter")

        await shoot(early, "full-log-80x24", (80, 24), full_log)
        early.close()

        fixed = prepare(work / "fixed", upto="test-1")  # the fix is in the source, the binary is from before it
        await shoot(fixed, "stale-build-80x24", (80, 24), select("test-1", "r", wait=1.0))
        fixed.close()

        late = prepare(work / "late", upto="5.3")
        await shoot(late, "commit-120x40", (120, 40), select("5.3", "r"))
        await shoot(late, "criteria-120x40", (120, 40), select("5.3", "k"))
        late.close()

        done = prepare(work / "done", upto="__end__")
        await shoot(done, "record-80x24", (80, 24), select("5.4", "f", wait=1.0))
        await shoot(done, "help-80x24", (80, 24), select("5.4", "question_mark"))
        done.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
