"""A session: one folder holding the event store, run logs, backups and the runbook it was started with.

Layout under the state directory (it, ``sessions/`` and every session folder are private: mode 0700)::

    sessions/<id>/events.db        the event log (the only source of truth)
    sessions/<id>/events.jsonl     the same events, one JSON line each: the second copy (see store)
    sessions/<id>/state.json       a snapshot of the state and the chain hash it covers (a cache: reopening fast)
    sessions/<id>/runbook.yaml     the runbook text the session started with (its sha256 is in the log)
    sessions/<id>/lock             who holds the session (the lock itself is an flock on the session folder)
    sessions/<id>/runs/<run_id>/   one folder per command run (see runner)
    sessions/<id>/backups/         default backup root
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import os
import re
import secrets
import shutil
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from . import events as ev
from .fileio import PRIVATE_FOLDER_MODE, atomic_write, folder_locked, private_folder
from .state import SessionState, dump_snapshot, load_snapshot, replay, snapshot_summary
from .store import (
    CheckedStore,
    Event,
    EventStore,
    Recovery,
    Row,
    StoreError,
    journal_of,
    open_checked,
    read_checked,
    row_event,
)

SNAPSHOT_FILE = "state.json"
SNAPSHOT_EVERY = 500  # events replayed (or recorded) since the last snapshot before a new one is written

if TYPE_CHECKING:
    from ..runbook import RunbookFile


class SessionError(Exception):
    """A session cannot be opened or used; the message is for the person."""


class SessionLocked(SessionError):
    pass


def actor() -> str:
    """``user@host`` of this process, recorded with every event."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class SessionLock:
    """An exclusive, non-blocking flock on the session folder itself; ``<session>/lock`` names the holder.

    The folder is what every wizard must open to use the session, so deleting the ``lock`` file (or any other
    file) admits nobody: the kernel holds the lock until the holder closes it or dies.
    """

    def __init__(self, path: Path) -> None:
        self.path = path  # the file naming the holder; the lock is taken on its folder
        self._fd: int | None = None
        self._dir_fd: int | None = None

    def acquire(self) -> None:
        folder = self.path.parent
        try:
            # Non-inheritable (O_CLOEXEC): commands the wizard starts never hold the lock.
            dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise SessionError(f"cannot lock the session {folder}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(dir_fd)
            try:
                holder = self.path.read_bytes()[:512].decode("utf-8", "replace").split()
            except OSError:
                holder = []
            if len(holder) >= 3:
                raise SessionLocked(f"session is locked by PID {holder[0]} on {holder[1]} since {holder[2]}") from None
            raise SessionLocked("session is locked by another wizard") from None
        except OSError as exc:  # ENOLCK: a file system without locks (NFS without lockd)
            os.close(dir_fd)
            raise SessionError(f"cannot lock the session {folder}: {exc.strerror or exc}") from None
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fd: int | None = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {socket.gethostname()} {since}\n".encode(), 0)
            os.fsync(fd)
        except OSError as exc:
            # A lock that cannot name its holder is not kept: closing the folder drops the flock too.
            if fd is not None:
                os.close(fd)
            os.close(dir_fd)
            raise SessionError(f"cannot lock the session {folder}: {exc.strerror or exc}") from None
        self._fd, self._dir_fd = fd, dir_fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):  # naming no holder is a courtesy; letting go must happen anyway
                os.ftruncate(self._fd, 0)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if self._dir_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._dir_fd, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                os.close(self._dir_fd)
            self._dir_fd = None

    def held_by_another(self) -> bool:
        """Whether another process holds the session now (a look: this lock is not taken)."""
        return folder_locked(self.path.parent)


class _NoLock(SessionLock):
    """For read-only views: never takes the lock."""

    def acquire(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What ``amxwizard sessions`` shows, read without taking the lock."""

    id: str
    dir: Path
    created: str
    updated: str
    runbook_path: str
    runbook_title: str
    target: str
    finished: bool
    steps_done: int
    events: int
    damage: str = ""  # what is wrong with the store ("" when nothing is): the session is still listed and read
    running: tuple[str, ...] = ()  # steps the log shows running (a wizard must settle them)


def sessions_root(state_dir: Path) -> Path:
    return state_dir / "sessions"


# The events that decide what a session listing shows (whose, which target, finished, how many steps done).
_SUMMARY_KINDS = (
    "session_created",
    "variables_set",
    "session_finished",
    "step_started",
    "step_finished",
    "step_skipped",
    "step_reset",
    "command_started",
)


def read_snapshot(folder: Path) -> SessionState | None:
    """The state saved in the session's snapshot, if there is a usable one (its position is checked by the caller)."""
    try:
        raw = (folder / SNAPSHOT_FILE).read_bytes()
    except OSError:
        return None
    return load_snapshot(raw)


def _snapshot_summary(folder: Path) -> SessionState | None:
    """What a listing needs from the snapshot, from its first line alone."""
    try:
        with open(folder / SNAPSHOT_FILE, "rb") as fh:
            line = fh.readline(1 << 20)
    except OSError:
        return None
    return snapshot_summary(line)


def load_state(folder: Path, store: EventStore, rows: list[Row] | None) -> tuple[SessionState, int]:
    """The state a checked store leads to, and how many events had to be replayed for it.

    ``rows`` are the trusted events when they had to be read one by one (a store that was damaged), else ``None``:
    the store holds exactly the events. Either way the snapshot is used when the chain still holds its hash at its
    number, and only the events after it are decoded and replayed.
    """
    snap = read_snapshot(folder)
    if rows is not None:
        if snap is not None and 0 < snap.last_seq <= len(rows) and rows[snap.last_seq - 1][5] == snap.last_hash:
            tail = rows[snap.last_seq :]
            return replay(map(row_event, tail), snap), len(tail)
        return replay(map(row_event, rows)), len(rows)
    if snap is not None and snap.last_seq > 0 and store.hash_at(snap.last_seq) == snap.last_hash:
        tail = store.rows(after=snap.last_seq)
        return replay(map(row_event, tail), snap), len(tail)
    every = store.rows()
    return replay(map(row_event, every)), len(every)


def _summary(folder: Path, *, thorough: bool) -> SessionInfo | None:
    """One session as a listing shows it; ``None`` for a folder that holds no session."""
    db = folder / "events.db"
    if not db.is_file() and not journal_of(db).is_file():
        return None
    damage = ""
    rows: list[Row] | None = None
    if thorough:
        try:
            checked = read_checked(db)
        except StoreError:
            return None  # busy or unreadable for a reason that is not damage: say nothing rather than guess
        damage, rows = checked.problem or "", checked.rows
    state: SessionState | None = None
    if rows is None:
        try:
            store = EventStore(db, readonly=True)
            try:
                snap = _snapshot_summary(folder)
                if snap is not None and store.hash_at(snap.last_seq) == snap.last_hash:
                    state = replay(store.events(after=snap.last_seq, kinds=_SUMMARY_KINDS), snap)
                else:
                    # not every command and answer: this runs at each start
                    state = replay(store.events(kinds=_SUMMARY_KINDS))
                last_seq, _ = store.tail()
                last = store.rows(after=last_seq - 1) if last_seq else []
                updated = last[-1][1] if last else ""
                events = last_seq
            finally:
                store.close()
        except StoreError:
            state = None  # damaged or unreadable: read it through both copies below
            if not thorough:
                try:
                    checked = read_checked(db)
                except StoreError:
                    return None
                damage, rows = checked.problem or "", checked.rows
            if rows is None:
                return None  # SQLite refused it, yet both copies agree: busy; say nothing rather than guess
    if state is None:
        assert rows is not None
        state = replay(map(row_event, rows))
        events = len(rows)
        updated = state.last_ts
    if not events and not damage:
        copies = sorted(folder.glob("events.db.damaged-*"))
        if not copies:
            return None  # a folder with an empty store and no journal: no session was ever recorded in it
        # Rebuilt from nothing: still the session it was, and still damaged (its old store is kept there).
        damage = f"nothing in it could be read; the damaged store is kept at {copies[0]}"
    elif not events:
        damage = f"{damage}; nothing in it can be read"
    running = tuple(k for k, v in state.steps.items() if v.status.value == "running")
    return SessionInfo(
        id=folder.name,
        dir=folder,
        created=state.created,
        updated=updated or state.created,
        runbook_path=state.runbook_path,
        runbook_title=state.runbook_title,
        target=state.target,
        finished=state.finished,
        steps_done=sum(1 for s in state.steps.values() if s.status.done),
        events=events,
        damage=damage,
        running=running,
    )


def list_sessions(state_dir: Path, *, thorough: bool = False) -> list[SessionInfo]:
    """Every session, oldest first, damaged ones included (``damage`` says what is wrong).

    ``thorough`` compares both copies of every store (finds a flipped byte anywhere); without it a listing reads
    each store's snapshot and what came after it, and falls back to both copies only when SQLite cannot read it.
    """
    out: list[SessionInfo] = []
    root = sessions_root(state_dir)
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        if not folder.is_dir():
            continue
        info = _summary(folder, thorough=thorough)
        if info is not None:
            out.append(info)
    # Folder names order by second only; the creation event's microsecond timestamp orders sessions started together.
    out.sort(key=lambda info: (info.created, info.id))
    return out


def runbook_key(runbook: RunbookFile) -> str:
    """How sessions name their runbook: the file's absolute path (or its display name if it has no file)."""
    return str(runbook.path.resolve()) if runbook.path is not None else runbook.display


def _new_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


class Session:
    """An open session: the lock is held, the store checked, the state replayed."""

    def __init__(
        self,
        folder: Path,
        store: EventStore,
        lock: SessionLock,
        runbook: RunbookFile,
        recovery: Recovery | None = None,
        *,
        rows: list[Row] | None = None,
        readonly: bool = False,
        damage: str = "",
    ) -> None:
        self.dir = folder
        self.id = folder.name
        self.store = store
        self.lock = lock
        self.runbook = runbook
        self.recovery = recovery
        self.readonly = readonly
        self.damage = damage  # what a read-only look found wrong with the store (it repairs nothing)
        # The events are read (and checked) once, by whoever opened the store; the snapshot spares replaying them.
        self.state, replayed = load_state(folder, store, rows)
        self._snapshot_seq = self.state.last_seq - replayed
        self.by = actor()
        self._values: dict[str, str] | None = None
        self._listeners: list[Callable[[Event], None]] = []
        # Append, apply and notify as one step, so threads recording at once apply events in log order.
        self._record_lock = threading.RLock()
        if not readonly and replayed >= SNAPSHOT_EVERY:
            self.save_snapshot()

    # -- opening -----------------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        state_dir: Path,
        runbook: RunbookFile,
        overrides: Mapping[str, str] | None = None,
        *,
        session_id: str | None = None,
    ) -> Session:
        """A new session for ``runbook``, with the person's variable overrides recorded.

        ``session_id`` names it (reproducible screenshots and tests); by default it is the time plus a random tag.
        Nothing is left behind when it cannot be made (a full disk): no folder, no half a session.
        """
        from ..runbook.variables import resolve

        resolve(runbook.model, dict(overrides or {}), {})  # a bad value is refused before any folder exists
        if session_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", session_id):
            raise SessionError(f"{session_id!r} cannot name a session (letters, digits, '.', '_', '-')")
        root = sessions_root(state_dir)
        made = [p for p in (state_dir, root) if not p.exists()]
        folder = root / (session_id or _new_id())
        try:
            # Private (0700): logs, backups and answers are the person's (issue 17). Made with that mode, never
            # widened after; a state directory or sessions folder open to others is tightened.
            private_folder(state_dir)
            private_folder(root)
            folder.mkdir(mode=PRIVATE_FOLDER_MODE)
        except OSError as exc:
            _remove_empty(made)
            raise SessionError(f"cannot create a session in {state_dir}: {exc.strerror or exc}") from None
        try:
            (folder / "runs").mkdir()
            atomic_write(folder / "runbook.yaml", runbook.text)
        except OSError as exc:
            _discard(folder, made)
            raise SessionError(f"cannot create the session {folder}: {exc.strerror or exc}") from None
        try:
            session = cls.open(folder, runbook)
        except BaseException:
            _discard(folder, made)
            raise
        try:
            session.record(
                ev.SessionCreated(
                    session_id=session.id,
                    runbook_path=runbook_key(runbook),
                    runbook_sha256=runbook.sha256,
                    runbook_title=runbook.model.title,
                    target=session._target(overrides or {}),
                    host=socket.gethostname(),
                    version=__version__,
                )
            )
        except BaseException:
            session.close()
            _discard(folder, made)  # not one event recorded: nothing of it is worth keeping
            raise
        with session._closed_on_error():
            if overrides:
                session.set_variables(dict(overrides))
        return session

    @classmethod
    def open(cls, folder: Path, runbook: RunbookFile) -> Session:
        """Take the lock on an existing session folder and load it (recovering a damaged store)."""
        if not folder.is_dir():
            raise SessionError(f"no session at {folder}")
        with contextlib.suppress(OSError):
            private_folder(folder)  # a session made by an older version, open to every local user (issue 17)
        lock = SessionLock(folder / "lock")
        lock.acquire()
        try:
            opened = open_checked(folder / "events.db")
        except (StoreError, OSError) as exc:
            lock.release()
            raise SessionError(str(exc)) from None
        try:
            session = cls(folder, opened.store, lock, runbook, opened.recovery, rows=opened.rows)
        except BaseException:
            opened.store.close()
            lock.release()
            raise
        with session._closed_on_error():
            if session.state.last_seq:
                session.record(ev.SessionOpened(pid=os.getpid()))
        return session

    @classmethod
    def peek(cls, folder: Path, runbook: RunbookFile) -> Session:
        """Read a session without taking its lock or writing anything (status, reports): a wizard may be running in
        it. Both copies of the store are compared; what is wrong is in ``damage`` (repaired by the next open)."""
        db = folder / "events.db"
        if not db.is_file() and not journal_of(db).is_file():
            raise SessionError(f"no session at {folder}")
        try:
            checked = read_checked(db)
            store = CheckedStore(db, checked) if checked.rows is not None else EventStore(db, readonly=True)
        except StoreError as exc:
            raise SessionError(str(exc)) from None
        return cls(
            folder,
            store,
            _NoLock(folder / "lock"),
            runbook,
            rows=checked.rows,
            readonly=True,
            damage=checked.problem or "",
        )

    @classmethod
    def resume_or_create(
        cls, state_dir: Path, runbook: RunbookFile, overrides: Mapping[str, str] | None = None, *, new: bool = False
    ) -> Session:
        """The latest unfinished session for this runbook and target, else a new one.

        A damaged session is resumed (and repaired) like any other; one so damaged that nothing in it can be read
        stops a new session from starting in its place unless ``new`` says so.
        """
        if not new:
            latest = latest_session(state_dir, runbook, overrides or {})
            if latest is not None:
                session = cls.open(latest.dir, runbook)
                changed = {k: v for k, v in (overrides or {}).items() if session.state.overrides.get(k) != v}
                if changed:
                    with session._closed_on_error():
                        session.set_variables(changed)
                return session
            unreadable = [i for i in list_sessions(state_dir) if i.damage and not i.events]
            if unreadable:
                info = unreadable[-1]
                raise SessionError(
                    f"session {info.id} is damaged ({info.damage}) and nothing in it can be read; "
                    f"look at {info.dir}, or start another session with --new"
                )
        return cls.create(state_dir, runbook, overrides)

    # -- recording ---------------------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener(event)`` after each event is durable and applied (from the recording thread)."""
        self._listeners.append(listener)

    def record(self, fact: ev.Fact) -> Event:
        """Append an event durably, then apply it to the state. Raises :class:`SessionError` if it cannot be written."""
        if self.readonly:
            raise SessionError("this session is open read-only (another wizard may hold it)")
        data = fact.to_data()
        data.setdefault("by", self.by)
        with self._record_lock:
            try:
                event = self.store.append(fact.KIND, data)
            except StoreError as exc:
                raise SessionError(str(exc)) from None
            self.state.apply(event)
            if isinstance(fact, ev.VariablesSet):
                self._values = None
            for listener in list(self._listeners):
                listener(event)
        return event

    def observe(self, machine: ev.MachineObserved) -> bool:
        """Record the machine the session runs on, when it differs from the last observation; True if recorded."""
        if self.state.machine == machine.to_data():
            return False
        self.record(machine)
        return True

    def accept_setup(self) -> None:
        """Record that the person accepted the variables, with every value as it resolves now."""
        self.record(ev.SetupAccepted(values=dict(self.values())))

    def finish(self) -> None:
        """Mark the session finished at its current chain head."""
        self.record(ev.SessionFinished(last_hash=self.state.last_hash))

    def note(self, text: str) -> None:
        """Record a free-text note."""
        self.record(ev.Note(text=text))

    def set_variables(self, values: Mapping[str, str]) -> None:
        """Check and record a person's variable values (raises ``VariableError`` on a bad one, recording nothing)."""
        from ..runbook.variables import resolve

        merged = {**self.state.overrides, **values}
        resolve(self.runbook.model, merged, self.builtins())  # validates; nothing is recorded if it raises
        target = self._target(merged)
        self.record(ev.VariablesSet(values=dict(values), target=target))

    # -- derived values ----------------------------------------------------------------------------------------

    def builtins(self) -> dict[str, str]:
        return {"session_dir": str(self.dir), "session_id": self.id}

    def values(self) -> dict[str, str]:
        """Every variable's current value (defaults, then the person's overrides) plus the builtins."""
        from ..runbook.variables import resolve

        if self._values is None:
            self._values = resolve(self.runbook.model, self.state.overrides, self.builtins())
        return self._values

    def env(self) -> dict[str, str]:
        """Shell variables steps exported (BACKUP_DIR, ...), for every later command."""
        return dict(self.state.exports)

    def _target(self, overrides: Mapping[str, str]) -> str:
        from ..runbook.templates import render_text
        from ..runbook.variables import resolve

        try:
            values = resolve(self.runbook.model, overrides, self.builtins())
            return render_text(self.runbook.model.workdir, values) if self.runbook.model.workdir else ""
        except Exception:  # a target is only used to match sessions; a bad value is reported elsewhere
            return ""

    @property
    def runs_dir(self) -> Path:
        return self.dir / "runs"

    def save_snapshot(self) -> None:
        """Save the state and the chain position it covers, so the next open replays only what came after.

        A cache: if it cannot be written (a full disk) nothing is lost, the next open replays more.
        """
        if self.readonly:
            return
        with self._record_lock:
            seq = self.state.last_seq
            data = dump_snapshot(self.state)
        try:
            atomic_write(self.dir / SNAPSHOT_FILE, data)
        except OSError:
            return
        self._snapshot_seq = seq

    def close(self) -> None:
        if not self.readonly and self.state.last_seq - self._snapshot_seq >= SNAPSHOT_EVERY:
            self.save_snapshot()
        self.store.close()
        self.lock.release()

    @contextlib.contextmanager
    def _closed_on_error(self) -> Iterator[None]:
        """Close the session (store and lock) if the block fails: a session that could not be opened holds nothing."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def latest_session(state_dir: Path, runbook: RunbookFile, overrides: Mapping[str, str]) -> SessionInfo | None:
    """The newest unfinished session for the same runbook file and target folder."""
    from ..runbook.templates import render_text
    from ..runbook.variables import resolve

    path = runbook_key(runbook)
    try:
        values = resolve(runbook.model, overrides, {})
        target = render_text(runbook.model.workdir, values) if runbook.model.workdir else ""
    except Exception:
        target = ""
    candidates = [
        info
        for info in list_sessions(state_dir)
        if not info.finished and info.runbook_path == path and (not overrides or info.target == target)
    ]
    return candidates[-1] if candidates else None


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this process made (innermost first) if they are still empty."""
    for made in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            made.rmdir()


def _discard(folder: Path, made: list[Path]) -> None:
    """Remove a session folder this process just made and could not finish, and the empty folders above it."""
    with contextlib.suppress(OSError):
        shutil.rmtree(folder)
    _remove_empty(made)
