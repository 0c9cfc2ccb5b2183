"""Runner benchmark: output throughput through the runner versus plain bash, the wizard's memory while a chatty
command runs, how long a durable ``session.record`` takes, and how reopening a session and ``status --json`` grow
with its history (1k / 10k / 100k events)."""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import GOAL_END_NOTICED_MS, Figure, fmt_rate, percentile


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


def _end_noticed(folder: Path, runs: int) -> tuple[list[float], list[float]]:
    """Seconds from the run's wrapper exiting (seen here through a pidfd of our own) to the runner's result, and
    from the command's last moment (bash's clock, written by the command itself) to it; the wrapper's own
    bookkeeping after the command (exit file, exports, the end-of-run hook) is in the second figure only."""
    import select

    from ..engine.runner import CommandRunner, RunSpec

    after_exit, after_command = [], []
    for i in range(runs):
        stamp = folder / f"ended-{i}"
        script = f'sleep 0.05; printf %s "$EPOCHREALTIME" > {stamp}'
        handle = CommandRunner().start(
            RunSpec(run_id=f"end-{i}", run_dir=folder / f"end-{i}", script=script, cwd=folder)
        )
        exited: list[float] = []
        pidfd = os.pidfd_open(handle.started.pid)

        def watch(fd: int = pidfd, exited: list[float] = exited) -> None:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            poller.poll()
            exited.append(time.time())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        result = handle.result()
        noticed = time.time()
        watcher.join()
        os.close(pidfd)
        if result.outcome != "ok":
            raise RuntimeError(f"the benchmark run went wrong: {result.outcome}")
        after_exit.append(max(0.0, noticed - exited[0]))
        after_command.append(noticed - float(stamp.read_text()))
    return after_exit, after_command


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


def _history(folder: Path, events: int) -> Path:
    """A session whose log holds ``events`` events, as a long life of it would: attempts of every step (each a
    start, a command started and finished, a verdict), an answer now and then, reopenings. Built directly (a chain
    of hashed events added in one transaction) rather than recorded one by one, which would take minutes of fsyncs;
    the store and journal end up exactly as recording would leave them. No snapshot is written."""
    from ..engine import events as ev
    from ..engine.session import SNAPSHOT_FILE, Session
    from ..engine.store import canonical_json, event_hash, now_iso
    from ..runbook import bundled_runbook, load_runbook

    runbook = load_runbook(bundled_runbook())
    session = Session.create(folder / "state", runbook, session_id=f"bench-{events}")
    session.accept_setup()
    seq, prev = session.store.tail()
    steps = [step.id for _, step in runbook.model.iter_steps()]
    rows: list[tuple[int, str, str, str, str, str]] = []
    attempt = 0
    while seq < events:
        attempt += 1
        step = steps[attempt % len(steps)]
        run_id = f"{step}-{attempt}-0-bench"
        facts: list[Any] = [
            ev.StepStarted(step=step),
            ev.CommandStarted(
                step=step,
                run_id=run_id,
                index=0,
                script="cmake --build build -j 8",
                cwd="/src/ik_llama.cpp",
                pid=4242,
                proc_start=1,
                boot_id="bench",
                log=f"/nonexistent/{run_id}/output.log",
            ),
            ev.CommandFinished(
                step=step,
                run_id=run_id,
                outcome="ok",
                exit_code=0,
                signal=None,
                ended=now_iso(),
                duration=61.2,
                log_size=0,
                log_sha256="",
            ),
            ev.StepFinished(step=step, status="passed", summary="all commands succeeded"),
            ev.FieldAnswered(step="1.6", field="tensor", value=f"blk.{attempt}.ffn_down_exps.weight"),
            ev.SessionOpened(pid=4242),
        ]
        if seq + len(facts) > events:
            facts = [ev.Note(text=f"note {n}") for n in range(events - seq)]
        for fact in facts:
            seq += 1
            data = {**fact.to_data(), "by": session.by}
            ts = now_iso()
            digest = event_hash(seq, ts, fact.KIND, data, prev)
            rows.append((seq, ts, fact.KIND, canonical_json(data), prev, digest))
            prev = digest
    session.store.extend(rows)
    session.store.close()
    session.lock.release()  # as a killed wizard leaves it: no snapshot written at close
    (session.dir / SNAPSHOT_FILE).unlink(missing_ok=True)
    return session.dir


def _status_json(state: Path, session_id: str) -> str:
    from ..cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["status", "--json", "--state-dir", str(state), "--session", session_id])
    if code not in (0, None):
        raise RuntimeError(f"status --json exited with {code}")
    return out.getvalue()


def _median_seconds(action: Any, times: int) -> float:
    took = []
    for _ in range(times):
        began = time.perf_counter()
        action()
        took.append(time.perf_counter() - began)
    return statistics.median(took)


def _store_growth(folder: Path, sizes: list[int]) -> None:
    """Print reopen and ``status --json`` times for sessions of each size."""
    from ..engine.session import SNAPSHOT_FILE, Session
    from ..runbook import bundled_runbook, load_runbook

    runbook = load_runbook(bundled_runbook())
    amxwizard = str(Path(sys.executable).with_name("amxwizard"))
    for events in sizes:
        home = folder / f"history-{events}"
        home.mkdir()
        session_dir = _history(home, events)
        state = home / "state"

        def reopen(session_dir: Path = session_dir) -> None:
            Session.open(session_dir, runbook).close()

        began = time.perf_counter()
        reopen()  # no snapshot yet: every event is replayed (and the snapshot written)
        cold = time.perf_counter() - began
        warm = _median_seconds(reopen, 3)
        (session_dir / SNAPSHOT_FILE).unlink(missing_ok=True)
        _status_json(state, session_dir.name)  # a reader writes no snapshot: status without one
        status_cold = _median_seconds(lambda state=state, sid=session_dir.name: _status_json(state, sid), 1)
        reopen()
        status_warm = _median_seconds(lambda state=state, sid=session_dir.name: _status_json(state, sid), 3)
        began = time.perf_counter()
        subprocess.run(
            [amxwizard, "status", "--json", "--state-dir", str(state), "--session", session_dir.name],
            capture_output=True,
            check=True,
            env={**os.environ, "AMXWIZARD_NICE": "0"},
        )
        whole = time.perf_counter() - began
        print(
            f"   {events:>7,} events: reopen {warm * 1000:7.0f} ms (without a snapshot {cold * 1000:.0f} ms); "
            f"status --json {status_warm * 1000:6.0f} ms in-process (without a snapshot {status_cold * 1000:.0f} "
            f"ms), {whole * 1000:.0f} ms as a command"
        )


def run(quick: bool = False) -> list[Figure]:
    """Print the runner's throughput ratio, the wizard's peak RSS, how soon a run's end is noticed, the state-write
    latency and how reopening grows; return the figures that have goals."""
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
        ends, whole = _end_noticed(folder, 5 if quick else 20)
        print(
            f"   a run's end noticed ({len(ends)} runs): after its wrapper exits median "
            f"{statistics.median(ends) * 1000:.1f} ms, max {max(ends) * 1000:.1f} ms; after the command's last "
            f"moment (the wrapper's bookkeeping included) median {statistics.median(whole) * 1000:.1f} ms, "
            f"max {max(whole) * 1000:.1f} ms"
        )
        timings = _record_latency(folder, events)
        print(
            f"   session.record x {events:,} (durable, synchronous=FULL, and the journal fsync'd): median "
            f"{statistics.median(timings) * 1000:.2f} ms, p99 {percentile(timings, 0.99) * 1000:.2f} ms, "
            f"max {max(timings) * 1000:.2f} ms"
        )
        print("   reopening a session and status --json, by the size of its history:")
        _store_growth(folder, [1_000, 10_000] if quick else [1_000, 10_000, 100_000])
    return [Figure("step end noticed after the run exits (max)", max(ends) * 1000, "ms", GOAL_END_NOTICED_MS)]
