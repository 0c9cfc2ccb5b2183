"""The append-only, hash-chained event log of a session, kept twice: in SQLite and in a JSON-lines journal.

Durability: WAL journal, ``synchronous=FULL`` and one ``BEGIN IMMEDIATE`` transaction per event, so after a kill -9
or power loss the log holds either the state before an append or the state after it, never a half.
Each event's hash covers its content and the previous hash, so any edit, deletion, insertion or reordering breaks
the chain at a place :func:`verify_chain` names.

Every event is also appended to ``events.jsonl`` beside the store (one canonical JSON object per line, fsync'd)
inside the same append, before the SQLite transaction commits: a damaged ``events.db`` (cut short, a flipped
header or row, a lost WAL) loses nothing that either copy still holds. Opening compares the two copies line for
line (cheap: no hashing while they agree); where they disagree each copy's event is checked against the chain and
the one that checks out is kept. The only disagreement a crash can cause is the journal being one event ahead (the
process died between the two writes); that event is completed silently. Anything else is damage: it is named in
one line, the damaged file is kept aside, and the copy is rebuilt from the events that check out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
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


Row = tuple[int, str, str, str, str, str]
"""An event as stored: ``(seq, ts, kind, data, prev, hash)`` with ``data`` its canonical JSON text."""

JOURNAL_SUFFIX = ".jsonl"
_KIND_RE = re.compile(r"[a-z][a-z0-9_]*")
_SELECT = "SELECT seq, ts, kind, data, prev, hash FROM events"


def journal_of(path: Path) -> Path:
    """The journal kept beside the store at ``path`` (``events.db`` -> ``events.jsonl``)."""
    return path.with_suffix(JOURNAL_SUFFIX)


def journal_line(row: Row) -> str:
    """The journal line of a stored event: exactly ``canonical_json(event.as_dict())`` and a newline.

    Built by formatting, not by serialising: ``data`` is canonical JSON already and the other fields are plain
    ASCII (a kind is ``[a-z0-9_]``, a timestamp ISO 8601, hashes hex), so a whole journal can be compared with the
    store without decoding either.
    """
    seq, ts, kind, data, prev, digest = row
    return f'{{"data":{data},"hash":"{digest}","kind":"{kind}","prev":"{prev}","seq":{seq},"ts":"{ts}"}}\n'


def row_event(row: Row) -> Event:
    """The :class:`Event` of a stored row (data that is not a JSON object is kept readable, never dropped)."""
    seq, ts, kind, data, prev, digest = row
    try:
        parsed = json.loads(data)
    except (json.JSONDecodeError, TypeError):
        parsed = {"_unreadable": str(data)[:200]}
    return Event(seq, ts, kind, parsed if isinstance(parsed, dict) else {"_value": parsed}, prev, digest)


def _fault(row: Row, seq: int, prev: str) -> str | None:
    """Why ``row`` is not a trustworthy event number ``seq`` following the hash ``prev`` (``None`` if it is)."""
    try:
        r_seq, ts, kind, data, r_prev, digest = row
    except (TypeError, ValueError):
        return "is not an event"
    if not isinstance(r_seq, int) or not all(isinstance(v, str) for v in (ts, kind, data, r_prev, digest)):
        return "is not an event (a field has the wrong type)"
    if r_seq != seq:
        return f"carries the number {r_seq}"
    if r_prev != prev:
        return "does not link to the event before it"
    try:
        body = json.loads(data)
        expected = event_hash(seq, ts, kind, body, prev)
    except (json.JSONDecodeError, TypeError, ValueError):
        return "cannot be read"
    if expected != digest:
        return "content does not match its hash"
    return None


def _line_row(line: str) -> Row | None:
    """The row a journal line holds, or ``None`` if the line is not an event."""
    try:
        d = json.loads(line)
        row = (d["seq"], d["ts"], d["kind"], canonical_json(d["data"]), d["prev"], d["hash"])
    except (json.JSONDecodeError, TypeError, ValueError, KeyError):
        return None
    return row if isinstance(d["data"], dict) else None


class _Journal:
    """The journal as read: its complete lines (split only when the copies must be compared line by line)."""

    def __init__(self, raw: bytes, exists: bool, torn: bool, error: str | None = None) -> None:
        self.raw = raw  # the complete lines, each ending in "\n"
        self.exists = exists
        self.torn = torn  # a last line without its newline: written by a process that died mid-write, never committed
        self.size = len(raw)
        self.error = error
        self._lines: list[str] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            parts = self.raw.decode("utf-8", "replace").split("\n")
            self._lines = [p + "\n" for p in parts[:-1]]
        return self._lines

    @property
    def empty(self) -> bool:
        return not self.raw


def _read_journal(path: Path) -> _Journal:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _Journal(b"", False, False)
    except OSError as exc:
        return _Journal(b"", True, False, f"{path.name} cannot be read: {exc.strerror or exc}")
    cut = raw.rfind(b"\n") + 1
    return _Journal(raw[:cut], True, cut < len(raw))


def _chained(rows: list[Row]) -> bool:
    """Whether ``rows`` are events 1..n, each naming the one before it (their hashes are not checked here)."""
    prev = GENESIS
    for number, row in enumerate(rows, 1):
        if row[0] != number or row[4] != prev:
            return False
        prev = row[5]
    return True


def _compare(db_rows: list[Row], journal: _Journal) -> _Merged:
    """Both copies checked against each other: in one comparison when the journal begins with exactly the store's
    rows (the usual case, and the crash window), else event by event."""
    if journal.exists and db_rows and _chained(db_rows):
        text = "".join(map(journal_line, db_rows)).encode("utf-8")
        if journal.raw.startswith(text):
            n = len(db_rows)
            rest = journal.raw[len(text) :].decode("utf-8", "replace").split("\n")[:-1]
            out = _Merged(list(db_rows), n, n, journal_lines=n + len(rest))
            prev = db_rows[-1][5]
            for i, line in enumerate(rest):
                row = _line_row(line + "\n")
                fault = _fault(row, n + i + 1, prev) if row is not None else "cannot be read"
                if row is None or fault is not None:
                    out.journal_fault = f"event {n + i + 1} {fault}"
                    break
                out.rows.append(row)
                out.journal_good += 1
                out.from_journal += 1
                prev = row[5]
            return out
    merged = _merge(db_rows, journal.lines)
    merged.journal_lines = len(journal.lines)
    return merged


def _read_rows(db: sqlite3.Connection, path: Path) -> tuple[list[Row], str | None]:
    """Every row SQLite can read, in order; a damaged page ends the list (and is the second value)."""
    rows: list[Row] = []
    try:
        rows.extend(db.execute(_SELECT + " ORDER BY seq"))  # extend keeps the rows read before an error
    except sqlite3.Error as exc:
        text = str(exc)
        if not (_is_corrupt(exc) or "no such table" in text):
            raise _store_error(exc, path) from None
        return rows, f"{path.name} {'holds no events table' if 'no such table' in text else 'is damaged: ' + text}"
    return rows, None


@dataclass(slots=True)
class _Merged:
    """The chain both copies agree on, or whichever copy checks out where they do not."""

    rows: list[Row]
    db_good: int  # leading store rows that are exactly the trusted events
    journal_good: int  # leading journal lines that are exactly the trusted events
    db_fault: str | None = None  # the first event the store has wrong
    journal_fault: str | None = None
    from_journal: int = 0  # trusted events the store did not have right
    from_db: int = 0  # trusted events the journal did not have right
    journal_lines: int = 0  # complete lines the journal holds


def _merge(db_rows: list[Row], lines: list[str]) -> _Merged:
    trusted: list[Row] = []
    prev = GENESIS
    n_db, n_j = len(db_rows), len(lines)
    db_good = j_good = 0
    db_in_step = j_in_step = True  # each copy still matches the trusted chain from its start
    out = _Merged(trusted, 0, 0)
    k = 0  # the next store row: store rows are matched by their number (a deleted row must not shift the rest)
    i = 0
    while k < n_db or i < n_j:
        seq = i + 1
        while k < n_db and isinstance(db_rows[k][0], int) and db_rows[k][0] < seq:
            k += 1  # a repeated or out-of-order row: never trusted, noted below as a fault of the store
            db_in_step = False
            if out.db_fault is None:
                out.db_fault = f"event {seq - 1} is repeated or out of order"
        r = db_rows[k] if k < n_db and (not isinstance(db_rows[k][0], int) or db_rows[k][0] == seq) else None
        line = lines[i] if i < n_j else None
        if r is not None and line is not None and r[4] == prev and journal_line(r) == line:
            trusted.append(r)  # both copies hold the same event, linked: no need to hash it
            prev = r[5]
            db_good += db_in_step
            j_good += j_in_step
            i += 1
            k += 1
            continue
        r_fault: str | None
        if r is None and k < n_db:
            later = db_rows[k][0]
            r_fault = f"is missing (the store jumps from event {seq - 1} to {later})"
            if out.db_fault is None:
                out.db_fault = f"event {seq} {r_fault}"
        else:
            r_fault = _fault(r, seq, prev) if r is not None else "is missing"
        j_row = _line_row(line) if line is not None else None
        if line is None:
            j_fault: str | None = "is missing"
        else:
            j_fault = _fault(j_row, seq, prev) if j_row is not None else "cannot be read"
        chosen = r if r is not None and r_fault is None else j_row if j_fault is None else None
        if chosen is None:
            if r is not None and out.db_fault is None:
                out.db_fault = f"event {seq} {r_fault}"
            if line is not None and out.journal_fault is None:
                out.journal_fault = f"event {seq} {j_fault}"
            break
        if r is not None and r_fault is None:
            db_good += db_in_step
        else:
            db_in_step = False
            out.from_journal += 1
            if r is not None and out.db_fault is None:
                out.db_fault = f"event {seq} {r_fault}"
        if j_fault is None and j_row == chosen:
            j_good += j_in_step
        else:
            j_in_step = False
            out.from_db += 1
            if line is not None and out.journal_fault is None:
                out.journal_fault = f"event {seq} {j_fault or 'differs from the store'}"
        trusted.append(chosen)
        prev = chosen[5]
        i += 1
        if r is not None:
            k += 1
    out.db_good, out.journal_good = db_good, j_good
    return out


@dataclass(frozen=True, slots=True)
class Recovery:
    """What opening a damaged store did about it: one line for the person (``str()``)."""

    problem: str  # what was wrong, in words
    kept_events: int
    dropped_events: int | None  # seen in a copy but not kept (None: a copy could not be read, so unknown)
    copy: Path  # the damaged file, kept aside (the first, when both copies were damaged)
    copies: tuple[Path, ...] = ()
    restored: int = 0  # events the damaged copy lacked or had wrong, taken from the other copy
    session: str = ""

    def __str__(self) -> str:
        kept = "; ".join(str(c) for c in (self.copies or (self.copy,)))
        restored = f", {self.restored} of them from the other copy" if self.restored else ""
        if self.dropped_events is None:
            lost = "; the rest could not be read, so how many were lost is unknown"
        elif self.dropped_events:
            lost = f"; {self.dropped_events} that did not check out in either copy were dropped"
        else:
            lost = "; nothing was lost"
        who = f"session {self.session}: " if self.session else ""
        return (
            f"{who}the session store was damaged ({self.problem}); the damaged file is kept at {kept}; "
            f"rebuilt with {self.kept_events} events{restored}{lost}"
        )


@dataclass(frozen=True, slots=True)
class Checked:
    """A store read through both copies without changing anything: the trusted events (``None``: exactly what
    SQLite holds, read them from it), and what is wrong."""

    rows: list[Row] | None
    problem: str | None

    def events(self, path: Path) -> list[Event]:
        if self.rows is not None:
            return [row_event(r) for r in self.rows]
        store = EventStore(path, readonly=True)
        try:
            return store.events()
        finally:
            store.close()


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


def _os_error(exc: OSError, path: Path, what: str) -> StoreError:
    if exc.errno == 28:  # ENOSPC
        return StoreError(f"cannot write {path}: the disk is full ({what}; nothing was half-written)")
    if exc.errno == 30:  # EROFS
        return StoreError(f"cannot write {path}: the file system is read-only")
    return StoreError(f"cannot write {path}: {exc.strerror or exc} ({what})")


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


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EventStore:
    """One session's events. Thread-safe: the UI thread and worker threads may append.

    Writable stores also append every event to the journal beside them (``journal=False`` only for tools that
    build a store from scratch and write its journal themselves).
    """

    def __init__(self, path: Path, *, readonly: bool = False, journal: bool = True) -> None:
        self.path = path
        self.journal = journal_of(path)
        self._lock = threading.RLock()
        self._listeners: list[Callable[[Event], None]] = []
        self._journal_fd: int | None = None
        self._journal_size = 0
        try:
            if readonly:
                self._db = _connect_readonly(path)
            else:
                self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=5.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            with contextlib.suppress(AttributeError, sqlite3.Error):
                self._db.close()
            raise _store_error(exc, path) from None
        if not readonly and journal:
            try:
                # Non-inheritable (O_CLOEXEC): a command the wizard starts never holds the journal open.
                self._journal_fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._journal_size = os.fstat(self._journal_fd).st_size
            except OSError as exc:
                self._db.close()
                raise _os_error(exc, self.journal, "the journal could not be opened") from None
        self._tail: tuple[int, str] | None = None

    # -- reading -----------------------------------------------------------------------------------------------

    def events(self, after: int = 0, kinds: Collection[str] | None = None) -> list[Event]:
        """All events with ``seq > after`` (only of ``kinds``, if given), in order."""
        return [row_event(row) for row in self.rows(after, kinds)]

    def rows(self, after: int = 0, kinds: Collection[str] | None = None) -> list[Row]:
        """The stored rows with ``seq > after`` (only of ``kinds``), in order, undecoded."""
        query = _SELECT + " WHERE seq > ?"
        args: list[int | str] = [after]
        if kinds is not None:
            query += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args += list(kinds)
        with self._lock:
            try:
                return self._db.execute(query + " ORDER BY seq", args).fetchall()
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None

    def hash_at(self, seq: int) -> str | None:
        """The hash of event ``seq``, or ``None`` if there is none."""
        with self._lock:
            try:
                row = self._db.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None
        return str(row[0]) if row else None

    def tail(self) -> tuple[int, str]:
        """``(last seq, last hash)``; ``(0, GENESIS)`` when empty."""
        with self._lock:
            if self._tail is None:
                try:
                    row = self._db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                except sqlite3.Error as exc:
                    raise _store_error(exc, self.path) from None
                self._tail = (row[0], row[1]) if row else (0, GENESIS)
            return self._tail

    # -- writing -----------------------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` after each durable append (from the appending thread)."""
        self._listeners.append(listener)

    def append(self, kind: str, data: dict[str, Any]) -> Event:
        """Write one event durably to both copies; returns it once it is on disk. Raises :class:`StoreError`."""
        if not _KIND_RE.fullmatch(kind):
            raise StoreError(f"cannot record an event of kind {kind!r} (lower-case letters, digits and '_')")
        try:  # fail early, before any transaction, on data that is not plain JSON or not encodable text
            text = canonical_json(data)
            text.encode("utf-8")
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            raise StoreError(f"cannot record a {kind} event: {exc}") from None
        body = json.loads(text)
        with self._lock:
            journal_size = self._journal_size
            wrote_journal = False
            try:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                ts = now_iso()
                digest = event_hash(seq, ts, kind, body, prev)
                stored = canonical_json(body)
                self._db.execute(
                    "INSERT INTO events (seq, ts, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)",
                    (seq, ts, kind, stored, prev, digest),
                )
                if self._journal_fd is not None:
                    wrote_journal = True
                    self._write_journal(journal_line((seq, ts, kind, stored, prev, digest)).encode("utf-8"))
                self._db.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                if wrote_journal:
                    self._cut_journal(journal_size)  # the event was refused: the journal must not keep it
                self._tail = None
                if isinstance(exc, OSError):
                    raise _os_error(exc, self.journal, f"the {kind} event was not recorded") from None
                raise _store_error(exc, self.path) from None
            self._tail = (seq, digest)
        event = Event(seq, ts, kind, body, prev, digest)
        for listener in list(self._listeners):
            listener(event)
        return event

    def _write_journal(self, data: bytes) -> None:
        assert self._journal_fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._journal_fd, view)
            view = view[written:]
            self._journal_size += written
        os.fsync(self._journal_fd)

    def _cut_journal(self, size: int) -> None:
        if self._journal_fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._journal_fd, size)
            os.fsync(self._journal_fd)
            self._journal_size = size

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            if self._journal_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._journal_fd)
                self._journal_fd = None

    # -- integrity ---------------------------------------------------------------------------------------------

    def check(self) -> ChainBreak | None:
        """SQLite's own integrity check, then the hash chain (of the SQLite copy alone)."""
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
        """Delete events after ``seq`` (in both copies); returns how many were dropped."""
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
            if self._journal_fd is not None:
                kept = self.rows()
                _write_journal_file(self.journal, kept)
                os.close(self._journal_fd)
                self._journal_fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
                self._journal_size = os.fstat(self._journal_fd).st_size
            return cur.rowcount

    def extend(self, rows: list[Row]) -> None:
        """Append events that are already chained (a history rebuilt elsewhere, a benchmark's) to both copies in one
        transaction. Raises :class:`StoreError` if they do not continue this store's chain."""
        seq, prev = self.tail()
        for row in rows:
            seq += 1
            if row[0] != seq or row[4] != prev:
                raise StoreError(f"cannot add event {row[0]} to {self.path}: it does not continue the chain at {seq}")
            prev = row[5]
        self._insert(rows)
        if self._journal_fd is not None:
            try:
                self._write_journal("".join(journal_line(r) for r in rows).encode("utf-8"))
            except OSError as exc:
                raise _os_error(
                    exc, self.journal, "the events were added to the store but not to its journal"
                ) from None
        self._tail = None

    def _insert(self, rows: list[Row]) -> None:
        """Add events another copy holds (already checked) in one transaction, and to the journal if it lacks them."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO events (seq, ts, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)", rows
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise _store_error(exc, self.path) from None
            self._tail = None


def _write_journal_file(path: Path, rows: list[Row]) -> None:
    """Write a whole journal beside the store: a temp file, fsync'd, renamed over the old one."""
    tmp = path.with_name(f"{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            for start in range(0, len(rows), 4096):
                fh.write("".join(journal_line(r) for r in rows[start : start + 4096]).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _os_error(exc, path, "the journal could not be rewritten") from None


def _repair_journal(path: Path, journal: _Journal, rows: list[Row], good: int) -> None:
    """Bring a journal that is a clean prefix of ``rows`` up to date: cut a torn tail, append what it lacks."""
    missing = rows[good:]
    if not journal.exists:
        _write_journal_file(path, rows)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            if journal.torn:
                os.ftruncate(fd, journal.size)
            if missing:
                os.lseek(fd, journal.size, os.SEEK_SET)
                os.write(fd, "".join(journal_line(r) for r in missing).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _os_error(exc, path, "the journal could not be completed") from None


def _stamp() -> str:
    # Microseconds: two recoveries in the same second must not overwrite each other's evidence.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")


def _copy_aside(path: Path, copy: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            shutil.copy2(src, Path(f"{copy}{suffix}"))


def _salvage(path: Path) -> list[Row]:
    """The rows of a damaged store SQLite will still give, read-only, in order, up to the first unreadable page."""
    rows: list[Row] = []
    try:
        db = sqlite3.connect(_readonly_uri(path), uri=True)
        # Without it SQLite refuses a file shorter than its header says (a truncated store) outright; the
        # connection is read-only, so nothing can be written through the schema.
        db.execute("PRAGMA writable_schema=ON")
    except sqlite3.Error:
        return rows
    try:
        rows.extend(db.execute(_SELECT + " ORDER BY seq"))
    except sqlite3.Error:
        pass
    finally:
        db.close()
    return rows


def _read(path: Path, *, readonly: bool) -> tuple[list[Row], str | None, bool]:
    """The store's rows, what is wrong with the file, and whether there is a file at all."""
    wal = Path(f"{path}-wal")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return [], None, False
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        return [], f"{path.name} is empty (0 bytes)", True
    try:
        db = _connect_readonly(path) if readonly else sqlite3.connect(str(path), timeout=5.0, isolation_level=None)
    except sqlite3.Error as exc:
        if not _is_corrupt(exc):
            raise _store_error(exc, path) from None
        return _salvage(path), f"{path.name} is damaged: {exc}", True
    try:
        rows, problem = _read_rows(db, path)
    finally:
        db.close()
    if problem is not None and "no events table" not in problem:
        salvaged = _salvage(path)
        if len(salvaged) > len(rows):
            rows = salvaged
    elif problem is not None and not wal.exists():
        # The table itself was only ever in the WAL (a store never checkpointed): the WAL is what was lost.
        problem = f"{path.name} holds no events table: the WAL that held its events is missing"
    return rows, problem, True


def _problems(
    db_problem: str | None, merged: _Merged, db_rows: list[Row], journal: _Journal, name: str
) -> tuple[str | None, str | None]:
    """What is wrong with each copy, in words (``None``: nothing worth reporting)."""
    trusted = len(merged.rows)
    db = db_problem
    if db is None and merged.db_fault is not None:
        db = f"{name}: {merged.db_fault}"
    if db is None and merged.db_good == len(db_rows) and trusted - len(db_rows) > 1:
        db = f"{name} ends at event {len(db_rows)} while its journal goes on to {trusted} (its WAL was lost or cut)"
    if db is None and merged.db_good < len(db_rows):
        db = f"{name} holds {len(db_rows) - merged.db_good} events after event {merged.db_good} that do not chain"
    jname = journal_of(Path(name)).name
    jp = journal.error
    if jp is None and journal.exists:
        if merged.journal_fault is not None:
            jp = f"{jname}: {merged.journal_fault}"
        elif merged.journal_good < merged.journal_lines:
            extra = merged.journal_lines - merged.journal_good
            jp = f"{jname} holds {extra} lines after event {merged.journal_good} that do not chain"
        elif merged.journal_good < trusted:
            jp = f"{jname} ends at event {merged.journal_good} while the store goes on to {trusted}"
    return db, jp


# The fast check, done by SQLite in C: the events are numbered 1..n, each names the hash of the one before it, and
# the journal begins with exactly the lines they make. Only when it fails are the rows read one by one (and hashed
# where the copies disagree). group_concat's order follows the ordered subquery in SQLite as it is; were it ever
# not to, the comparison would fail and the slow path would give the same answer, slower.
_LINE_SQL = (
    '\'{"data":\' || data || \',"hash":"\' || hash || \'","kind":"\' || kind || \'","prev":"\' || prev '
    '|| \'","seq":\' || seq || \',"ts":"\' || ts || \'"}\' || char(10)'
)
_JOURNAL_SQL = f"SELECT group_concat(line, '') FROM (SELECT {_LINE_SQL} AS line FROM events ORDER BY seq)"
# Events 1..n (n rows, numbered 1 to n: the numbers are unique), the first after GENESIS, each after the one before.
_CHAIN_SQL = (
    "SELECT (SELECT count(*) FROM events AS a JOIN events AS b ON b.seq = a.seq + 1 WHERE b.prev <> a.hash)"
    " + (SELECT count(*) FROM events WHERE seq = 1 AND prev <> ?)"
)


def _fast_check(path: Path, journal: _Journal, *, readonly: bool) -> tuple[int, list[Row]] | None:
    """``(n, extra)`` when the store's n events chain and the journal holds exactly them, followed by ``extra``
    checked events (the one a kill can leave in the journal alone); ``None`` when that cannot be shown quickly."""
    if not journal.exists or journal.empty:
        return None
    try:
        if path.stat().st_size == 0:
            return None
        db = _connect_readonly(path) if readonly else sqlite3.connect(str(path), timeout=5.0, isolation_level=None)
    except (OSError, sqlite3.Error):
        return None
    try:
        n, first, last = db.execute("SELECT count(*), min(seq), max(seq) FROM events").fetchone()
        if not n or first != 1 or last != n or db.execute(_CHAIN_SQL, (GENESIS,)).fetchone()[0]:
            return None
        text = db.execute(_JOURNAL_SQL).fetchone()[0]
        tail = db.execute("SELECT hash FROM events WHERE seq = ?", (n,)).fetchone()[0]
    except sqlite3.Error as exc:
        if _is_corrupt(exc) or "no such table" in str(exc):
            return None  # damage: the slow path finds and names it
        raise _store_error(exc, path) from None
    finally:
        db.close()
    if not isinstance(text, str):
        return None
    data = text.encode("utf-8")
    if not journal.raw.startswith(data):
        return None
    extra: list[Row] = []
    prev = tail
    for line in journal.raw[len(data) :].decode("utf-8", "replace").split("\n")[:-1]:
        row = _line_row(line + "\n")
        if row is None or _fault(row, n + len(extra) + 1, prev) is not None:
            return None
        extra.append(row)
        prev = row[5]
    return n, extra


def read_checked(path: Path) -> Checked:
    """Read a store through both copies without writing anything (listing, status, reports).

    ``rows`` is ``None`` when the copies agree and SQLite holds every event: read them from the store itself.
    """
    journal = _read_journal(journal_of(path))
    fast = _fast_check(path, journal, readonly=True)
    if fast is not None and not fast[1]:
        return Checked(None, None)
    db_rows, db_problem, _ = _read(path, readonly=True)
    if not journal.exists and db_problem is None:
        return Checked(db_rows, None)  # no second copy to compare with: SQLite's rows as they are
    merged = _compare(db_rows, journal)
    if db_problem is not None and "empty" in db_problem and journal.empty:
        db_problem = None  # a session with nothing in it yet
    db, jp = _problems(db_problem, merged, db_rows, journal, path.name)
    quiet = db is None and jp is None
    problem = None if quiet else "; ".join(p for p in (db, jp) if p)
    return Checked(merged.rows, problem)


@dataclass(frozen=True, slots=True)
class Opened:
    """A store opened for writing: the store, what was repaired, and the trusted events when they had to be read
    one by one (``None``: the store holds exactly them; read what is needed from it)."""

    store: EventStore
    recovery: Recovery | None
    rows: list[Row] | None


def open_checked(path: Path) -> Opened:
    """Open (creating if needed) a store and check it against its journal, repairing either copy from the other.

    Busy, full, read-only or I/O errors raise :class:`StoreError` and leave every file exactly as it was.
    """
    journal_path = journal_of(path)
    journal = _read_journal(journal_path)
    fast = _fast_check(path, journal, readonly=False)
    if fast is not None and len(fast[1]) <= 1:
        # The copies agree; at most the one event a kill can leave in the journal alone is completed, silently.
        if journal.torn:
            _repair_journal(journal_path, journal, [], 0)
        store = EventStore(path)
        if fast[1]:
            try:
                store._insert(fast[1])
            except StoreError:
                store.close()
                raise
        return Opened(store, None, None)
    db_rows, db_problem, has_db = _read(path, readonly=False)
    if db_problem is not None and "empty" in db_problem and journal.empty:
        db_problem = None  # a new store (or one that never got an event): nothing to recover
    # Without a journal (a store from before it, or a new one) the SQLite copy is all there is: its chain is checked
    # the slow way once, and the journal is written from what checks out.
    merged = _compare(db_rows, journal)
    trusted = merged.rows
    db_bad, journal_bad = _problems(db_problem, merged, db_rows, journal, path.name)
    if not journal.exists:
        journal_bad = None  # nothing to keep aside: it is written now
    copies: list[Path] = []
    stamp = _stamp()
    if db_bad is not None and has_db:
        copy = path.with_name(f"{path.name}.damaged-{stamp}")
        try:
            _copy_aside(path, copy)
        except OSError as exc:
            raise StoreError(f"cannot keep the damaged {path} aside: {exc.strerror or exc}") from None
        copies.append(copy)
    if journal_bad is not None and journal.error is None:
        copy = journal_path.with_name(f"{journal_path.name}.damaged-{stamp}")
        try:
            shutil.copy2(journal_path, copy)
        except OSError as exc:
            raise StoreError(f"cannot keep the damaged {journal_path} aside: {exc.strerror or exc}") from None
        copies.append(copy)
    if db_bad is not None:
        _rebuild(path, trusted)
    if journal_bad is not None or merged.journal_good < merged.journal_lines:
        _write_journal_file(journal_path, trusted)
    elif journal.torn or merged.journal_good < len(trusted) or not journal.exists:
        _repair_journal(journal_path, journal, trusted, merged.journal_good)
    store = EventStore(path)
    if db_bad is None and merged.db_good < len(trusted):
        try:
            store._insert(trusted[merged.db_good :])  # the crash window, or a lost WAL: take them from the journal
        except StoreError:
            store.close()
            raise
    recovery = None
    if db_bad is not None or journal_bad is not None:
        seen = max(len(db_rows), merged.journal_lines)
        unknown = db_problem is not None and "damaged" in db_problem and journal.empty
        dropped = None if unknown else max(0, seen - len(trusted))
        recovery = Recovery(
            problem="; ".join(p for p in (db_bad, journal_bad) if p),
            kept_events=len(trusted),
            dropped_events=dropped,
            copy=copies[0] if copies else path,
            copies=tuple(copies),
            restored=merged.from_journal if db_bad is not None else merged.from_db,
            session=path.parent.name,
        )
    return Opened(store, recovery, trusted)


def open_store(path: Path) -> tuple[EventStore, Recovery | None]:
    """Open (creating if needed) and check a store; a damaged copy is kept aside and rebuilt from what checks out."""
    opened = open_checked(path)
    return opened.store, opened.recovery


def _rebuild(path: Path, rows: list[Row]) -> None:
    """Replace the store at ``path`` by one holding ``rows``, built beside it and swapped in at once.

    A crash before the swap leaves the damaged file where it was (the next open recovers again from it); a crash
    after leaves the rebuilt one. Never an empty store in place of a history.
    """
    fresh = path.with_name(f"{path.name}.rebuild")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{fresh}{suffix}").unlink(missing_ok=True)
    store = EventStore(fresh, journal=False)
    try:
        with store._lock:
            store._db.execute("BEGIN IMMEDIATE")
            store._db.executemany(
                "INSERT INTO events (seq, ts, kind, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?)", rows
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
        _fsync_folder(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot rebuild {path}: {exc.strerror or exc}") from None


class CheckedStore(EventStore):
    """A read-only view of a store as :func:`read_checked` found it (both copies compared): what a reader shows
    while a wizard may hold the session, without writing a byte (not even to repair it)."""

    def __init__(self, path: Path, checked: Checked) -> None:
        self.path = path
        self.journal = journal_of(path)
        self._lock = threading.RLock()
        self._listeners = []
        self._journal_fd = None
        self._journal_size = 0
        self._rows = checked.rows or []
        self._tail = (self._rows[-1][0], self._rows[-1][5]) if self._rows else (0, GENESIS)

    def rows(self, after: int = 0, kinds: Collection[str] | None = None) -> list[Row]:
        wanted = set(kinds) if kinds is not None else None
        return [r for r in self._rows[max(0, after) :] if wanted is None or r[2] in wanted]

    def hash_at(self, seq: int) -> str | None:
        return self._rows[seq - 1][5] if 0 < seq <= len(self._rows) else None

    def tail(self) -> tuple[int, str]:
        assert self._tail is not None
        return self._tail

    def append(self, kind: str, data: dict[str, Any]) -> Event:
        raise StoreError(f"cannot write {self.path}: the session is open read-only (another wizard may hold it)")

    def close(self) -> None:
        return None

    def check(self) -> ChainBreak | None:
        return verify_chain(self.events())

    def truncate_after(self, seq: int) -> int:
        raise StoreError(f"cannot write {self.path}: the session is open read-only")
