"""Runner benchmark: output throughput through the runner versus plain bash, the wizard's memory while a chatty
command runs, and how long a durable ``session.record`` takes."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from . import fmt_rate, percentile


def _rss_kib() -> int:
    """This process's resident set size now (VmRSS of /proc/self/status), in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class _RssSampler:
    """Samples VmRSS every few milliseconds in a thread and keeps the peak."""

    def __init__(self, interval: float = 0.005) -> None:
        self.peak = _rss_kib()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, _rss_kib())

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_kib())


def _plain_bash(folder: Path, lines: int) -> float:
    """Seconds for the same child writing straight to a file with plain bash."""
    import sh

    out = folder / "plain.log"
    began = time.perf_counter()
    sh.bash("-c", f"seq 1 {lines} > {out}", _tty_out=False)
    return time.perf_counter() - began


def _through_runner(folder: Path, lines: int) -> tuple[float, int, int, int]:
    """Seconds from start until the callback saw every line; batches; RSS before and peak (KiB)."""
    from ..engine.runner import CommandRunner, RunSpec

    seen = 0
    batches = 0
    all_seen = threading.Event()

    def count(batch: list[str]) -> None:
        nonlocal seen, batches
        seen += len(batch)
        batches += 1
        if seen >= lines:
            all_seen.set()

    before = _rss_kib()
    with _RssSampler() as sampler:
        began = time.perf_counter()
        handle = CommandRunner().start(
            RunSpec(run_id="bench", run_dir=folder / "run", script=f"seq 1 {lines}", cwd=folder), count
        )
        all_seen.wait()
        elapsed = time.perf_counter() - began
        result = handle.result()
    if result.outcome != "ok" or seen != lines:
        raise RuntimeError(f"the benchmark run went wrong: {result.outcome}, {seen} of {lines} lines")
    return elapsed, batches, before, sampler.peak


def _record_latency(folder: Path, events: int) -> list[float]:
    """Seconds each of ``events`` durable ``session.record`` calls took."""
    from ..engine.session import Session
    from ..runbook import bundled_runbook, load_runbook

    session = Session.create(folder / "state", load_runbook(bundled_runbook()))
    timings = []
    try:
        for i in range(events):
            began = time.perf_counter()
            session.note(f"benchmark event {i}")
            timings.append(time.perf_counter() - began)
    finally:
        session.close()
    return timings


def run(quick: bool = False) -> None:
    """Print the runner's throughput ratio, the wizard's peak RSS and the state-write latency."""
    lines = 100_000 if quick else 1_000_000
    events = 1_000 if quick else 10_000
    with tempfile.TemporaryDirectory(prefix="amxwizard-bench-") as tmp:
        folder = Path(tmp)
        plain = _plain_bash(folder, lines)
        through, batches, before, peak = _through_runner(folder, lines)
        print(
            f"   {lines:,} lines (seq): plain bash > file {plain:.2f} s ({fmt_rate(lines, plain)}); "
            f"through the runner to the callback {through:.2f} s ({fmt_rate(lines, through)}, {batches} batches)"
        )
        print(f"   runner / plain bash throughput: {plain / through:.2f}x")
        print(
            f"   wizard RSS (VmRSS sampled every 5 ms): {before / 1024:.1f} MiB before, "
            f"{peak / 1024:.1f} MiB peak during the run (+{(peak - before) / 1024:.1f} MiB)"
        )
        timings = _record_latency(folder, events)
        print(
            f"   session.record x {events:,} (durable, synchronous=FULL): median "
            f"{statistics.median(timings) * 1000:.2f} ms, p99 {percentile(timings, 0.99) * 1000:.2f} ms, "
            f"max {max(timings) * 1000:.2f} ms"
        )
