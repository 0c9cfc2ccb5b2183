"""Fixtures for driving the real TUI with Pilot on a real rehearsal sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

from amxwizard.engine import session as session_module
from amxwizard.engine import store as store_module
from amxwizard.engine.session import Session
from amxwizard.rehearsal.sandbox import Sandbox, build_sandbox
from amxwizard.runbook import RunbookFile
from amxwizard.ui.app import WizardApp


@dataclass
class World:
    sandbox: Sandbox
    state_dir: Path
    runbook: RunbookFile

    def new_session(self, session_id: str | None = None, **extra: str) -> Session:
        return Session.create(self.state_dir, self.runbook, {**self.sandbox.overrides, **extra}, session_id=session_id)

    def open(self, session: Session) -> Session:
        return Session.open(session.dir, self.runbook)


@pytest.fixture
def world(tmp_path: Path, runbook_file: RunbookFile) -> World:
    sandbox = build_sandbox(tmp_path / "sandbox")
    return World(sandbox, tmp_path / "state", runbook_file)


async def wait_until(
    pilot: Pilot[None], predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Let the app run until ``predicate()`` holds (worker threads, timers); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def accept_setup(pilot: Pilot[None], app: WizardApp) -> None:
    """Accept the setup screen's values (ctrl+s) and wait for the main screen."""
    from amxwizard.ui.screens.main import MainScreen

    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")


async def settle(pilot: Pilot[None], app: WizardApp, timeout: float = 30.0) -> None:
    """Wait until no step is running and the UI caught up."""
    await pilot.pause(0.05)
    await wait_until(pilot, lambda: app.busy is None, timeout, "the step to finish")
    await pilot.pause(0.1)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Event times, the actor and the host name fixed, so a screen shows the same bytes on every machine."""
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(
        store_module, "now_iso", lambda: (start + timedelta(seconds=next(ticks))).isoformat(timespec="microseconds")
    )
    monkeypatch.setattr(session_module, "actor", lambda: "engineer@gpu-box")
    monkeypatch.setattr(session_module.socket, "gethostname", lambda: "gpu-box")
    yield
