"""UI benchmark: does the wizard stay responsive while a step floods output or saturates the CPU, and how long
until the first frame?

All in one run, on a rehearsal sandbox, with the real app (headless) and real child processes:

- flood: a child printing N lines as fast as it can; event-loop lag (a 5 ms ticker's overshoot) and the time to
  handle a key press, beside the same figures with nothing running, plus lines/s into the log pane and peak RSS;
- busy: a build of twice as many busy processes as cores; key handling at the default nice level and at nice 0;
- start: process start to the first frame with the runbook loaded, beside a bare Textual app's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..bench import percentile
from ..bench.runner import _RssSampler


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


async def _measure(
    session: object, *, nice: int, run: bool, seconds: float | None = None, done: Callable[[object], bool] | None = None
) -> dict[str, object]:
    """Run the app headless; optionally run step 1.4; sample loop lag and key handling until it ends."""
    from textual import events

    from ..ui.app import WizardApp
    from ..ui.widgets.outline import StepOutline
    from ..ui.widgets.runlog import RunLog

    app = WizardApp(session, nice=nice)  # type: ignore[arg-type]
    lags: list[float] = []
    keys: list[float] = []
    result: dict[str, object] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        stop = asyncio.Event()

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                began = loop.time()
                await asyncio.sleep(0.005)
                lags.append(max(0.0, loop.time() - began - 0.005))

        tick = asyncio.create_task(ticker())
        began = time.perf_counter()
        with _RssSampler() as rss:
            if run:
                from ..engine.steps.base import Approval

                app.run_worker(app.execute(app.executor.plan("1.4"), Approval(confirmed=True)))
            outline = app.main.query_one(StepOutline) if app.main else None
            i = 0
            while True:
                elapsed = time.perf_counter() - began
                if run and app.busy is None and elapsed > 0.5:
                    break
                if seconds is not None and elapsed > seconds:
                    break
                # A key press as the terminal driver delivers it; handled = the outline's cursor has moved.
                key = "down" if i % 2 == 0 else "up"
                before = outline.cursor_line if outline else 0
                t0 = time.perf_counter()
                app.post_message(events.Key(key, None))
                while outline is not None and outline.cursor_line == before:
                    if time.perf_counter() - t0 > 5:
                        break
                    await asyncio.sleep(0.001)
                keys.append(time.perf_counter() - t0)
                i += 1
                await asyncio.sleep(0.05)
        wall = time.perf_counter() - began
        stop.set()
        await tick
        log = app.main.query_one(RunLog) if app.main else None
        result = {
            "wall": wall,
            "lags": lags,
            "keys": keys,
            "rss_peak": rss.peak,
            "lines": log.lines_received if log else 0,
        }
    return result


def _flood(quick: bool) -> None:
    lines = 100_000 if quick else 1_000_000
    root = Path(tempfile.mkdtemp(prefix="amxwizard-bench-ui-"))
    try:
        flood = root / "flood"
        flood.write_text(f'#!/bin/bash\ncase " $* " in *" clean "*) exit 0;; esac\nseq 1 {lines}\n')
        flood.chmod(0o755)
        _, session = _world(root, str(flood))
        idle = asyncio.run(_measure(session, nice=10, run=False, seconds=2.0))
        busy = asyncio.run(_measure(session, nice=10, run=True))
        session.close()  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rate = busy["lines"] / busy["wall"] if busy["wall"] else 0.0  # type: ignore[operator]
    print(
        f"   flood: {busy['lines']:,} lines into the log pane in {busy['wall']:.2f} s = {rate:,.0f} lines/s, "
        f"peak RSS {busy['rss_peak'] / 1024:.1f} MiB"  # type: ignore[operator]
    )
    print(f"     event-loop lag  idle   {_ms(idle['lags'])}")  # type: ignore[arg-type]
    print(f"     event-loop lag  flood  {_ms(busy['lags'])}")  # type: ignore[arg-type]
    print(f"     key press       idle   {_ms(idle['keys'])}")  # type: ignore[arg-type]
    print(f"     key press       flood  {_ms(busy['keys'])}")  # type: ignore[arg-type]
    idle_p99 = percentile(idle["keys"], 0.99) or 1e-9  # type: ignore[arg-type]
    print(f"     key press p99 ratio flood/idle: {percentile(busy['keys'], 0.99) / idle_p99:.2f}x")  # type: ignore


def _busy_build(quick: bool) -> None:
    cores = os.cpu_count() or 2
    seconds = 2 if quick else 4
    root = Path(tempfile.mkdtemp(prefix="amxwizard-bench-ui-"))
    figures = {}
    try:
        build = root / "busy-build"
        build.write_text(
            '#!/bin/bash\ncase " $* " in *" clean "*) exit 0;; esac\n'
            f"for i in $(seq {2 * cores}); do timeout {seconds} bash -c 'while :; do :; done' & done\n"
            "wait\necho built\n"
        )
        build.chmod(0o755)
        _, session = _world(root, str(build))
        for nice in (10, 0):
            figures[nice] = asyncio.run(_measure(session, nice=nice, run=True))
            # the step is judged failed (no build output to recognise) or passed; either way it ended
        session.close()  # type: ignore[attr-defined]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"   busy build: {2 * cores} busy processes on {cores} cores for {seconds} s")
    for nice, result in figures.items():
        print(f"     key press  nice {nice:>2}  {_ms(result['keys'])}   event-loop lag {_ms(result['lags'])}")  # type: ignore


_FIRST_FRAME = """
import sys, time
t0 = float(sys.argv[1])
kind = sys.argv[2]
from textual.app import App
if kind == "bare":
    class Probe(App):
        def on_ready(self):
            print(f"READY {time.time() - t0:.4f}", flush=True)
            self.exit()
    Probe().run(headless=True)
else:
    import tempfile
    from pathlib import Path
    from amxwizard.runbook import bundled_runbook
    from amxwizard.runbook import load_runbook
    from amxwizard.engine.session import Session
    from amxwizard.ui.app import WizardApp
    folder = Path(tempfile.mkdtemp())
    session = Session.create(folder / "state", load_runbook(bundled_runbook()))
    session.accept_setup()
    class Probe(WizardApp):
        def on_ready(self):
            print(f"READY {time.time() - t0:.4f}", flush=True)
            self.exit()
    Probe(session).run(headless=True)
    session.close()
    import shutil
    shutil.rmtree(folder, ignore_errors=True)
"""


def _first_frame(quick: bool) -> None:
    runs = 3 if quick else 7
    times: dict[str, list[float]] = {"bare": [], "amxwizard": []}
    folder = Path(tempfile.mkdtemp(prefix="amxwizard-bench-start-"))
    probe = folder / "first_frame_probe.py"  # a file: Textual looks up an App class's source location
    probe.write_text(_FIRST_FRAME)
    for _ in range(runs):
        for kind in times:
            out = subprocess.run(
                [sys.executable, str(probe), repr(time.time()), kind],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=folder,
            )
            for line in out.stdout.splitlines():
                if line.startswith("READY "):
                    times[kind].append(float(line.split()[1]))
    shutil.rmtree(folder, ignore_errors=True)
    bare = statistics.median(times["bare"]) if times["bare"] else float("nan")
    ours = statistics.median(times["amxwizard"]) if times["amxwizard"] else float("nan")
    print(
        f"   first frame (process start → first frame, median of {runs}): bare Textual app {bare * 1000:.0f} ms, "
        f"amxwizard with the runbook loaded {ours * 1000:.0f} ms ({ours / bare:.2f}x)"
    )


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
    """Print the UI's responsiveness figures."""
    _flood(quick)
    _busy_build(quick)
    _full_log(quick)
    _first_frame(quick)
