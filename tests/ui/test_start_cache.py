"""The wizard's first screen is the same whether its runbook was validated now or came from the cache."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from amxwizard.engine.session import Session
from amxwizard.rehearsal.sandbox import build_sandbox
from amxwizard.runbook import RunbookFile, load_runbook
from amxwizard.runbook.cache import entry_path, load_cached
from amxwizard.ui.app import WizardApp

from .conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]


async def _first_screen(session_dir: Path, runbook: RunbookFile) -> str:
    session = Session.open(session_dir, runbook)
    app = WizardApp(session, catch_up=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.main is not None and app.main.is_mounted, what="the main screen")
            await pilot.pause(1.0)  # the detail pane's plan arrives from a worker
            svg = app.export_screenshot()
    finally:
        session.close()
    return re.sub(r"terminal-\d+", "terminal", svg)


async def test_the_first_screen_renders_the_same_from_the_cache(tmp_path: Path, frozen_clock: None) -> None:
    path = tmp_path / "runbook.yaml"
    shutil.copyfile(ROOT / "runbook.yaml", path)
    cache = tmp_path / "cache"
    validated = load_runbook(path)
    load_cached(path, folder=cache)
    assert entry_path(validated.sha256, cache).is_file()
    cached = load_cached(path, folder=cache)  # from the entry

    sandbox = build_sandbox(tmp_path / "sandbox")
    session = Session.create(tmp_path / "state", validated, sandbox.overrides, session_id="cache-check")
    session.accept_setup()
    session.close()

    assert await _first_screen(session.dir, cached) == await _first_screen(session.dir, validated)
