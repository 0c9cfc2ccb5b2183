"""A damaged store is found at open, named, kept aside byte for byte, and rebuilt from the events that check out.

Every event is kept twice (SQLite and the journal beside it): where one copy is damaged the other fills in, so
nothing is lost. Without the journal (a store from before it, or one deleted too) the store is cut back to its last
good event, as before.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from amxwizard.engine.store import GENESIS, Event, EventStore, journal_of, open_store, verify_chain

EVENTS = 40


def make_store(path: Path, count: int = EVENTS, text_size: int = 60) -> list[Event]:
    """A closed store of ``count`` note events; returns them as written."""
    store = EventStore(path)
    written = [store.append("note", {"text": f"event {n} " + "x" * text_size, "n": n}) for n in range(1, count + 1)]
    store.close()
    return written


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Event]]:
    """A closed 400-event store spanning dozens of pages, written once; tests damage copies of it."""
    path = tmp_path_factory.mktemp("large") / "events.db"
    return path, make_store(path, count=400, text_size=300)


def copy_of(template: tuple[Path, list[Event]], folder: Path) -> tuple[Path, list[Event]]:
    source, written = template
    path = folder / "events.db"
    path.write_bytes(source.read_bytes())
    journal_of(path).write_bytes(journal_of(source).read_bytes())
    return path, written


def tamper(path: Path, *statements: tuple[str, tuple[object, ...]]) -> bytes:
    """Change the store behind the engine's back with plain SQL; returns the damaged file's bytes."""
    db = sqlite3.connect(path)
    with db:
        for sql, params in statements:
            db.execute(sql, params)
    db.close()
    return path.read_bytes()


def damaged_copies(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.glob(f"{path.name}.damaged-*") if not p.name.endswith(("-wal", "-shm")))


def without_journal(path: Path) -> None:
    """Delete the journal: the store alone must then say what it can."""
    journal_of(path).unlink()


def assert_usable(store: EventStore, kept: list[Event]) -> None:
    """The recovered store holds exactly ``kept``, chains, and appends continue the chain."""
    events = store.events()
    assert events == kept
    assert verify_chain(events) is None
    appended = store.append("note", {"text": "after recovery"})
    assert appended.seq == len(kept) + 1
    assert appended.prev == (kept[-1].hash if kept else GENESIS)
    assert verify_chain(store.events()) is None


def test_an_intact_store_opens_without_recovery(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    store, recovery = open_store(path)
    assert recovery is None
    assert store.events() == written
    assert damaged_copies(path) == []
    store.close()


def test_an_event_edited_in_place_is_named_copied_and_restored_from_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    damaged = tamper(path, ("UPDATE events SET data = ? WHERE seq = 17", ('{"n":17,"text":"rewritten later"}',)))

    store, recovery = open_store(path)

    assert recovery is not None
    assert "event 17" in recovery.problem and "hash" in recovery.problem
    assert (recovery.kept_events, recovery.dropped_events, recovery.restored) == (EVENTS, 0, 1)
    [copy] = damaged_copies(path)
    assert recovery.copy == copy
    assert copy.read_bytes() == damaged
    assert str(copy) in str(recovery) and "\n" not in str(recovery) and "nothing was lost" in str(recovery)
    assert_usable(store, written)
    store.close()
    again, second = open_store(path)  # repaired for good: the next open finds nothing wrong
    assert second is None and again.events()[:EVENTS] == written
    again.close()


def test_an_event_edited_in_place_without_a_journal_is_cut_away(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    without_journal(path)
    damaged = tamper(path, ("UPDATE events SET data = ? WHERE seq = 17", ('{"n":17,"text":"rewritten later"}',)))

    store, recovery = open_store(path)

    assert recovery is not None
    assert "event 17" in recovery.problem and "hash" in recovery.problem
    assert (recovery.kept_events, recovery.dropped_events) == (16, EVENTS - 16)
    [copy] = damaged_copies(path)
    assert recovery.copy == copy
    assert copy.read_bytes() == damaged
    assert str(copy) in str(recovery) and "\n" not in str(recovery)
    assert_usable(store, written[:16])
    store.close()


def test_an_event_damaged_in_the_journal_is_restored_from_the_store(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    journal = journal_of(path)
    lines = journal.read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"event 6", b"event 9")
    journal.write_bytes(b"\n".join(lines))
    damaged = journal.read_bytes()

    store, recovery = open_store(path)

    assert recovery is not None and "events.jsonl: event 6" in recovery.problem
    assert (recovery.kept_events, recovery.dropped_events) == (EVENTS, 0)
    [copy] = sorted(tmp_path.glob("events.jsonl.damaged-*"))
    assert copy.read_bytes() == damaged
    assert_usable(store, written)
    store.close()
    assert [json.loads(line)["hash"] for line in journal.read_text().splitlines()] == [
        e.hash for e in EventStore(path, readonly=True).events()
    ]


@pytest.mark.parametrize("journal", [True, False], ids=["with-journal", "store-alone"])
def test_an_edited_timestamp_or_kind_is_caught_too(tmp_path: Path, journal: bool) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    if not journal:
        without_journal(path)
    tamper(
        path,
        ("UPDATE events SET ts = ? WHERE seq = 30", ("2020-01-01T00:00:00.000000+00:00",)),
        ("UPDATE events SET kind = 'session_finished' WHERE seq = 35", ()),
    )
    store, recovery = open_store(path)
    assert recovery is not None and "event 30" in recovery.problem
    assert_usable(store, written if journal else written[:29])
    store.close()


@pytest.mark.parametrize("journal", [True, False], ids=["with-journal", "store-alone"])
def test_a_deleted_middle_event_is_restored_or_cut_back_to_the_gap(tmp_path: Path, journal: bool) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    if not journal:
        without_journal(path)
    damaged = tamper(path, ("DELETE FROM events WHERE seq = 21", ()))

    store, recovery = open_store(path)

    assert recovery is not None
    [copy] = damaged_copies(path)
    assert copy.read_bytes() == damaged
    if journal:
        assert "event 21 is missing" in recovery.problem
        assert (recovery.kept_events, recovery.dropped_events) == (EVENTS, 0)
        assert_usable(store, written)
    else:
        assert "20 to 22" in recovery.problem or "event 22" in recovery.problem
        assert (recovery.kept_events, recovery.dropped_events) == (20, EVENTS - 21)
        assert_usable(store, written[:20])
    store.close()


@pytest.mark.parametrize("journal", [True, False], ids=["with-journal", "store-alone"])
def test_two_swapped_events_break_the_chain_at_the_first_of_them(tmp_path: Path, journal: bool) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    if not journal:
        without_journal(path)
    damaged = tamper(
        path,
        ("UPDATE events SET seq = -1 WHERE seq = 9", ()),
        ("UPDATE events SET seq = 9 WHERE seq = 10", ()),
        ("UPDATE events SET seq = 10 WHERE seq = -1", ()),
    )

    store, recovery = open_store(path)

    assert recovery is not None and "event 9" in recovery.problem
    [copy] = damaged_copies(path)
    assert copy.read_bytes() == damaged
    if journal:
        assert (recovery.kept_events, recovery.dropped_events) == (EVENTS, 0)
        assert_usable(store, written)
    else:
        assert (recovery.kept_events, recovery.dropped_events) == (8, EVENTS - 8)
        assert_usable(store, written[:8])
    store.close()


@pytest.mark.parametrize("journal", [True, False], ids=["with-journal", "store-alone"])
def test_an_inserted_forged_event_is_caught(tmp_path: Path, journal: bool) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    if not journal:
        without_journal(path)
    forged = written[-1]
    tamper(
        path,
        (
            "INSERT INTO events (seq, ts, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)",
            (EVENTS + 1, forged.ts, "session_finished", "{}", forged.hash, "f" * 64),
        ),
    )
    store, recovery = open_store(path)
    assert recovery is not None and f"event {EVENTS + 1}" in recovery.problem
    assert recovery.dropped_events == 1
    assert_usable(store, written)
    store.close()


def test_the_first_event_damaged_without_a_journal_leaves_an_empty_but_usable_store(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    make_store(path)
    without_journal(path)
    tamper(path, ("UPDATE events SET prev = ? WHERE seq = 1", ("1" * 64,)))
    store, recovery = open_store(path)
    assert recovery is not None and "event 1" in recovery.problem
    assert (recovery.kept_events, recovery.dropped_events) == (0, EVENTS)
    assert_usable(store, [])
    store.close()


def test_the_same_event_damaged_in_both_copies_cuts_back_to_the_one_before(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    journal = journal_of(path)
    lines = journal.read_bytes().split(b"\n")
    lines[11] = lines[11].replace(b"event 12", b"event 99")
    journal.write_bytes(b"\n".join(lines))
    tamper(path, ("UPDATE events SET data = '{}' WHERE seq = 12", ()))

    store, recovery = open_store(path)

    assert recovery is not None and "event 12" in recovery.problem
    assert (recovery.kept_events, recovery.dropped_events) == (11, EVENTS - 11)
    assert len(recovery.copies) == 2  # both damaged files are kept aside
    assert_usable(store, written[:11])
    store.close()


def test_each_recovery_keeps_its_own_copy(tmp_path: Path) -> None:
    # Two damages found in quick succession must not overwrite each other's evidence.
    path = tmp_path / "events.db"
    make_store(path)
    first = tamper(path, ("UPDATE events SET data = '{}' WHERE seq = 30", ()))
    store, recovery = open_store(path)
    assert recovery is not None
    store.close()
    second = tamper(path, ("UPDATE events SET data = '{}' WHERE seq = 12", ()))
    store, recovery = open_store(path)
    assert recovery is not None
    store.close()
    copies = damaged_copies(path)
    assert sorted(copy.read_bytes() for copy in copies) == sorted([first, second])


@pytest.mark.parametrize("journal", [True, False], ids=["with-journal", "store-alone"])
@pytest.mark.parametrize("cut_fraction", [0.35, 0.6, 0.9])
def test_a_truncated_file_keeps_every_event_a_copy_still_holds(
    tmp_path: Path, cut_fraction: float, large_store: tuple[Path, list[Event]], journal: bool
) -> None:
    path, written = copy_of(large_store, tmp_path)
    if not journal:
        without_journal(path)
    size = path.stat().st_size
    page = 4096
    cut = int(size * cut_fraction) // page * page + 1234  # mid-page on purpose
    with path.open("r+b") as handle:
        handle.truncate(cut)
    damaged = path.read_bytes()

    store, recovery = open_store(path)

    assert recovery is not None
    assert "\n" not in str(recovery)
    [copy] = damaged_copies(path)
    assert copy.read_bytes() == damaged
    kept = store.events()
    if journal:
        assert kept == written and recovery.kept_events == len(written)
    else:
        assert kept == written[: len(kept)]
        assert recovery.kept_events == len(kept)
        # The rows in pages before the cut are readable, so a real prefix survives, not an empty store.
        assert len(kept) >= 0.2 * len(written) * cut_fraction
    assert_usable(store, kept)
    store.close()


@pytest.mark.parametrize("journal", [True, False], ids=["with-journal", "store-alone"])
def test_garbage_inside_a_page_keeps_what_a_copy_still_holds(
    tmp_path: Path, large_store: tuple[Path, list[Event]], journal: bool
) -> None:
    path, written = copy_of(large_store, tmp_path)
    if not journal:
        without_journal(path)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2 + 100)
        handle.write(random.Random(7).randbytes(3000))
    damaged = path.read_bytes()

    store, recovery = open_store(path)

    assert recovery is not None
    assert "\n" not in str(recovery), "the problem must be one line"
    [copy] = damaged_copies(path)
    assert copy.read_bytes() == damaged
    kept = store.events()
    assert kept == (written if journal else written[: len(kept)])
    assert len(kept) >= 100
    assert_usable(store, kept)
    store.close()


@pytest.mark.parametrize("journal", [True, False], ids=["with-journal", "store-alone"])
@pytest.mark.parametrize("garbage", [b"not a database at all, sorry!!", os.urandom(100)], ids=["text", "random"])
def test_a_header_sqlite_cannot_read_is_kept_aside_and_rebuilt(tmp_path: Path, garbage: bytes, journal: bool) -> None:
    path = tmp_path / "events.db"
    written = make_store(path)
    if not journal:
        without_journal(path)
    with path.open("r+b") as handle:
        handle.write(garbage)
    damaged = path.read_bytes()

    store, recovery = open_store(path)

    assert recovery is not None
    assert "not a database" in recovery.problem
    [copy] = damaged_copies(path)
    assert copy.read_bytes() == damaged
    assert store.events() == (written if journal else [])
    assert_usable(store, store.events())
    store.close()
