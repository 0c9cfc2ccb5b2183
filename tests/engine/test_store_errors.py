"""Errors that are not damage must never make the store rewrite itself, and bad text is refused cleanly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from amxwizard.engine import events as ev
from amxwizard.engine.session import Session, SessionError
from amxwizard.engine.store import EventStore, StoreError, open_store, verify_chain


def _store_with_events(path: Path, n: int) -> None:
    store = EventStore(path)
    for i in range(n):
        store.append("note", {"text": f"event {i}"})
    store.close()


def test_a_busy_store_is_an_error_not_a_recovery(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    _store_with_events(path, 5)
    # Another process switched the file back to a rollback journal and holds it exclusively: opening must wait,
    # fail as "busy", and leave every byte where it was.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as caught:
            open_store(path)
        assert not caught.value.corrupt
        assert "busy" in str(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list(tmp_path.glob("events.db.damaged-*"))
    store, recovery = open_store(path)
    assert recovery is None
    events = store.events()
    assert len(events) == 5 and verify_chain(events) is None
    store.close()


def test_garbage_is_still_recovered_as_damage(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    path.write_bytes(b"this is not a database at all" * 100)
    store, recovery = open_store(path)
    assert recovery is not None and recovery.kept_events == 0
    assert "could not be read" in str(recovery)  # how many were lost is unknown, so no number is claimed
    assert list(tmp_path.glob("events.db.damaged-*"))
    store.close()


def test_text_that_cannot_be_encoded_is_refused_without_writing(tmp_path: Path, runbook_file: object) -> None:
    session = Session.create(tmp_path / "state", runbook_file)  # type: ignore[arg-type]
    before = session.state.last_seq
    with pytest.raises(SessionError, match="cannot record a note event"):
        session.record(ev.Note(text="a lone surrogate \udcff from an undecodable path"))
    assert session.state.last_seq == before
    assert len(session.store.events()) == before
    session.record(ev.Note(text="still writable afterwards"))
    assert verify_chain(session.store.events()) is None
    session.close()


def test_a_cut_back_on_a_busy_store_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    _store_with_events(path, 3)
    store = EventStore(path)
    store._db.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer: our BEGIN itself fails, so there is nothing to roll back
    try:
        with pytest.raises(StoreError, match="busy"):
            store.truncate_after(1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(store.events()) == 3
    store.close()


def test_rebuilding_an_unreadable_store_never_leaves_an_empty_one_in_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash while the salvaged events are written back leaves the damaged store (recoverable), not a blank one."""
    from amxwizard.engine import store as store_module

    path = tmp_path / "events.db"
    _store_with_events(path, 30)
    data = bytearray(path.read_bytes())
    data[:16] = b"not sqlite!!!!!!"
    path.write_bytes(bytes(data))

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "replace", crash)  # the swap fails as on a full disk
    with pytest.raises(StoreError, match="cannot rebuild"):
        open_store(path)
    assert path.read_bytes()[:16] == b"not sqlite!!!!!!"  # still the damaged file, nothing lost
    monkeypatch.undo()
    store, recovery = open_store(path)  # and the next open recovers it
    assert recovery is not None
    store.close()
