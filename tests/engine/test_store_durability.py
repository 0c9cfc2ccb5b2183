"""kill -9 at any moment leaves the store at "before the append" or "after it": never half, never damaged.

A real child process appends events and is SIGKILLed at a random moment; the parent then opens the store the way the
wizard does and checks the chain, the last committed seq and the replayed state against a plain-Python model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from amxwizard.engine.state import SessionState, replay
from amxwizard.engine.store import EventStore, journal_of, open_store, verify_chain

APPENDER = Path(__file__).resolve().parents[1] / "fixtures" / "store" / "appender.py"


def _load_appender() -> ModuleType:
    spec = importlib.util.spec_from_file_location("store_appender", APPENDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scripted_event = _load_appender().scripted_event


@dataclass
class LogModel:
    """What a log of scripted events must replay to, computed without the engine."""

    last_seq: int = 0
    statuses: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    criteria: dict[str, tuple[bool, str]] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    notes: int = 0

    def advance_to(self, seq: int) -> None:
        for n in range(self.last_seq + 1, seq + 1):
            kind, data = scripted_event(n)
            if kind == "step_started":
                self.statuses[data["step"]] = "running"
            elif kind == "step_finished":
                self.statuses[data["step"]] = data["status"]
            elif kind == "field_answered":
                self.answers[data["field"]] = data["value"]
            elif kind == "criterion_ticked":
                self.criteria[data["criterion"]] = (data["ticked"], data["note"])
            elif kind == "variables_set":
                self.overrides.update(data["values"])
            else:
                self.notes += 1
        self.last_seq = max(self.last_seq, seq)


def summary(state: SessionState) -> dict[str, Any]:
    """The parts of a replayed state the model predicts."""
    return {
        "last_seq": state.last_seq,
        "statuses": {step: step_state.status.value for step, step_state in state.steps.items()},
        "answers": {name: ans.value for name, ans in state.answers.items()},
        "criteria": {name: (tick.ticked, tick.note) for name, tick in state.criteria.items()},
        "overrides": dict(state.overrides),
        "notes": len(state.notes),
    }


def model_summary(model: LogModel) -> dict[str, Any]:
    return {
        "last_seq": model.last_seq,
        "statuses": model.statuses,
        "answers": model.answers,
        "criteria": model.criteria,
        "overrides": model.overrides,
        "notes": model.notes,
    }


def start_appender(db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(APPENDER), str(db), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line != "ready\n":
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"appender did not start: {line!r} {err}")


def kill_and_collect(proc: subprocess.Popen[str]) -> list[int]:
    """SIGKILL the child and return the seqs it reported as committed."""
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.stdout is not None and proc.stderr is not None
    # Read through the same buffered pipe objects wait_ready used: communicate() would skip what they already hold.
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"the appender ended by itself ({proc.returncode}): {err}"
    return [int(line) for line in out.split() if line != "ready"]


def test_the_store_journals_to_a_wal_and_syncs_every_commit(tmp_path: Path) -> None:
    # A kill -9 cannot tell whether commits are fsynced (the page cache survives the process); the settings can.
    store = EventStore(tmp_path / "events.db")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store._db.in_transaction is False  # autocommit mode: every append is its own explicit transaction
    store.append("note", {"text": "one"})
    assert store._db.in_transaction is False
    store.close()


def test_200_kill_9s_never_lose_a_committed_event_or_damage_the_store(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    db = tmp_path / "events.db"
    model = LogModel()
    committed = 0
    for iteration in range(200):
        context = f"iteration {iteration} (seed {seed})"
        proc = start_appender(db)
        if iteration % 5 == 4:
            # Sometimes kill while the child may still be starting or opening the store.
            time.sleep(rng.uniform(0.0, 0.08))
        else:
            wait_ready(proc)
            # A few long runs let the WAL reach SQLite's auto-checkpoint, so some kills land inside one.
            time.sleep(rng.uniform(0.25, 0.4) if iteration % 100 == 99 else rng.uniform(0.0, 0.02))
        reported = kill_and_collect(proc)

        assert reported == list(range(committed + 1, committed + 1 + len(reported))), context
        last_reported = reported[-1] if reported else committed
        store, recovery = open_store(db)
        try:
            assert recovery is None, f"{context}: {recovery}"
            events = store.events()
            assert verify_chain(events) is None, context
            last = events[-1].seq if events else 0
            assert last in (last_reported, last_reported + 1), f"{context}: reported {last_reported}, store has {last}"
            for event in events[committed:]:
                assert (event.kind, event.data) == scripted_event(event.seq), f"{context}: event {event.seq}"
            model.advance_to(last)
            assert summary(replay(events)) == model_summary(model), context
        finally:
            store.close()
        committed = last
    assert committed > 200, "the children hardly appended anything; the test proved little"


def test_torn_wal_after_a_kill_opens_to_a_prefix_of_the_events(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    db = tmp_path / "events.db"
    wal = tmp_path / "events.db-wal"
    for trial in range(12):
        context = f"trial {trial} (seed {seed})"
        proc = start_appender(db)
        wait_ready(proc)
        time.sleep(rng.uniform(0.01, 0.05))
        kill_and_collect(proc)
        assert wal.is_file() and wal.stat().st_size > 0, f"{context}: the kill left no WAL to tear"

        # What the log held before the tear, read from a copy so the original keeps its WAL untouched.
        intact = tmp_path / f"intact-{trial}"
        intact.mkdir()
        for name in ("events.db", "events.db-wal", "events.db-shm"):
            if (tmp_path / name).exists():
                shutil.copy2(tmp_path / name, intact / name)
        reader = EventStore(intact / "events.db")
        before = reader.events()
        reader.close()

        size = wal.stat().st_size
        cut = rng.randrange(0, size)
        with wal.open("r+b") as handle:
            handle.truncate(cut)
        # What SQLite alone still holds after the tear (a copy without the journal beside it).
        torn = tmp_path / f"torn-{trial}"
        torn.mkdir()
        for name in ("events.db", "events.db-wal"):
            shutil.copy2(tmp_path / name, torn / name)
        in_sqlite = len(EventStore(torn / "events.db").events())
        store, recovery = open_store(db)
        try:
            after = store.events()
            assert verify_chain(after) is None, context
            # The journal holds every event the tear took from the WAL: nothing is lost.
            assert after[: len(before)] == before, f"{context}: WAL cut at {cut} of {size}"
            assert len(after) in (len(before), len(before) + 1), context  # +1: the event the kill interrupted
            if len(after) - in_sqlite > 1:
                assert recovery is not None and "WAL" in recovery.problem, f"{context}: {recovery}"
            else:  # no more than the one event a kill can leave in the journal alone: not damage
                assert recovery is None, f"{context}: {recovery}"
            # The next append continues the chain from whatever survived.
            appended = store.append("note", {"text": "after the tear"})
            assert appended.seq == len(after) + 1 and appended.prev == (after[-1].hash if after else "0" * 64)
            assert [e.hash for e in store.events()] == [
                json.loads(x)["hash"] for x in journal_of(db).read_text().splitlines()
            ]
        finally:
            store.close()
