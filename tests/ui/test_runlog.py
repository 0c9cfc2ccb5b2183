"""The output feed between the runner's thread and the log pane stays bounded and says what it skipped."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.app import App, ComposeResult

from amxwizard.ui.widgets.runlog import OutputFeed, RunLog


def test_a_burst_bigger_than_the_ring_keeps_the_newest_lines_and_counts_the_rest() -> None:
    feed = OutputFeed(keep=100)
    feed.put([f"line {i}" for i in range(250)])
    lines, skipped = feed.drain()
    assert skipped == 150 and lines == [f"line {i}" for i in range(150, 250)]
    assert feed.received == 250
    assert feed.drain() == ([], 0)


def test_many_writer_threads_lose_no_count() -> None:
    feed = OutputFeed(keep=10)
    threads = [threading.Thread(target=lambda: [feed.put(["x"] * 7) for _ in range(1000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert feed.received == 4 * 1000 * 7


class _Pane(App[None]):
    def compose(self) -> ComposeResult:
        yield RunLog(OutputFeed(keep=50), id="log")


async def test_the_pane_marks_where_lines_were_skipped() -> None:
    app = _Pane()
    async with app.run_test() as pilot:
        log = app.query_one(RunLog)
        log.add([str(i) for i in range(120)])
        await pilot.pause(0.2)
        assert log.lines[0] == "… 70 lines not shown here (l opens the full log) …"
        assert log.lines[1:] == [str(i) for i in range(70, 120)]


async def test_the_full_log_opens_at_the_line_it_was_asked_for(tmp_path: Path) -> None:
    from amxwizard.ui.screens.fulllog import FullLogScreen
    from amxwizard.ui.widgets.logview import LogView

    log = tmp_path / "output.log"
    log.write_text("".join(f"line {i}\n" for i in range(1, 96)))
    app = App[None]()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(FullLogScreen(log, start_line=81))  # the form's "log line 82"
        await pilot.pause(0.3)
        view = app.screen.query_one(LogView)
        top = view.scroll_offset.y
        assert top <= 81 < top + view.size.height
