"""Under a flood the pane does only the work a person can see: lines the follower skipped are counted, and a flush
after the ring overflowed writes only the newest lines."""

from __future__ import annotations

from textual.app import App, ComposeResult

from amxwizard.ui.widgets.runlog import OutputFeed, RunLog


def test_lines_the_follower_skipped_count_as_received_and_not_shown() -> None:
    feed = OutputFeed(keep=100)
    feed.put(["a"])
    feed.skip(5_000)
    feed.put(["b", "c"])
    assert feed.drain() == (["a", "b", "c"], 5_000)
    assert feed.received == 5_003


class _Pane(App[None]):
    def compose(self) -> ComposeResult:
        yield RunLog(OutputFeed(keep=2_000), id="log")


async def test_a_flush_after_an_overflow_writes_only_the_newest_lines() -> None:
    app = _Pane()
    async with app.run_test() as pilot:
        log = app.query_one(RunLog)
        log.add([str(i) for i in range(5_000)])  # 3,000 dropped by the ring, 2,000 waiting
        await pilot.pause(0.2)
        shown = RunLog.FLUSH_MAX_LINES
        assert log.lines[0] == f"… {5_000 - shown:,} lines not shown here (l opens the full log) …"
        assert log.lines[1:] == [str(i) for i in range(5_000 - shown, 5_000)]


async def test_a_burst_that_fits_the_ring_is_shown_whole() -> None:
    app = _Pane()
    async with app.run_test() as pilot:
        log = app.query_one(RunLog)
        log.add([str(i) for i in range(1_500)])
        await pilot.pause(0.2)
        assert log.lines == [str(i) for i in range(1_500)]
