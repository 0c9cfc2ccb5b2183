"""UI benchmark inside the app: how fast the full-log screen opens a big log from disk.

Start, keys and memory are measured from outside, through a real terminal, in :mod:`amxwizard.bench.feel`: a headless
app that never draws, with keys posted onto its queue, flatters.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from ..bench import percentile


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {statistics.median(values) * 1000:6.1f} ms  p99 {percentile(values, 0.99) * 1000:6.1f} ms  "
        f"max {max(values) * 1000:6.1f} ms"
    )


def _world(root: Path, cmake: str) -> tuple[object, object]:
    from ..engine.session import Session
    from ..rehearsal.sandbox import build_sandbox
    from ..runbook import bundled_runbook, load_runbook

    sandbox = build_sandbox(root / "sandbox")
    session = Session.create(root / "state", load_runbook(bundled_runbook()), {**sandbox.overrides, "cmake": cmake})
    session.accept_setup()
    return sandbox, session


async def _open_full_log(session: object, log: Path, lines: int) -> tuple[float, float]:
    """Seconds until the full-log screen shows its first rows, and until every line is indexed."""
    from ..ui.app import WizardApp
    from ..ui.screens.fulllog import FullLogScreen
    from ..ui.widgets.logview import LogView

    app = WizardApp(session)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        began = time.perf_counter()
        screen = FullLogScreen(log)
        app.push_screen(screen)
        first = 0.0
        while True:
            await asyncio.sleep(0.005)
            if not first and screen.is_mounted:
                first = time.perf_counter() - began
            if screen.is_mounted and screen.query_one(LogView).line_count >= lines:
                return first, time.perf_counter() - began


def _full_log(quick: bool) -> None:
    lines = 100_000 if quick else 1_000_000
    root = Path(tempfile.mkdtemp(prefix="amxwizard-bench-ui-"))
    try:
        log = root / "output.log"
        with log.open("w") as fh:
            for i in range(lines):
                fh.write(f"[{i % 100:3d}%] Building CXX object ggml/src/CMakeFiles/ggml.dir/part-{i}.cpp.o\n")
        _, session = _world(root, "cmake")
        first, indexed = asyncio.run(_open_full_log(session, log, lines))
        session.close()  # type: ignore[attr-defined]
        size = log.stat().st_size
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"   full log: {lines:,} lines ({size / 2**20:.0f} MiB) from disk: screen up in {first * 1000:.0f} ms, "
        f"every line indexed and scrollable in {indexed:.2f} s"
    )


def run(quick: bool) -> None:
    """Print how fast the full log opens (start, keys and memory are measured through a terminal: bench.feel)."""
    _full_log(quick)
