"""A full disk or a read-only store: one clear error, nothing half-written, the old state still loads."""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.session import Session, SessionError
from amxwizard.engine.state import replay
from amxwizard.engine.store import EventStore, StoreError, open_store, verify_chain
from amxwizard.runbook import RunbookFile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "store"
BIG = "y" * 3000  # a few of these fill a page, so the page limit is reached within a handful of appends


def fill_until_full(append: Callable[[], object], limit: int = 500) -> tuple[int, Exception]:
    """Call ``append()`` until it raises; returns how many succeeded and the error."""
    for done in range(limit):
        try:
            append()
        except (StoreError, SessionError) as exc:
            return done, exc
    raise AssertionError(f"{limit} appends fit under the page limit; the disk never filled")


def cap_pages(store: EventStore) -> None:
    """Let the store's connection grow by no more pages than it has: SQLite then reports SQLITE_FULL."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    assert store._db.execute(f"PRAGMA max_page_count = {pages}").fetchone()[0] == pages


def test_a_full_disk_refuses_the_append_and_keeps_every_earlier_event(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = EventStore(path)
    for n in range(5):
        store.append("note", {"text": f"before {n}"})
    cap_pages(store)

    fitted, error = fill_until_full(lambda: store.append("note", {"text": BIG}))

    message = str(error)
    assert "disk is full" in message and str(path) in message and "\n" not in message
    on_disk = store.events()
    assert len(on_disk) == 5 + fitted
    assert store.tail() == (on_disk[-1].seq, on_disk[-1].hash)
    assert verify_chain(on_disk) is None
    with pytest.raises(StoreError, match="disk is full"):  # still full: still refused, still nothing written
        store.append("note", {"text": BIG})
    assert store.events() == on_disk
    other_reader = EventStore(path, readonly=True)  # what another process sees, past this connection's caches
    assert other_reader.events() == on_disk
    other_reader.close()
    store.close()

    reopened, recovery = open_store(path)
    assert recovery is None
    assert reopened.events() == on_disk
    assert reopened.append("note", {"text": "space again"}).seq == len(on_disk) + 1
    reopened.close()


def test_a_full_disk_leaves_the_session_state_as_it_was(state_dir: Path, runbook_file: RunbookFile) -> None:
    session = Session.create(state_dir, runbook_file, {"threads": "8"})
    session.record(ev.StepStarted(step="1.1"))
    session.record(ev.FieldAnswered(step="1.6", field="tensor", value="blk.1.ffn_down_exps.weight"))
    cap_pages(session.store)
    fill_until_full(lambda: session.record(ev.Note(text=BIG)))
    before = copy.deepcopy(session.state)
    values_before = dict(session.values())

    for attempt in (
        lambda: session.record(ev.StepFinished(step="1.1", status="passed", summary=BIG)),
        lambda: session.record(ev.FieldAnswered(step="1.6", field="tensor", value=BIG)),
        lambda: session.set_variables({"threads": "16", "numa_nodes": BIG}),
    ):
        with pytest.raises(SessionError, match="disk is full") as refused:
            attempt()
        assert "\n" not in str(refused.value)
        assert session.state == before
    assert session.values() == values_before
    assert replay(session.store.events()) == before
    session.close()

    with Session.open(session.dir, runbook_file) as reopened:
        assert reopened.recovery is None
        events = reopened.store.events()
        assert replay(events[:-1]) == before  # everything but the new session_opened
        assert reopened.state.step("1.1").status.value == "running"
        assert reopened.state.answer("tensor") == "blk.1.ffn_down_exps.weight"
        assert reopened.state.overrides == {"threads": "8"}


def test_a_read_only_handle_refuses_to_append_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    writer = EventStore(path)
    written = [writer.append("note", {"text": f"n{n}"}) for n in range(3)]
    writer.close()
    db_before = path.read_bytes()

    reader = EventStore(path, readonly=True)
    assert reader.events() == written
    with pytest.raises(StoreError) as refused:
        reader.append("note", {"text": "sneaky"})
    message = str(refused.value)
    assert "read-only" in message and str(path) in message and "\n" not in message
    assert reader.events() == written
    reader.close()

    assert path.read_bytes() == db_before
    store, recovery = open_store(path)
    assert recovery is None and store.events() == written
    store.close()


def run_in_read_only_mount(mount: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` where ``mount`` is bind-mounted read-only, in a private user and mount namespace.

    As root a chmod stops nothing; a read-only mount does, and an unprivileged user namespace can make one.
    """
    script = f"mount --bind -o ro {shlex.quote(str(mount))} {shlex.quote(str(mount))} && exec " + " ".join(
        shlex.quote(part) for part in command
    )
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_read_only_file_system_refuses_to_open_but_still_shows_the_old_state(
    state_dir: Path, runbook_file: RunbookFile
) -> None:
    assert runbook_file.path is not None
    with Session.create(state_dir, runbook_file) as session:
        session.record(ev.StepStarted(step="1.1"))
        session.record(ev.StepFinished(step="1.1", status="passed", summary=""))
    before = snapshot(state_dir)

    done = run_in_read_only_mount(
        state_dir,
        sys.executable,
        str(FIXTURES / "open_session.py"),
        str(session.dir),
        str(runbook_file.path),
        "--attempts",
        "2",
        "--list",
        str(state_dir),
    )

    assert done.returncode == 0, done.stderr
    listing, *attempts = (json.loads(line) for line in done.stdout.splitlines())
    assert listing == {"listed": [[session.id, 3]], "readonly_events": 3}
    assert len(attempts) == 2
    for attempt in attempts:
        assert attempt.get("type") == "SessionError", attempt
        assert "Read-only file system" in attempt["error"] and str(session.dir) in attempt["error"]
        assert "\n" not in attempt["error"]
    assert snapshot(state_dir) == before


def test_a_read_only_store_file_refuses_the_open_and_frees_the_lock(state_dir: Path, runbook_file: RunbookFile) -> None:
    assert runbook_file.path is not None
    with Session.create(state_dir, runbook_file) as session:
        session.record(ev.StepStarted(step="1.1"))
    db = session.dir / "events.db"
    db_before = db.read_bytes()

    done = run_in_read_only_mount(
        db,
        sys.executable,
        str(FIXTURES / "open_session.py"),
        str(session.dir),
        str(runbook_file.path),
        "--attempts",
        "2",
    )

    assert done.returncode == 0, done.stderr
    attempts = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(attempts) == 2
    for attempt in attempts:
        # The second try must hit the same wall, not a lock the first try forgot to let go of.
        assert attempt.get("type") == "SessionError", attempt
        assert "read-only" in attempt["error"] and str(db) in attempt["error"]
    assert db.read_bytes() == db_before
    with Session.open(session.dir, runbook_file) as writable:
        assert writable.recovery is None
        assert [e.kind for e in writable.store.events()] == ["session_created", "step_started", "session_opened"]
