"""The benchmark runs (at small size) and prints its table; nothing here judges a timing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from amxwizard.bench import Figure, table


def test_table_names_each_goal_and_the_ratio() -> None:
    text = table([Figure("keys p99", 60.0, "ms", 50), Figure("peak RSS", 45.0, "MiB", 90), Figure("x", 1.0, "x", None)])
    assert re.search(r"keys p99\s+60\.0 ms\s+≤ 50\s+1\.20x MISSED", text)
    assert re.search(r"peak RSS\s+45\.0 MiB\s+≤ 90\s+0\.50x met", text)


@pytest.mark.timeout(240)
def test_quick_feel_benchmark_drives_the_real_app_in_a_terminal_and_prints_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "amxwizard.bench", "--only", "feel", "--quick"],
        capture_output=True,
        text=True,
        timeout=230,
        env={**os.environ, "AMXWIZARD_NICE": "10"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    assert text.startswith("machine: ")
    first = re.search(r"first frame bare Textual (\d+) ms, amxwizard (\d+) ms", text)
    assert first and int(first.group(1)) > 0 and int(first.group(2)) > 0
    # The first frame is the outline; the session's states come once it is open (later than the first frame).
    states = re.search(r"the session open and its states shown at (\d+) ms", text)
    assert states and int(states.group(1)) >= int(first.group(2))
    assert re.search(r"flood: 100,000 lines received and [1-9][\d,]* distinct lines ever drawn", text)
    goals = text.split("== goals", 1)[1]
    for name in ("start: first frame / bare Textual", "keys p99 during a 100,000-line flood", "keys max, ", "peak RSS"):
        row = next(line for line in goals.splitlines() if name in line)
        assert re.search(r"\d+\.\d+x (met|MISSED)", row), row


@pytest.mark.timeout(240)
def test_quick_runner_benchmark_prints_when_a_run_end_is_noticed() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "amxwizard.bench", "--only", "runner", "--quick"],
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r"a run's end noticed \(5 runs\): after its wrapper exits median \d+\.\d ms", out.stdout)
    assert re.search(r"step end noticed after the run exits \(max\)\s+\d+\.\d ms\s+≤ 5", out.stdout)
    assert "status --json" in out.stdout  # the store figures are still there


def test_the_store_section_prints_reopen_and_status_times_per_session_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from amxwizard.bench.runner import _store_growth

    _store_growth(tmp_path, [1_000])
    text = capsys.readouterr().out
    assert re.search(
        r"1,000 events: reopen\s+\d+ ms \(without a snapshot \d+ ms\); status --json\s+\d+ ms in-process "
        r"\(without a snapshot \d+ ms\), \d+ ms as a command",
        text,
    ), text
