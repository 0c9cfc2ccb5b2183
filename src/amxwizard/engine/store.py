"""The append-only, hash-chained event log of a session, in SQLite.

Durability: WAL journal, ``synchronous=FULL`` and one ``BEGIN IMMEDIATE`` transaction per event, so after a kill -9
or power loss the log holds either the state before an append or the state after it, never a half.
Each event's hash covers its content and the previous hash, so any edit, deletion, insertion or reordering breaks
the chain at a place :func:`verify_chain` names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq  INTEGER PRIMARY KEY,
    ts   TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""


class StoreError(Exception):
    """The store cannot be read or written; the message says why in plain words.

    ``corrupt`` is true only when SQLite says the file itself is damaged; anything else (busy, disk full, I/O,
    permissions) must never trigger a recovery that rewrites the store.
    """

    def __init__(self, message: str, *, corrupt: bool = False) -> None:
        super().__init__(message)
        self.corrupt = corrupt


def _is_corrupt(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    return StoreError(_explain(exc, path), corrupt=_is_corrupt(exc))


def canonical_json(value: Any) -> str:
    """The one serialisation used for hashing and storing event data."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(seq: int, ts: str, kind: str, data: dict[str, Any], prev: str) -> str:
    """sha256 over the event's content and the previous event's hash."""
    payload = canonical_json({"seq": seq, "ts": ts, "kind": kind, "data": data, "prev": prev})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def now_iso() -> str:
    """UTC time with microseconds, the timestamp of every event."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts: str
    kind: str
    data: dict[str, Any]
    prev: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "data": self.data,
            "prev": self.prev,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(int(d["seq"]), str(d["ts"]), str(d["kind"]), dict(d["data"]), str(d["prev"]), str(d["hash"]))


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """Where a chain of events stops being trustworthy."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.reason}"


def verify_chain(events: Iterable[Event | dict[str, Any]]) -> ChainBreak | None:
    """The first place the chain is broken, or ``None`` if every event links and hashes correctly."""
    prev = GENESIS
    expected_seq = 1
    for item in events:
        ev = item if isinstance(item, Event) else Event.from_dict(item)
        if ev.seq != expected_seq:
            what = "missing" if ev.seq > expected_seq else "out of order or repeated"
            return ChainBreak(ev.seq, f"sequence jumps from {expected_seq - 1} to {ev.seq} (an event is {what})")
        if ev.prev != prev:
            return ChainBreak(ev.seq, "does not link to the event before it (inserted, deleted or reordered)")
        try:
            digest = event_hash(ev.seq, ev.ts, ev.kind, ev.data, ev.prev)
        except (TypeError, ValueError):
            return ChainBreak(ev.seq, "content cannot be serialised")
        if digest != ev.hash:
            return ChainBreak(ev.seq, "content does not match its hash (edited after it was written)")
        prev = ev.hash
        expected_seq += 1
    return None


@dataclass(frozen=True, slots=True)
class Recovery:
    """What opening a damaged store did about it."""

    problem: str
    kept_events: int
    dropped_events: int | None  # None: SQLite could not read the rest, so how many were lost is unknown
    copy: Path

    def __str__(self) -> str:
        dropped = "the rest could not be read" if self.dropped_events is None else f"{self.dropped_events} dropped"
        return (
            f"the session store was damaged ({self.problem}); a copy is at {self.copy}; "
            f"recovered to the last good event ({self.kept_events} kept, {dropped})"
        )


def _explain(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "full" in text:
        return f"cannot write {path}: the disk is full (nothing was half-written; free space and retry)"
    if "readonly" in text or "read-only" in text:
        return f"cannot write {path}: the file system or file is read-only"
    if "locked" in text or "busy" in text:
        return f"{path} is busy (another process is writing it)"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return f"{path} is damaged: {text}"
    return f"{path}: {text}"


def _readonly_uri(path: Path, *, immutable: bool = False) -> str:
    # as_uri() percent-encodes the path: a raw "?", "#" or "%" in a folder name would change what SQLite opens.
    return f"{path.absolute().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"


def _connect_readonly(path: Path) -> sqlite3.Connection:
    # Without a -wal file no wizard has the store open and every event is in the main file: read it as immutable,
    # which creates no -wal or -shm beside it (a look must leave the session folder exactly as it was).
    immutable = not Path(f"{path}-wal").exists()
    db = sqlite3.connect(
        _readonly_uri(path, immutable=immutable), uri=True, isolation_level=None, check_same_thread=False
    )
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorname != "SQLITE_CANTOPEN" or immutable:
            raise
        # On read-only media SQLite cannot create the WAL index of a cleanly closed store; nothing can write there
        # either, so reading the file as immutable is safe and still shows the old state.
        db.close()
        db = sqlite3.connect(
            _readonly_uri(path, immutable=True), uri=True, isolation_level=None, check_same_thread=False
        )
    return db


class EventStore:
    """One session's events. Thread-safe: the UI thread and worker threads may append."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._listeners: list[Callable[[Event], None]] = []
        try:
            if readonly:
                self._db = _connect_readonly(path)
            else:
                self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=5.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise _store_error(exc, path) from None
        self._tail: tuple[int, str] | None = None

    # -- reading -----------------------------------------------------------------------------------------------

    def events(self, after: int = 0, kinds: Collection[str] | None = None) -> list[Event]:
        """All events with ``seq > after`` (only of ``kinds``, if given), in order."""
        query = "SELECT seq, ts, kind, data, prev, hash FROM events WHERE seq > ?"
        args: list[int | str] = [after]
        if kinds is not None:
            query += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args += list(kinds)
        with self._lock:
            try:
                rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None
        out = []
        for seq, ts, kind, data, prev, digest in rows:
            try:
                parsed = json.loads(data)
            except (json.JSONDecodeError, TypeError):
                parsed = {"_unreadable": str(data)[:200]}
            out.append(Event(seq, ts, kind, parsed if isinstance(parsed, dict) else {"_value": parsed}, prev, digest))
        return out

    def tail(self) -> tuple[int, str]:
        """``(last seq, last hash)``; ``(0, GENESIS)`` when empty."""
        with self._lock:
            if self._tail is None:
                row = self._db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                self._tail = (row[0], row[1]) if row else (0, GENESIS)
            return self._tail

    # -- writing -----------------------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` after each durable append (from the appending thread)."""
        self._listeners.append(listener)

    def append(self, kind: str, data: dict[str, Any]) -> Event:
        """Write one event durably; returns it once it is on disk. Raises :class:`StoreError`."""
        try:  # fail early, before any transaction, on data that is not plain JSON or not encodable text
            text = canonical_json(data)
            text.encode("utf-8")
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            raise StoreError(f"cannot record a {kind} event: {exc}") from None
        body = json.loads(text)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                ts = now_iso()
                digest = event_hash(seq, ts, kind, body, prev)
                self._db.execute(
                    "INSERT INTO events (seq, ts, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)",
                    (seq, ts, kind, canonical_json(body), prev, digest),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                self._tail = None
                raise _store_error(exc, self.path) from None
            self._tail = (seq, digest)
        event = Event(seq, ts, kind, body, prev, digest)
        for listener in list(self._listeners):
            listener(event)
        return event

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()

    # -- integrity ---------------------------------------------------------------------------------------------

    def check(self) -> ChainBreak | None:
        """SQLite's own integrity check, then the hash chain."""
        try:
            result = self._db.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.Error as exc:
            if not _is_corrupt(exc):
                raise _store_error(exc, self.path) from None
            return ChainBreak(0, _explain(exc, self.path))
        if not result or result[0] != "ok":
            # SQLite answers with a multi-line report; the person gets its first finding on one line.
            findings = [
                line.strip()
                for line in str(result[0] if result else "no answer").splitlines()
                if line.strip() and not line.startswith("***")
            ]
            more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
            return ChainBreak(0, f"SQLite integrity check failed: {findings[0] if findings else 'no answer'}{more}")
        try:
            return verify_chain(self.events())
        except StoreError as exc:
            if not exc.corrupt:
                raise
            return ChainBreak(0, str(exc))

    def truncate_after(self, seq: int) -> int:
        """Delete events after ``seq``; returns how many were dropped."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                cur = self._db.execute("DELETE FROM events WHERE seq > ?", (seq,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):  # a failed BEGIN leaves nothing to roll back
                    self._db.execute("ROLLBACK")
                raise _store_error(exc, self.path) from None
            self._tail = None
            return cur.rowcount


def open_store(path: Path) -> tuple[EventStore, Recovery | None]:
    """Open (creating if needed) and check a store; a damaged one is copied aside and cut back to its last good event.

    A file SQLite cannot read at all is moved aside whole and a new, empty store is started in its place.
    """
    # Microseconds: two recoveries in the same second must not overwrite each other's evidence.
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
    copy = path.with_name(f"{path.name}.damaged-{stamp}")
    store: EventStore | None = None
    problem: ChainBreak | None
    try:
        store = EventStore(path)
        problem = store.check()
    except StoreError as exc:
        if store is not None:
            store.close()
        if not exc.corrupt:
            raise  # busy, full, read-only, I/O: say so, and leave the file exactly as it is
        problem, store = ChainBreak(0, str(exc)), None
    if problem is None:
        assert store is not None  # "no problem" is only ever found in a store that opened
        return store, None
    if store is not None:
        store.close()
    _copy_aside(path, copy)
    if problem.seq == 0:
        # SQLite itself cannot vouch for the file: salvage what rows can be read, in order, while they chain.
        good = _salvage(copy)
        _rebuild(path, good)
        return EventStore(path), Recovery(problem.reason, len(good), None, copy)
    store = EventStore(path)
    dropped = store.truncate_after(problem.seq - 1)
    # Count what is left rather than trusting seq - 1: a deleted event leaves fewer rows than that before the break.
    return store, Recovery(str(problem), store.tail()[0], dropped, copy)


def _copy_aside(path: Path, copy: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            shutil.copy2(src, Path(f"{copy}{suffix}"))


def _salvage(copy: Path) -> list[Event]:
    good: list[Event] = []
    try:
        db = sqlite3.connect(_readonly_uri(copy), uri=True)
        # Without it SQLite refuses a file shorter than its header says (a truncated store) outright; the
        # connection is read-only, so nothing can be written through the schema.
        db.execute("PRAGMA writable_schema=ON")
    except sqlite3.Error:
        return good
    prev = GENESIS
    try:
        # Row by row, not fetchall(): a damaged page then ends the prefix instead of losing every event.
        for seq, ts, kind, data, prev_hash, digest in db.execute(
            "SELECT seq, ts, kind, data, prev, hash FROM events ORDER BY seq"
        ):
            try:
                ev = Event(seq, ts, kind, json.loads(data), prev_hash, digest)
                intact = event_hash(seq, ts, kind, ev.data, prev_hash) == digest
            except (json.JSONDecodeError, TypeError, ValueError):
                break
            if ev.seq != len(good) + 1 or ev.prev != prev or not intact:
                break
            good.append(ev)
            prev = digest
    except sqlite3.Error:
        pass
    finally:
        db.close()
    return good


def _rebuild(path: Path, events: list[Event]) -> None:
    """Replace the store at ``path`` by one holding ``events``, built beside it and swapped in at once.

    A crash before the swap leaves the damaged file where it was (the next open recovers again from it); a crash
    after leaves the rebuilt one. Never an empty store in place of a history.
    """
    fresh = path.with_name(f"{path.name}.rebuild")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{fresh}{suffix}").unlink(missing_ok=True)
    store = EventStore(fresh)
    try:
        with store._lock:
            store._db.execute("BEGIN IMMEDIATE")
            for ev in events:
                store._db.execute(
                    "INSERT INTO events (seq, ts, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)",
                    (ev.seq, ev.ts, ev.kind, canonical_json(ev.data), ev.prev, ev.hash),
                )
            store._db.execute("COMMIT")
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file before the swap
    except sqlite3.Error as exc:
        raise _store_error(exc, fresh) from None
    finally:
        store.close()
    try:
        with open(fresh, "rb") as fh:
            os.fsync(fh.fileno())
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
            Path(f"{fresh}{suffix}").unlink(missing_ok=True)
        os.replace(fresh, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as exc:
        raise StoreError(f"cannot rebuild {path}: {exc.strerror or exc}") from None
