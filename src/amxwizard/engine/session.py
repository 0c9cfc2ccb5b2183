"""A session: one folder holding the event store, run logs, backups and the runbook it was started with.

Layout under the state directory (it, ``sessions/`` and every session folder are private: mode 0700)::

    sessions/<id>/events.db        the event log (the only source of truth)
    sessions/<id>/runbook.yaml     the runbook text the session started with (its sha256 is in the log)
    sessions/<id>/lock             who holds the session (flock; released by the kernel when the holder dies)
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
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from . import events as ev
from .fileio import PRIVATE_FOLDER_MODE, atomic_write, private_folder
from .state import SessionState, replay
from .store import Event, EventStore, Recovery, StoreError, open_store

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
    """An exclusive, non-blocking flock on ``<session>/lock`` that names its holder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # non-inheritable: children never hold it
        except OSError as exc:
            raise SessionError(f"cannot lock the session {self.path.parent}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").split()
            os.close(fd)
            if len(holder) >= 3:
                raise SessionLocked(f"session is locked by PID {holder[0]} on {holder[1]} since {holder[2]}") from None
            raise SessionLocked("session is locked by another wizard") from None
        except OSError as exc:  # ENOLCK: a file system without locks (NFS without lockd)
            os.close(fd)
            raise SessionError(f"cannot lock the session {self.path.parent}: {exc.strerror or exc}") from None
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {socket.gethostname()} {since}\n".encode(), 0)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)  # drops the flock too: a lock that cannot name its holder is not kept
            raise SessionError(f"cannot lock the session {self.path.parent}: {exc.strerror or exc}") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):  # naming no holder is a courtesy; letting go must happen anyway
                os.ftruncate(self._fd, 0)
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


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
)


def list_sessions(state_dir: Path) -> list[SessionInfo]:
    """Every readable session, oldest first."""
    out: list[SessionInfo] = []
    root = sessions_root(state_dir)
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        db = folder / "events.db"
        if not db.is_file():
            continue
        try:
            store = EventStore(db, readonly=True)
            events = store.events(kinds=_SUMMARY_KINDS)  # not every command and answer: this runs at each start
            last_seq, _ = store.tail()
            last = store.events(after=last_seq - 1) if last_seq else []
            store.close()
        except StoreError:
            continue
        state = replay(events)
        out.append(
            SessionInfo(
                id=folder.name,
                dir=folder,
                created=state.created,
                updated=last[-1].ts if last else state.created,
                runbook_path=state.runbook_path,
                runbook_title=state.runbook_title,
                target=state.target,
                finished=state.finished,
                steps_done=sum(1 for s in state.steps.values() if s.status.done),
                events=last_seq,
            )
        )
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
        self, folder: Path, store: EventStore, lock: SessionLock, runbook: RunbookFile, recovery: Recovery | None = None
    ) -> None:
        self.dir = folder
        self.id = folder.name
        self.store = store
        self.lock = lock
        self.runbook = runbook
        self.recovery = recovery
        self.state: SessionState = replay(store.events())
        self.by = actor()
        self.readonly = False
        self._values: dict[str, str] | None = None
        self._listeners: list[Callable[[Event], None]] = []
        # Append, apply and notify as one step, so threads recording at once apply events in log order.
        self._record_lock = threading.RLock()

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
        """
        from ..runbook.variables import resolve

        resolve(runbook.model, dict(overrides or {}), {})  # a bad value is refused before any folder exists
        if session_id is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", session_id):
            raise SessionError(f"{session_id!r} cannot name a session (letters, digits, '.', '_', '-')")
        folder = sessions_root(state_dir) / (session_id or _new_id())
        try:
            # Private (0700): logs, backups and answers are the person's (issue 17). Made with that mode, never
            # widened after; a state directory or sessions folder open to others is tightened.
            private_folder(state_dir)
            private_folder(sessions_root(state_dir))
            folder.mkdir(mode=PRIVATE_FOLDER_MODE)
            (folder / "runs").mkdir()
            atomic_write(folder / "runbook.yaml", runbook.text)
        except OSError as exc:
            raise SessionError(f"cannot create a session in {state_dir}: {exc.strerror or exc}") from None
        session = cls.open(folder, runbook)
        with session._closed_on_error():
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
            store, recovery = open_store(folder / "events.db")
        except (StoreError, OSError) as exc:
            lock.release()
            raise SessionError(str(exc)) from None
        try:
            session = cls(folder, store, lock, runbook, recovery)
        except BaseException:
            store.close()
            lock.release()
            raise
        with session._closed_on_error():
            if session.state.last_seq:
                session.record(ev.SessionOpened(pid=os.getpid()))
        return session

    @classmethod
    def peek(cls, folder: Path, runbook: RunbookFile) -> Session:
        """Read a session without taking its lock (status, reports): a wizard may be running in it."""
        if not (folder / "events.db").is_file():
            raise SessionError(f"no session at {folder}")
        try:
            store = EventStore(folder / "events.db", readonly=True)
        except StoreError as exc:
            raise SessionError(str(exc)) from None
        session = cls(folder, store, _NoLock(folder / "lock"), runbook)
        session.readonly = True
        return session

    @classmethod
    def resume_or_create(
        cls, state_dir: Path, runbook: RunbookFile, overrides: Mapping[str, str] | None = None, *, new: bool = False
    ) -> Session:
        """The latest unfinished session for this runbook and target, else a new one."""
        if not new:
            latest = latest_session(state_dir, runbook, overrides or {})
            if latest is not None:
                session = cls.open(latest.dir, runbook)
                changed = {k: v for k, v in (overrides or {}).items() if session.state.overrides.get(k) != v}
                if changed:
                    with session._closed_on_error():
                        session.set_variables(changed)
                return session
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

    def close(self) -> None:
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
