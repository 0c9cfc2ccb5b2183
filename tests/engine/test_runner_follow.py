"""The follower's shortcuts for a display that keeps only the newest lines: it skips to the log's end without
decoding what the display would drop, yet hashes every byte; plain callbacks still see every line."""

from __future__ import annotations

import hashlib
from pathlib import Path

from amxwizard.engine.runner import CommandRunner, RunResult, RunSpec, TailOutput

from .test_runner import Collector

LINES = 400_000  # ~2.6 MB of seq: far more than SKIP_BEHIND_BYTES


def _finished_run(tmp_path: Path, script: str) -> tuple[Path, RunResult]:
    run_dir = tmp_path / "runs" / "flood"
    handle = CommandRunner().start(RunSpec(run_id="flood", run_dir=run_dir, script=script, cwd=tmp_path), None)
    result = handle.wait(60)
    assert result is not None and result.outcome == "ok"
    return run_dir, result


def _reattach(run_dir: Path, on_output: object) -> RunResult:
    import json

    who = json.loads((run_dir / "process.json").read_text())
    handle = CommandRunner().reattach(
        run_dir,
        on_output,  # type: ignore[arg-type]
        pid=who["pid"],
        proc_start=who["proc_start"],
        boot_id=who["boot_id"],
        started=who["started"],
    )
    result = handle.wait(60)
    assert result is not None
    return result


def test_a_ring_display_far_behind_gets_the_tail_and_a_count_of_the_rest(tmp_path: Path) -> None:
    run_dir, first = _finished_run(tmp_path, f"seq 1 {LINES}")
    shown = Collector()
    skipped: list[int] = []
    result = _reattach(run_dir, TailOutput(shown, keep=100, on_skip=skipped.append))

    lines = shown.lines
    assert skipped and sum(skipped) > LINES // 2  # most of the log was never decoded
    assert sum(skipped) + len(lines) == LINES  # every line is either shown or counted
    assert lines == [str(n) for n in range(LINES - len(lines) + 1, LINES + 1)]  # the newest, whole and in order
    assert len(lines) >= 100
    log = (run_dir / "output.log").read_bytes()
    assert result.log_sha256 == hashlib.sha256(log).hexdigest() == first.log_sha256
    assert result.log_size == len(log)


def test_a_skip_that_lands_inside_a_line_drops_that_line_whole(tmp_path: Path) -> None:
    # Lines of different lengths, so the skip's cut point falls inside one.
    script = f"for i in $(seq 1 {LINES // 8}); do printf 'line %d %0*d\\n' $i $((i % 37)) 0; done"
    run_dir, _ = _finished_run(tmp_path, script)
    shown = Collector()
    skipped: list[int] = []
    _reattach(run_dir, TailOutput(shown, keep=10, on_skip=skipped.append))
    every = (run_dir / "output.log").read_text().splitlines()
    assert sum(skipped) + len(shown.lines) == len(every)
    assert shown.lines == every[len(every) - len(shown.lines) :]


def test_a_plain_callback_still_sees_every_line_once(tmp_path: Path) -> None:
    run_dir, _ = _finished_run(tmp_path, f"seq 1 {LINES}")
    every = Collector()
    _reattach(run_dir, every)
    assert every.lines == [str(n) for n in range(1, LINES + 1)]
